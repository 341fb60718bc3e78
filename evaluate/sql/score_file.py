"""`python -m tunebench.evaluate.sql score`: score predictions made by any text-to-SQL system.

The predictions file is read by its content, whatever its name: Spider's format, one SQL per line in
the order of the questions (a tab and a db_id after the SQL are ignored, as in Spider's gold files);
JSON Lines with one `{"id": <example id>, "sql": …}` per line (`prediction` or `query` instead of
`sql`); or a JSON list of such objects, or of SQL strings in the questions' order. Each SQL is run as
written, as the official evaluation runs it (no answer extraction). Every id once, every question
answered; the file is checked (UTF-8, JSON, ids) before any database is built or query run. The same
execution, metrics and report as for a model, so tunebench's numbers and any other system's sit side
by side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import write_jsonl
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


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataFormatError(
            str(path), line, None, f"not UTF-8 text (byte 0x{data[err.start]:02x})"
        ) from None


def _sql_of(row, path: Path, number: int) -> tuple[str, str]:
    """(id, sql) of one JSON prediction."""
    if not isinstance(row, dict):
        raise DataFormatError(str(path), number, None, 'expected an object {"id": …, "sql": …}')
    if "id" not in row:
        raise DataFormatError(str(path), number, "id", "missing")
    key = next((k for k in SQL_KEYS if k in row), None)
    if key is None:
        raise DataFormatError(str(path), number, "sql", "missing")
    if not isinstance(row[key], str):
        raise DataFormatError(str(path), number, key, "expected a string")
    return str(row["id"]), row[key]


def _json_rows(path: Path, text: str) -> list[tuple[int, object]] | None:
    """(row number, value) for JSON or JSON Lines content; None for SQL lines."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return None
    if stripped.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataFormatError(str(path), err.lineno, None, f"not valid JSON ({err.msg})") from None
        return list(enumerate(value, start=1))
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as err:
                raise DataFormatError(str(path), number, None, f"not valid JSON ({err.msg})") from None
    return rows


def parse_predictions(path: Path) -> list[tuple[str | None, str]]:
    """[(id or None, sql)] in file order, checked for everything that needs no questions: the file is
    there, UTF-8, valid JSON where it is JSON, each id once."""
    if not path.is_file():
        raise DataFormatError(str(path), None, None, "no such file (--predictions)")
    text = _text(path)
    rows = _json_rows(path, text)
    if rows is None:  # Spider's format: one SQL per line
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        return [(None, line.split("\t", 1)[0]) for line in lines]
    out, first_seen = [], {}
    for number, row in rows:
        if isinstance(row, str):
            out.append((None, row))
            continue
        pid, sql = _sql_of(row, path, number)
        if pid in first_seen:
            raise DataFormatError(
                str(path), number, "id", f"duplicate id {pid!r} (first on row {first_seen[pid]})"
            )
        first_seen[pid] = number
        out.append((pid, sql))
    if first_seen and len(first_seen) != len(out):
        raise DataFormatError(str(path), None, None, "mixes objects with ids and bare SQL strings")
    return out


def match_predictions(
    path: Path, parsed: list[tuple[str | None, str]], examples: list[SqlExample]
) -> dict[str, str]:
    """{example id: predicted SQL}; every question needs one."""
    if not parsed or parsed[0][0] is None:  # in the questions' order
        if len(parsed) != len(examples):
            raise DataFormatError(
                str(path),
                None,
                None,
                f"{len(parsed)} predictions for {len(examples)} questions (one SQL per line)",
            )
        return {ex.id: sql for ex, (_, sql) in zip(examples, parsed, strict=True)}
    known = {ex.id for ex in examples}
    out = {}
    for number, (pid, sql) in enumerate(parsed, start=1):
        if pid not in known:
            raise DataFormatError(str(path), number, "id", f"unknown example id {pid!r}")
        out[pid] = sql
    absent = [ex.id for ex in examples if ex.id not in out]
    if absent:
        raise DataFormatError(
            str(path), None, None, f"no prediction for {len(absent)} questions (first: {absent[0]})"
        )
    return out


def score_predictions(config: ScoreConfig):
    """(out, summary): predictions.jsonl, summary.json, report.md and plots under `config.out`."""
    parsed = parse_predictions(config.predictions)  # before any database is built
    examples, dataset = load_examples(config.dataset)
    predictions = match_predictions(config.predictions, parsed, examples)
    label = config.label or config.predictions.stem
    with SqlSandbox() as sandbox:
        scorer = Scorer(sandbox, timeout_s=config.execution.timeout_s, max_rows=config.execution.max_rows)
        records = [scorer.score(ex, predictions[ex.id], extract=False) for ex in examples]
    write_jsonl(config.out / "predictions.jsonl", records)
    meta = {"dataset": dataset, "predictions": str(config.predictions), "execution": asdict(config.execution)}
    model = {
        "path": str(config.predictions),
        "random_weights": False,
        "description": "predictions made elsewhere.",
    }
    summary = write_outputs(config.out, meta, {label: summarize(records)}, {label: model}, {label: records})
    return Evaluation(config.out, summary)
