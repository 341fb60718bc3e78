# tunebench demo front end: the Gradio text-to-SQL app alone. No torch, no CUDA: the model runs in
# the `tgi` (or `vllm`, `sglang`) service and the app talks to it over HTTP (TUNEBENCH_MODEL, a URL).
#
#   docker compose build app                           (or: make docker-build)
#   docker compose up                                  (the demo: tgi + app on http://localhost:7860)
#
# The [serve] extra is gradio, openai and huggingface_hub on top of tunebench's base (pyyaml, tqdm,
# sqlglot); tests/docker resolves it and asserts that torch is not in it, and this build fails if
# torch or transformers ever end up installed. A model folder loaded in process needs them: that is
# not available in this image (tunebench.chat imports them only for a folder or hub id).

# The base image is a build argument: python's official image by default; a machine without a
# registry builds a local one (`make docker-local-bases`, docs/docker.md) and passes it here.
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

# The sources, gathered in a stage of their own and copied into the build stage as one layer: the
# build stage keeps few layers above its large torch layer (a storage driver that copies whole layers,
# like vfs, copies each of them), and torch stays cached when only the sources change.
FROM ${PYTHON_IMAGE} AS source
WORKDIR /src
COPY pyproject.toml README.m[d] ./
COPY tunebench ./tunebench
COPY train ./train
COPY evaluate ./evaluate
COPY serve ./serve


FROM ${PYTHON_IMAGE} AS build

ARG TUNEBENCH_EXTRAS=serve
# LOCAL_PIP_URL (empty by default; only on a machine whose pip needs a private CA bundle, see
# docs/docker.md): a helper on the build host's loopback that serves ca-certificates.crt and local
# wheels. Each pip step fetches the bundle to /tmp, uses it, and deletes it in the same RUN, so it is
# never in a layer; the URL alone is what `docker history` shows.
ARG LOCAL_PIP_URL=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

COPY --from=source /src /src
WORKDIR /src
# The project itself: its dependencies are the [serve] extra, resolved by tests/docker (pip --dry-run).
# (python -P: do not import the source tree in the working directory instead of the installed package)
# hadolint ignore=DL3013
RUN if [ -n "${LOCAL_PIP_URL}" ]; then \
      python -c "import sys, urllib.request as r; r.urlretrieve(sys.argv[1] + '/ca-certificates.crt', '/tmp/pip-ca.crt')" "${LOCAL_PIP_URL}" \
      && export PIP_CERT=/tmp/pip-ca.crt PIP_FIND_LINKS="${LOCAL_PIP_URL}/"; \
    fi \
 && python -m venv /opt/venv \
 && pip install "pip==26.3" \
 && pip install ".[${TUNEBENCH_EXTRAS}]" \
 && rm -f /tmp/pip-ca.crt \
 && python -P -c "import importlib.util as u, sys; heavy = [m for m in ('torch', 'transformers') if u.find_spec(m)]; sys.exit(f'the serve image must stay slim, found {heavy}' if heavy else 0)" \
 && python -P -c "import gradio, openai, huggingface_hub, tunebench.serve.app"


FROM ${PYTHON_IMAGE}

RUN useradd --create-home --uid 1000 --shell /bin/bash tunebench \
 && mkdir -p /models /data \
 && chown tunebench:tunebench /models /data


# The app listens on every interface inside its container (compose publishes port 7860); it builds
# the sample SQLite databases into /data/text2sql on first start when the data volume is empty.
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    TUNEBENCH_MODELS=/models \
    TUNEBENCH_DATA=/data \
    TUNEBENCH_HOST=0.0.0.0 \
    TUNEBENCH_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_DISABLE_TELEMETRY=1

USER 1000:1000
WORKDIR /home/tunebench
EXPOSE 7860
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('TUNEBENCH_PORT', '7860')}/\", timeout=4)"]
CMD ["python", "-m", "tunebench.serve"]

# The environment last: the steps above are then cheap on a storage driver that copies layers (vfs).
COPY --from=build /opt/venv /opt/venv
