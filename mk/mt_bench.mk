# MT-Bench (FastChat's method and file formats): answers → judgments → results.
# Judge keys come only from the environment: OPENAI_API_KEY, or JUDGE_BASE_URL (+ JUDGE_API_KEY)
# for any OpenAI-compatible judge. Output: models/<run>/eval/mt_bench/.
# BASELINE is shared with mk/eval.mk (empty there by default): MT-Bench falls back to its own default.
MT_BENCH_BASELINE ?= mistralai/Mistral-7B-Instruct-v0.2
JUDGE         ?= gpt-4-turbo
MT_BENCH_MODE ?= pairwise-baseline
# FastChat's data/mt_bench folder (default: the pinned download); BENCH_DIR is its deprecated name.
QUESTIONS_DIR ?= $(BENCH_DIR)
MT_BENCH_ARGS ?=
MT_BENCH      := $(BIN)/python -m tunebench.evaluate.mt_bench

.PHONY: eval eval-mt-bench eval-mt-bench-smoke
# `eval` only lists prerequisites, so another stage can add its own (`eval: eval-sql`) next to this one.
eval: eval-mt-bench ## evaluate MODEL (MT-Bench: make eval MODEL=… BASELINE=… JUDGE=…)

eval-mt-bench: setup ## MT-Bench vs BASELINE (hub id|folder|URL) judged by JUDGE; extra `run` flags in MT_BENCH_ARGS
	$(MT_BENCH) run --model_name_or_path $(MODEL) --baseline $(or $(BASELINE),$(MT_BENCH_BASELINE)) --judge $(JUDGE) \
		--mode $(MT_BENCH_MODE) $(if $(QUESTIONS_DIR),--questions_dir $(QUESTIONS_DIR)) $(MT_BENCH_ARGS)

# Never trains: a missing MODEL stops with one line saying how to build it (`make train`).
eval-mt-bench-smoke: setup ## SMOKE RUN of the MT-Bench chain on CPU: MODEL (served) answers and judges itself
	$(MT_BENCH) smoke --model_name_or_path $(MODEL) --baseline $(BASE_MODEL) $(if $(QUESTIONS_DIR),--questions_dir $(QUESTIONS_DIR))

