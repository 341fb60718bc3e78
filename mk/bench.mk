# Benchmarks (bench/): ratios against a baseline measured in the same run; results in bench/results/.
#   make bench                         CPU: tokens/s and time to accuracy vs plain TRL (tiny to 70%, SmolLM2-135M to 80%): bench/results/*.json + summary.md
#   make bench-wheels                  (with network) wheels for an offline GPU machine -> bench/wheels
#   make bench-gpu                     (on the GPU machine) offline install + 7B QLoRA benchmark
BENCH_ARGS ?=
# three repeats give the time-to-accuracy ratios a spread (about an hour each suite on 2 cores; --repeats 1 for a look)
BENCH_TTA_ARGS ?= --repeats 3
BENCH_GPU_ARGS ?=
BENCH_WHEELS ?= bench/wheels
BENCH_PY ?= 3.12
GPU_PYTHON ?= python3
GPU_VENV ?= .venv-gpu
# The other benchmark scripts, run by `make bench` when present. The two that load a model get the
# fine-tuned tiny model when it exists, else the tiny base (speed does not depend on what it learned).
BENCH_MODEL = $(if $(wildcard $(MODEL)/config.json),$(MODEL),$(BASE_MODEL))

.PHONY: bench bench-wheels bench-gpu bench-generation bench-judge-concurrency bench-serve-latency
##@ benchmarks
bench: setup ## CPU benchmarks: tokens/s and time to accuracy vs plain TRL, tiny and SmolLM2 (+ the other bench/ scripts)
	$(BIN)/python -m bench.train_throughput $(BENCH_ARGS)
	$(BIN)/python -m bench.train_throughput --suite smollm2 $(BENCH_ARGS)
	$(BIN)/python -m bench.time_to_accuracy $(BENCH_TTA_ARGS)
	$(BIN)/python -m bench.time_to_accuracy --suite smollm2 $(BENCH_TTA_ARGS)
	@status=0; for s in generation_speed judge_concurrency serve_latency; do \
	  case $$s in judge_concurrency) extra= ;; *) extra="--model $(BENCH_MODEL)" ;; esac; \
	  echo "== python -m bench.$$s $$extra"; $(BIN)/python -m bench.$$s $$extra || { echo "FAILED: bench.$$s" >&2; status=1; }; \
	done; cat bench/results/summary.md; exit $$status

bench-generation: setup ## generation examples/s, batched vs one-at-a-time (bench/results/generation_speed.json)
	$(BIN)/python -m bench.generation_speed --model $(MODEL)

bench-judge-concurrency: setup ## MT-Bench judging wall time, concurrency 1 vs 16 (bench/results/judge_concurrency.json)
	$(BIN)/python -m bench.judge_concurrency

bench-serve-latency: setup ## the app's answer latency over transformers serve (bench/results/serve_latency.json)
	$(BIN)/python -m bench.serve_latency --model $(BENCH_MODEL)

bench-wheels: setup ## download wheels for an offline GPU machine into bench/wheels (CPython 3.12, x86-64)
	$(BIN)/python -m bench.gpu_wheels --dest $(BENCH_WHEELS) --python-version $(BENCH_PY)

bench-gpu: ## offline GPU machine: install bench/wheels, preflight, 7B QLoRA benchmark (~8 min, one H100)
	GPU_PYTHON=$(GPU_PYTHON) GPU_VENV=$(GPU_VENV) BENCH_WHEELS=$(BENCH_WHEELS) bash bench/gpu_env.sh $(BENCH_GPU_ARGS)
