"""`python -m tunebench.evaluate.sql score`: score predictions made by any text-to-SQL system.

The predictions file is either Spider's format, one SQL per line in the order of the questions
(`.txt` or `.sql`; a tab and a db_id after the SQL are ignored, as in Spider's gold files), or JSONL
with one `{"id": <example id>, "sql": …}` per line (`prediction` or `query` instead of `sql`).
The same execution, metrics and report as for a model, so tunebench's numbers and any other
system's sit side by side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import iter_jsonl, write_jsonl
from tunebench.evaluate.sql.config import DatasetChoice, ExecutionLimits
from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.load import load_examples
from tunebench.evaluate.sql.pipeline import Evaluation, write_outputs
from tunebench.evaluate.sql.scoring import Scorer
from tunebench.evaluate.sql.summary import summarize
from tunebench.sql.sandbox import SqlSandbox

SQL_KEYS = ("sql", "prediction", "query")


@dataclass(frozen=True)
class ScoreConfig:
    predictions: Path
    out: Path
    dataset: DatasetChoice = field(default_factory=DatasetChoice)
    execution: ExecutionLimits = field(default_factory=ExecutionLimits)
    label: str | None = None  # how the report names the system (default: the file's name)


def _from_lines(path: Path, examples: list[SqlExample]) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != len(examples):
        raise DataFormatError(
            str(path),
            None,
            None,
            f"{len(lines)} predictions for {len(examples)} questions (one SQL per line)",
        )
    return {ex.id: line.split("\t", 1)[0] for ex, line in zip(examples, lines, strict=True)}


def _from_jsonl(path: Path, examples: list[SqlExample]) -> dict[str, str]:
    known = {ex.id for ex in examples}
    out: dict[str, str] = {}
    for number, row in iter_jsonl(path):
        if "id" not in row:
            raise DataFormatError(str(path), number, "id", "missing")
        if str(row["id"]) not in known:
            raise DataFormatError(str(path), number, "id", f"unknown example id {row['id']!r}")
        key = next((k for k in SQL_KEYS if k in row), None)
        if key is None:
            raise DataFormatError(str(path), number, "sql", "missing")
        if not isinstance(row[key], str):
            raise DataFormatError(str(path), number, key, "expected a string")
        out[str(row["id"])] = row[key]
    absent = [ex.id for ex in examples if ex.id not in out]
    if absent:
        raise DataFormatError(
            str(path), None, None, f"no prediction for {len(absent)} questions (first: {absent[0]})"
        )
    return out


def read_predictions(path: Path, examples: list[SqlExample]) -> dict[str, str]:
    """{example id: predicted SQL}; every question needs one."""
    if not path.is_file():
        raise DataFormatError(str(path), None, None, "no such file (--predictions)")
    return _from_jsonl(path, examples) if path.suffix == ".jsonl" else _from_lines(path, examples)


def score_predictions(config: ScoreConfig):
    """(out, summary): predictions.jsonl, summary.json, report.md and plots under `config.out`."""
    examples, dataset = load_examples(config.dataset)
    predictions = read_predictions(config.predictions, examples)
    label = config.label or config.predictions.stem
    with SqlSandbox() as sandbox:
        scorer = Scorer(sandbox, timeout_s=config.execution.timeout_s, max_rows=config.execution.max_rows)
        records = [scorer.score(ex, predictions[ex.id]) for ex in examples]
    write_jsonl(config.out / "predictions.jsonl", records)
    meta = {"dataset": dataset, "predictions": str(config.predictions), "execution": asdict(config.execution)}
    model = {
        "path": str(config.predictions),
        "random_weights": False,
        "description": "predictions made elsewhere.",
    }
    summary = write_outputs(config.out, meta, {label: summarize(records)}, {label: model}, {label: records})
    return Evaluation(config.out, summary)
