# Serving: the Gradio text-to-SQL app over `transformers serve` (this machine), TGI or any
# OpenAI-compatible server. Included by the Makefile (it sets BIN, MODEL and `setup`).

SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 7860
DEMO_SERVE ?= 1
# For `make serve-app`: an already running server (see docs/serve.md)
BACKEND     ?= openai
BACKEND_URL ?= http://127.0.0.1:8000/v1
CHROMIUM    ?= /usr/bin/chromium
# apt-get needs root; elsewhere try sudo.
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

.PHONY: serve serve-app demo-serve browser-deps

serve: setup ## serve a model locally: transformers serve + the Gradio app; make serve [MODEL=models/<run>/merged] [SERVE_PORT=7860]
	$(BIN)/python -m tunebench.serve --launch-local $(MODEL) --host $(SERVE_HOST) --port $(SERVE_PORT)

serve-app: setup ## only the app, over a running server: make serve-app BACKEND=tgi BACKEND_URL=http://127.0.0.1:8080 [MODEL=...]
	$(BIN)/python -m tunebench.serve --backend $(BACKEND) --url $(BACKEND_URL) --model $(MODEL) \
		--host $(SERVE_HOST) --port $(SERVE_PORT)

# The last step of `make demo`; DEMO_SERVE=0 stops before serving (scripts, CI).
demo-serve:
ifeq ($(DEMO_SERVE),0)
	@echo "DEMO_SERVE=0: not serving. Serve it with: make serve MODEL=$(MODEL)"
else
	@$(MAKE) --no-print-directory serve MODEL=$(MODEL) SERVE_HOST=$(SERVE_HOST) SERVE_PORT=$(SERVE_PORT)
endif

# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
browser-deps: ## install chromium for the browser tests when missing
	@command -v chromium >/dev/null 2>&1 || test -x $(CHROMIUM) || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

TEST_DEPS += browser-deps
