"""Text-to-SQL evaluation: generate → execute (sandbox) → score → report.

Public entry points (what bench/ and other callers may use): `run_evaluation(EvalConfig)` and its
config (`EvalConfig`, `DatasetChoice`, `ExecutionLimits`), `load_embedded` and `SqlExample`; the command
line is `python -m tunebench.evaluate.sql {run,score,across}`.
"""

from tunebench.evaluate.sql.config import DatasetChoice, EvalConfig, ExecutionLimits
from tunebench.evaluate.sql.data import SqlExample, load_embedded
from tunebench.evaluate.sql.pipeline import Evaluation, run_evaluation

__all__ = [
    "DatasetChoice",
    "EvalConfig",
    "Evaluation",
    "ExecutionLimits",
    "SqlExample",
    "load_embedded",
    "run_evaluation",
]
