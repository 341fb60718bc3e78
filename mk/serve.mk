# Serving: the Gradio text-to-SQL app over a model folder (in process), `transformers serve` (this
# machine), TGI, vLLM, SGLang or any OpenAI-compatible server. Included by the Makefile (it sets BIN,
# MODEL and `setup`).

SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 7860
# `make serve`'s model server on 127.0.0.1 (0: a free port, printed at start)
MODEL_PORT ?= 0
# `make serve-load`: callers asking the running app at once
CALLERS ?= 50
DEMO_SERVE ?= 1
# For `make serve-app`: the model as one spec, e.g. an already running server (see docs/serve.md)
SERVE_MODEL ?= http://127.0.0.1:8000/v1
CHROMIUM    ?= /usr/bin/chromium

.PHONY: serve serve-app serve-load demo-serve browser-deps

serve: setup ## serve a model locally: transformers serve (supervised) + the Gradio app; make serve [MODEL=models/<run>/merged] [SERVE_PORT=7860] [MODEL_PORT=8000]
	$(BIN)/python -m tunebench.serve --model $(MODEL) --launch-local --host $(SERVE_HOST) --port $(SERVE_PORT) --model-port $(MODEL_PORT)

serve-app: setup ## only the app, over any model spec: make serve-app SERVE_MODEL=http://127.0.0.1:8080/v1#<run> (or a folder)
	$(BIN)/python -m tunebench.serve --model '$(SERVE_MODEL)' --host $(SERVE_HOST) --port $(SERVE_PORT)

serve-load: setup ## N callers ask the running app at once (loopback): answers, "busy", p50/p95; make serve-load [CALLERS=50]
	$(BIN)/python -m tests.serve.load --url http://127.0.0.1:$(SERVE_PORT)/ --callers $(CALLERS) --out artifacts/serve/load.json

# The last step of `make demo` and `make demo-tiny`; DEMO_SERVE=0 stops before serving (scripts, CI).
demo-serve:
ifeq ($(DEMO_SERVE),0)
	@echo "DEMO_SERVE=0: not serving. Serve it with: make serve MODEL=$(MODEL)"
else
	@$(MAKE) --no-print-directory serve MODEL=$(MODEL) SERVE_HOST=$(SERVE_HOST) SERVE_PORT=$(SERVE_PORT)
endif

# The browser tests drive Debian's chromium through Playwright (never `playwright install`). It is
# installed only where installing system packages needs no password: as root (CI, containers).
# Elsewhere nothing is installed (never through sudo) and the browser tests skip, saying why.
browser-deps: ## install chromium for the browser tests when missing (as root only)
	@if command -v chromium >/dev/null 2>&1 || test -x $(CHROMIUM); then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	else echo "browser-deps: not root, chromium not installed: the browser tests will be skipped (sudo apt-get install chromium to run them)"; fi

TEST_DEPS += browser-deps
