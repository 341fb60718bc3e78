#!/bin/sh
# Local base images for a machine that cannot pull from a registry (no Docker Hub, no nvcr.io/ghcr.io).
# Not for ordinary machines: there `make docker-build` pulls the real bases (the CUDA and python images
# that the Dockerfiles name by default), and nothing below is used.
#
#   sudo docker/local-bases.sh           (or: make docker-local-bases; needs root, debootstrap, a Docker engine)
#
# 1. `debootstrap --variant=minbase bookworm` from the Debian mirror apt already uses, imported as
#    local/debian:bookworm (about a minute);
# 2. local/python:bookworm = that + Debian's python3, venv and pip (Python 3.11, CPU only).
# The images are then passed to the builds as build arguments (PYTHON_IMAGE, BUILD_IMAGE,
# RUNTIME_IMAGE): `make docker-build LOCAL_BASES=1`. No CUDA: the train and eval images built on them
# run on CPU (with TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu).
set -eu

SUITE=${SUITE:-bookworm}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-local/debian:$SUITE}
PYTHON_IMAGE=${PYTHON_IMAGE:-local/python:$SUITE}
# The mirror apt is configured with here (deb822 or one-line sources), else Debian's own.
MIRROR=${DEBIAN_MIRROR:-$(
    { sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null
      sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' /etc/apt/sources.list 2>/dev/null
    } | grep -v security | head -n 1
)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# This kind of machine runs containers on the host network (dockerd --bridge=none).
NETWORK=${DOCKER_BUILD_NETWORK:-host}

command -v debootstrap >/dev/null || { echo "local-bases: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
docker version >/dev/null 2>&1 || { echo "local-bases: no Docker engine answers (docs/docker.md says how to start one)" >&2; exit 1; }

if docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
    echo "local-bases: $DEBIAN_IMAGE exists"
else
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    echo "local-bases: debootstrap $SUITE from $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR"
    # mktemp made the folder 0700, and tar records it as the image's root: a non-root user (the
    # images run as uid 1000) could then reach nothing, not even /bin/sh.
    chmod 0755 "$rootfs"
    tar -C "$rootfs" -c . | docker import - "$DEBIAN_IMAGE"
fi

# The classic builder: BuildKit would try to pull its frontend from a registry.
DOCKER_BUILDKIT=0 docker build --network "$NETWORK" -t "$PYTHON_IMAGE" - <<DOCKERFILE
FROM $DEBIAN_IMAGE
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip python-is-python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE

echo "local-bases: built $DEBIAN_IMAGE and $PYTHON_IMAGE; build the images on them with"
echo "  make docker-build LOCAL_BASES=1"
