"""What one text-to-SQL evaluation is asked to do: one frozen object built by the command line.

Every function below the CLI takes this object (or the few fields it needs); nothing else carries
the command line's options around.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tunebench.chat import GenerationSettings

DATASETS = ("embedded", "sql-create-context", "spider")


@dataclass(frozen=True)
class DatasetChoice:
    """Which questions, from where (see `data.load_examples`)."""

    name: str = "embedded"  # one of DATASETS
    data_dir: str | None = None  # embedded: the dataset folder (default data/text2sql)
    split: str | None = None  # embedded: test|train; sql-create-context: the hub split
    source: str | None = None  # sql-create-context: hub id or local file; spider: the folder
    questions: str | None = None  # spider: questions JSON (default <source>/dev.json)
    db_dir: str | None = None  # spider: databases folder (default <source>/database)
    all_rows: bool = False  # sql-create-context: every row, not the held-out ones
    max_samples: int | None = None  # sql-create-context: the training sample's size, seed and share
    eval_fraction: float | None = None
    sample_seed: int | None = None
    limit: int | None = None  # the first N examples only
    test_suite: bool = True  # score each question on its test suite of databases, not one database


@dataclass(frozen=True)
class ExecutionLimits:
    """Bounds on every statement run for scoring (gold and predicted), in the sandbox process."""

    timeout_s: float = 5.0
    max_rows: int = 10000


@dataclass(frozen=True)
class EvalConfig:
    """`python -m tunebench.evaluate.sql` as data: the models, the questions, generation, limits."""

    model: str  # a model spec: folder, hub id or http://host:port/v1#served-name
    baseline: str | None = None  # a second model spec, scored the same way
    out: Path | None = None  # default: models/<run>/eval/sql for a model of a training run
    fresh: bool = False  # discard earlier predictions instead of resuming
    dataset: DatasetChoice = field(default_factory=DatasetChoice)
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=256))
    execution: ExecutionLimits = field(default_factory=ExecutionLimits)
    batch_size: int = 16  # in process: prompts per forward pass
    chunk_size: int = 64  # examples generated between checkpoints of predictions.jsonl
    concurrency: int = 8  # servers: requests in flight
    device: str | None = None
    dtype: str = "auto"
    api_key_env: str | None = None  # servers: the environment variable holding the key
    seed: int = 0  # synthesized databases (sql-create-context)
