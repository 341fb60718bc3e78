"""Text-to-SQL evaluation: generate → execute (sandbox) → score → report.

Public entry points (what bench/ and other callers may use): `run_evaluation(EvalConfig)` and its
config (`EvalConfig`, `DatasetChoice`, `ExecutionLimits`), `load_embedded` and `SqlExample`; the command
line is `python -m tunebench.evaluate.sql {run,score,across}`.
"""

from importlib import import_module

# Where each public name lives; imported on first use, so `import tunebench.evaluate.sql` (and the
# command line's `--help`) needs none of evaluation's dependencies.
_HOME = {
    "DatasetChoice": "config",
    "EvalConfig": "config",
    "ExecutionLimits": "config",
    "SqlExample": "data",
    "load_embedded": "data",
    "Evaluation": "pipeline",
    "run_evaluation": "pipeline",
}

__all__ = [
    "DatasetChoice",
    "EvalConfig",
    "Evaluation",
    "ExecutionLimits",
    "SqlExample",
    "load_embedded",
    "run_evaluation",
]


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
