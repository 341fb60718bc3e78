# tunebench evaluation image: MT-Bench (answers + judge) and text-to-SQL execution accuracy.
#
#   docker compose --profile eval build eval          (or: make docker-build)
#   make docker-eval MODEL=models/<run>/merged
#
# CUDA is here only for in-process generation (answers from a model folder, batched on the GPU);
# answers from an OpenAI-compatible server (the compose `tgi`/`vllm` service) and the judge (an API)
# need none. No compiler, no flash-attn: generation uses SDPA. Two stages: the virtualenv is built
# with pip and the build tools, and only the virtualenv is copied into the final image.
# Untried on a GPU here (no Docker engine, no GPU on the machine that wrote it): see docs/docker.md.

ARG CUDA_VERSION=12.9.1
ARG UBUNTU=ubuntu24.04
# The base images are build arguments: the CUDA images by default; a machine without a registry
# builds local ones (`make docker-local-bases`, docs/docker.md) and passes them here.
ARG BUILD_IMAGE=nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}
ARG RUNTIME_IMAGE=nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}

# The sources, gathered in a stage of their own and copied into the build stage as one layer: the
# build stage keeps few layers above its large torch layer (a storage driver that copies whole layers,
# like vfs, copies each of them), and torch stays cached when only the sources change.
FROM ${BUILD_IMAGE} AS source
WORKDIR /src
COPY pyproject.toml README.m[d] ./
COPY tunebench ./tunebench
COPY train ./train
COPY evaluate ./evaluate
COPY serve ./serve


FROM ${BUILD_IMAGE} AS build

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu129
# The torch requirement: the CUDA build by default; the CPU variant takes the CPU index
# (TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu) or a local wheel (TORCH_REQUIREMENT=torch==2.13.0+cpu).
ARG TORCH_REQUIREMENT=torch==${TORCH_VERSION}
ARG TUNEBENCH_EXTRAS=eval
# More requirements beside the extra: the CPU compose override adds "transformers[serving]" so this
# image also runs `transformers serve` (the model server on a machine without a GPU).
ARG EXTRA_REQUIREMENTS=
# LOCAL_PIP_URL (empty by default; only on a machine whose pip needs a private CA bundle, see
# docs/docker.md): a helper on the build host's loopback that serves ca-certificates.crt and local
# wheels. Each pip step fetches the bundle to /tmp, uses it, and deletes it in the same RUN, so it is
# never in a layer; the URL alone is what `docker history` shows.
ARG LOCAL_PIP_URL=

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

# The CUDA build of torch first, pinned by a constraint so the [eval] extra cannot replace it.
# (TORCH_REQUIREMENT is a pinned requirement: torch==TORCH_VERSION unless a build argument names another)
# hadolint ignore=DL3013
RUN if [ -n "${LOCAL_PIP_URL}" ]; then \
      python3 -c "import sys, urllib.request as r; r.urlretrieve(sys.argv[1] + '/ca-certificates.crt', '/tmp/pip-ca.crt')" "${LOCAL_PIP_URL}" \
      && export PIP_CERT=/tmp/pip-ca.crt PIP_FIND_LINKS="${LOCAL_PIP_URL}/"; \
    fi \
 && python3 -m venv /opt/venv \
 && pip install "pip==26.3" \
 && pip install "${TORCH_REQUIREMENT}" --index-url "${TORCH_INDEX_URL}" \
 && echo "torch==${TORCH_VERSION}" > /opt/torch-constraint.txt \
 && rm -f /tmp/pip-ca.crt

COPY --from=source /src /src
WORKDIR /src
# The project itself: its dependencies are the [eval] extra, resolved by tests/docker (pip --dry-run).
# (python -P: do not import the source tree in the working directory instead of the installed package)
# (EXTRA_REQUIREMENTS unquoted on purpose: it is a list of requirements, empty by default)
# hadolint ignore=DL3013,SC2086
RUN if [ -n "${LOCAL_PIP_URL}" ]; then \
      python3 -c "import sys, urllib.request as r; r.urlretrieve(sys.argv[1] + '/ca-certificates.crt', '/tmp/pip-ca.crt')" "${LOCAL_PIP_URL}" \
      && export PIP_CERT=/tmp/pip-ca.crt PIP_FIND_LINKS="${LOCAL_PIP_URL}/"; \
    fi \
 && export PIP_CONSTRAINT=/opt/torch-constraint.txt \
 && pip install ".[${TUNEBENCH_EXTRAS}]" ${EXTRA_REQUIREMENTS} \
 && rm -f /tmp/pip-ca.crt \
 && python -P -c "import torch, transformers, openai, matplotlib, tunebench.evaluate.sql, tunebench.evaluate.mt_bench; print('torch', torch.__version__)"


FROM ${RUNTIME_IMAGE}

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && (userdel --remove ubuntu 2>/dev/null || true) \
 && useradd --create-home --uid 1000 --shell /bin/bash tunebench \
 && mkdir -p /models /data /cache/huggingface /workspace \
 && ln -s /models /workspace/models \
 && ln -s /data /workspace/data \
 && chown -R tunebench:tunebench /models /data /cache /workspace


# /models is the shared models volume: results go to models/<run>/eval/{sql,mt_bench}.
# XDG_CACHE_HOME puts the pinned MT-Bench download on the cache volume with the HF cache.
# (DL3064 flags TOKENIZERS_PARALLELISM for the word TOKEN: it holds no secret.)
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    TUNEBENCH_MODELS=/models \
    TUNEBENCH_DATA=/data \
    HF_HOME=/cache/huggingface \
    XDG_CACHE_HOME=/cache \
    HF_HUB_DISABLE_TELEMETRY=1 \
    TOKENIZERS_PARALLELISM=false \
    MPLBACKEND=Agg

USER 1000:1000
WORKDIR /workspace
# A one-off job, not a server: healthy when its environment imports and the volumes are writable.
HEALTHCHECK --interval=30s --timeout=20s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, tunebench.evaluate.sql, tunebench.evaluate.mt_bench; assert os.access('/models', os.W_OK) and os.access('/data', os.W_OK)"]
CMD ["python", "-m", "tunebench.evaluate.mt_bench", "--help"]

# The environment last: the steps above are then cheap on a storage driver that copies layers (vfs).
COPY --from=build /opt/venv /opt/venv
