"""The run manifest: what ran, on what, how fast. Written atomically next to the run's outputs."""

from __future__ import annotations

import importlib.metadata
import platform
import resource
import subprocess
from pathlib import Path

PACKAGES = (
    "tunebench",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "bitsandbytes",
    "tokenizers",
    "flash-attn",
    "liger-kernel",
)


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def peak_memory() -> dict[str, float]:
    """Peak host RSS (MiB) and, on GPU, peak allocated CUDA memory (MiB)."""
    mem = {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    try:
        import torch

        if torch.cuda.is_available():
            mem["peak_cuda_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    except ImportError:
        pass
    return mem


def environment() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "git_commit": git_commit(),
    }
