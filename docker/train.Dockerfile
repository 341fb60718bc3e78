# tunebench training image: TRL SFT + QLoRA (bitsandbytes) + FlashAttention-2 + DeepSpeed, on CUDA.
#
#   docker compose --profile train build train        (or: make docker-build)
#   make docker-train RECIPE=recipes/codellama-7b-text-to-sql.yaml
#
# Two stages: `build` has the CUDA compiler (nvcc) that flash-attn's source build needs; the final
# image starts from the much smaller CUDA runtime image and receives only the finished virtualenv.
# The torch wheel brings its own CUDA libraries (cuBLAS, cuDNN, NCCL): the base image supplies the
# driver hooks for the NVIDIA container toolkit, and nvcc for the flash-attn build.
#
# Pins that must move together (flash-attn is compiled against exactly this torch and CUDA):
#   CUDA_VERSION 12.9.1  <->  TORCH_INDEX_URL .../whl/cu129  <->  TORCH_VERSION 2.13.0
# A bare `pip install torch==2.13.0` from PyPI is the CUDA 13.0 build (driver >= 580); for that,
# build with --build-arg CUDA_VERSION=13.0.1 --build-arg TORCH_INDEX_URL=https://pypi.org/simple.
# Untried on a GPU here (no Docker engine, no GPU on the machine that wrote it): see docs/docker.md.

ARG CUDA_VERSION=12.9.1
ARG UBUNTU=ubuntu24.04
# The base images are build arguments: the CUDA images by default; a machine without a registry
# builds local ones (`make docker-local-bases`, docs/docker.md) and passes them here.
ARG BUILD_IMAGE=nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU}
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
ARG FLASH_ATTN_VERSION=2.8.3.post2
ARG DEEPSPEED_VERSION=0.19.8
ARG TUNEBENCH_EXTRAS=train
# Compile flash-attn for Ampere (A100, sm80) and Hopper (H100, sm90) only: each architecture adds
# many minutes to the build. Add 100;120 for Blackwell. MAX_JOBS bounds the build's RAM (~4 GB/job).
ARG FLASH_ATTN_CUDA_ARCHS="80;90"
ARG MAX_JOBS=8
ARG INSTALL_FLASH_ATTN=1
# DeepSpeed (ZeRO-3) is for multi-GPU runs: the CPU variant leaves it out (INSTALL_DEEPSPEED=0).
ARG INSTALL_DEEPSPEED=1
# The torch requirement: the CUDA build by default; the CPU variant takes the CPU index
# (TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu) or a local wheel (TORCH_REQUIREMENT=torch==2.13.0+cpu).
ARG TORCH_REQUIREMENT=torch==${TORCH_VERSION}
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
 && apt-get install -y --no-install-recommends python3 python3-dev python3-venv build-essential git \
 && rm -rf /var/lib/apt/lists/*

RUN if [ -n "${LOCAL_PIP_URL}" ]; then \
      python3 -c "import sys, urllib.request as r; r.urlretrieve(sys.argv[1] + '/ca-certificates.crt', '/tmp/pip-ca.crt')" "${LOCAL_PIP_URL}" \
      && export PIP_CERT=/tmp/pip-ca.crt PIP_FIND_LINKS="${LOCAL_PIP_URL}/"; \
    fi \
 && python3 -m venv /opt/venv \
 && pip install "pip==26.3" "setuptools==80.9.0" "wheel==0.45.1" "packaging==25.0" "ninja==1.13.0" "psutil==7.2.2" \
 && rm -f /tmp/pip-ca.crt

# The CUDA build of torch, from the PyTorch index for this CUDA version; the constraint keeps every
# later install from replacing it (a bare "torch" requirement would pull another CUDA build).
# (TORCH_REQUIREMENT is a pinned requirement: torch==TORCH_VERSION unless a build argument names another)
# hadolint ignore=DL3013
RUN if [ -n "${LOCAL_PIP_URL}" ]; then \
      python3 -c "import sys, urllib.request as r; r.urlretrieve(sys.argv[1] + '/ca-certificates.crt', '/tmp/pip-ca.crt')" "${LOCAL_PIP_URL}" \
      && export PIP_CERT=/tmp/pip-ca.crt PIP_FIND_LINKS="${LOCAL_PIP_URL}/"; \
    fi \
 && pip install "${TORCH_REQUIREMENT}" --index-url "${TORCH_INDEX_URL}" \
 && echo "torch==${TORCH_VERSION}" > /opt/torch-constraint.txt \
 && rm -f /tmp/pip-ca.crt

# flash-attn the way its README says: `pip install flash-attn --no-build-isolation`, so it compiles
# against the torch installed above. Its setup.py first looks for a matching prebuilt wheel
# (torch/CUDA/Python/C++-ABI) and compiles from source when there is none. INSTALL_FLASH_ATTN=0 skips
# it: recipes say `attn_implementation: auto`, which falls back to SDPA without flash-attn.
RUN if [ "${INSTALL_FLASH_ATTN}" = "1" ]; then \
      FLASH_ATTN_CUDA_ARCHS="${FLASH_ATTN_CUDA_ARCHS}" MAX_JOBS="${MAX_JOBS}" \
        PIP_CONSTRAINT=/opt/torch-constraint.txt pip install --no-build-isolation "flash-attn==${FLASH_ATTN_VERSION}"; \
    fi

# DeepSpeed for recipes/accelerate/zero3.yaml (ops are JIT-compiled on first use; ZeRO-3 without
# offload needs none of them).
COPY --from=source /src /src
WORKDIR /src
# The project itself: its dependencies are the [train] extra, resolved by tests/docker (pip --dry-run).
# The check imports only what imports without a GPU (there is none at build time); the CUDA
# extensions (flash-attn, bitsandbytes, DeepSpeed) are listed by their installed versions.
# (python -P: do not import the source tree in the working directory instead of the installed package)
# hadolint ignore=DL3013
RUN if [ -n "${LOCAL_PIP_URL}" ]; then \
      python3 -c "import sys, urllib.request as r; r.urlretrieve(sys.argv[1] + '/ca-certificates.crt', '/tmp/pip-ca.crt')" "${LOCAL_PIP_URL}" \
      && export PIP_CERT=/tmp/pip-ca.crt PIP_FIND_LINKS="${LOCAL_PIP_URL}/"; \
    fi \
 && deepspeed="" \
 && if [ "${INSTALL_DEEPSPEED}" = "1" ]; then deepspeed="deepspeed==${DEEPSPEED_VERSION}"; fi \
 && export PIP_CONSTRAINT=/opt/torch-constraint.txt \
 && pip install ".[${TUNEBENCH_EXTRAS}]" ${deepspeed:+"$deepspeed"} \
 && rm -f /tmp/pip-ca.crt \
 && python -P -c "import torch, transformers, trl, peft, accelerate, tunebench.train; print('torch', torch.__version__, 'CUDA', torch.version.cuda)" \
 && python -P -c "import importlib.metadata as m; print({d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name'].lower() in {'flash_attn', 'flash-attn', 'deepspeed', 'bitsandbytes'}})"



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


# /models is the shared models volume (tunebench.runs.paths: models/<run>/{adapter,merged,eval,...});
# recipes say `output_dir: models/<run>` and resolve into it through the /workspace/models link.
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
    TOKENIZERS_PARALLELISM=false

USER 1000:1000
WORKDIR /workspace
# A one-off job, not a server: healthy when its environment imports and the volumes are writable.
HEALTHCHECK --interval=30s --timeout=20s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, tunebench.train; assert os.access('/models', os.W_OK) and os.access('/data', os.W_OK)"]
CMD ["python", "-m", "tunebench.train", "--config", "recipes/tiny-text-to-sql.yaml"]

# The environment last: the steps above are then cheap on a storage driver that copies layers (vfs).
COPY --chown=tunebench:tunebench recipes /workspace/recipes
COPY --from=build /opt/venv /opt/venv
