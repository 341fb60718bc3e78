"""Paths on the models volume, shared by every stage and by compose.yaml.

    models/<run>/recipe.yaml, manifest.json, checkpoints/, logs/, adapter/, merged/,
    eval/sql/, eval/mt_bench/
    models/tiny-base/            the embedded tiny base model
    data/                        generated datasets (git-ignored, rebuilt on demand)

`TUNEBENCH_MODELS` and `TUNEBENCH_DATA` move the two roots; containers mount the volume at /models.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_ENV = "TUNEBENCH_MODELS"
DATA_ENV = "TUNEBENCH_DATA"
TINY_BASE_NAME = "tiny-base"
# The file that marks a folder as the embedded tiny base (random weights): reports say so.
TINY_MARKER = "tunebench_tiny.json"
EMBEDDED_SQL_NAME = "text2sql"


def models_root() -> Path:
    return Path(os.environ.get(MODELS_ENV, "models"))


def data_root() -> Path:
    return Path(os.environ.get(DATA_ENV, "data"))


def tiny_base_dir() -> Path:
    return models_root() / TINY_BASE_NAME


def is_tiny_base(model_dir: str | Path) -> bool:
    """True for the embedded tiny base (random weights), wherever it lives."""
    return (Path(model_dir) / TINY_MARKER).exists()


def tiny_base_build(model_dir: str | Path) -> dict | None:
    """How the tiny base in `model_dir` was built (seed, sizes, dataset), or None for any other model.

    A rebuild with other settings replaces its random weights in place: every adapter trained on the
    old weights no longer fits. Training records this and merging checks it."""
    marker = Path(model_dir) / TINY_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None


def embedded_sql_dir() -> Path:
    return data_root() / EMBEDDED_SQL_NAME


@dataclass(frozen=True)
class RunPaths:
    """Everything one training run leaves on the models volume."""

    root: Path

    @classmethod
    def for_run(cls, run_name: str, models: Path | None = None) -> RunPaths:
        return cls((models or models_root()) / run_name)

    @classmethod
    def from_model_dir(cls, model_dir: str | Path) -> RunPaths | None:
        """The run a merged/ or adapter/ folder belongs to, or None for a model outside any run."""
        p = Path(model_dir)
        if p.name in ("merged", "adapter") and (p.parent / "manifest.json").exists():
            return cls(p.parent)
        return None

    recipe = property(lambda self: self.root / "recipe.yaml")
    manifest = property(lambda self: self.root / "manifest.json")
    checkpoints = property(lambda self: self.root / "checkpoints")
    logs = property(lambda self: self.root / "logs")
    adapter = property(lambda self: self.root / "adapter")
    merged = property(lambda self: self.root / "merged")
    eval_dir = property(lambda self: self.root / "eval")
    eval_sql = property(lambda self: self.root / "eval" / "sql")
    eval_mt_bench = property(lambda self: self.root / "eval" / "mt_bench")
