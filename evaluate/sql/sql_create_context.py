"""b-mc2/sql-create-context (a hub id, or a local JSON/JSONL/Parquet/CSV file in its format) as
evaluation examples, each with a database built from its CREATE TABLE statements (`synth_db`).

Which rows: a hub dataset's held-out rows of the training recipe's seeded sample (exactly what
training held out: `tunebench.data.splits`); a local file whole, unless a split is asked for or the
model's own run trained on that very file.

Bad input fails before any work, in one line naming the file, the 1-based row (the line of a JSONL
file, as editors number it) and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from tunebench.data.formats import DataFormatError, check_sql_context
from tunebench.data.splits import split_heldout
from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.metrics import classify_sql
from tunebench.evaluate.sql.suite_dbs import synth_suite
from tunebench.evaluate.sql.synth_db import build_synth_db
from tunebench.sql.schema import SchemaError

SQL_CREATE_CONTEXT = "b-mc2/sql-create-context"
FIELDS = ("question", "context", "answer")
# The CodeLlama recipe's sample (recipes/codellama-7b-text-to-sql.yaml): 12,500 rows → 20% held out.
RECIPE_SAMPLE = {"max_samples": 12500, "eval_fraction": 0.2, "sample_seed": 42}
_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}


def _check_json_lines(path: Path) -> None:
    """Every line of a JSONL file is a JSON object; else one error naming the line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFormatError(str(path), number, None, f"not valid JSON ({err.msg})") from err
            if not isinstance(row, dict):
                raise DataFormatError(str(path), number, None, "a line must be a JSON object")


def local_file(source: str) -> Path | None:
    """The local file `source` names, or None for a hub id; a path that is not there is an error."""
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix not in _BUILDERS:
            raise DataFormatError(
                source, None, None, f"unsupported file type {path.suffix!r}; use {sorted(_BUILDERS)}"
            )
        return path
    if path.is_dir():
        raise DataFormatError(
            source, None, None, "a folder: give the data file itself (JSON/JSONL/Parquet/CSV)"
        )
    if source.startswith((".", "/", "~")) or path.suffix in _BUILDERS or source.count("/") != 1:
        raise DataFormatError(source, None, None, "no such file (and not a hub id org/name)")
    return None


def load_rows(source: str, split: str):
    """A `datasets.Dataset` from a hub id or a local file, with `_row`: the 1-based row number."""
    import datasets
    from datasets import load_dataset

    path = local_file(source)
    try:
        if path is None:
            ds = load_dataset(source, split=split)  # the hub: needs the network (or the HF cache)
        else:
            if path.suffix == ".jsonl":
                _check_json_lines(path)
            datasets.disable_progress_bars()  # a local file loads in a moment; errors stay one line
            try:
                ds = load_dataset(_BUILDERS[path.suffix], data_files=str(path), split="train")
            finally:
                datasets.enable_progress_bars()
    except DataFormatError:
        raise
    except Exception as err:  # datasets wraps network and parse errors several levels deep
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataFormatError(
            source, None, None, f"cannot be loaded ({type(err).__name__}: {first})"
        ) from err
    missing = [f for f in FIELDS if f not in ds.column_names]
    if missing:
        raise DataFormatError(source, None, missing[0], f"missing (the data has {sorted(ds.column_names)})")
    for field in FIELDS:  # cheap checks of every row, before any split, so row numbers are the file's
        for number, value in enumerate(ds[field], start=1):
            if value is None:
                raise DataFormatError(source, number, field, "missing")
            if not isinstance(value, str) or not value.strip():
                raise DataFormatError(source, number, field, "expected a non-empty string")
    # The split below depends only on the number of rows and `sample_seed`: this column changes nothing.
    return ds.add_column("_row", list(range(1, len(ds) + 1)))


def load_sql_create_context(
    source: str = SQL_CREATE_CONTEXT,
    *,
    cache_dir: str | Path,
    split: str = "train",
    heldout: bool = True,
    max_samples: int | None = RECIPE_SAMPLE["max_samples"],
    eval_fraction: float = RECIPE_SAMPLE["eval_fraction"],
    sample_seed: int = RECIPE_SAMPLE["sample_seed"],
    limit: int | None = None,
    seed: int = 0,
    test_suite: bool = True,
) -> list[SqlExample]:
    """Examples with synthesized databases under `cache_dir` (built on first use), each with its
    test suite's variants unless `test_suite` is off."""
    ds = load_rows(source, split)
    if heldout:
        # Exactly the rows the training run held out (tunebench.data.splits is what training calls).
        _, held = split_heldout(
            ds, max_samples=max_samples, eval_fraction=eval_fraction, sample_seed=sample_seed
        )
        ds = held if held is not None else ds
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    examples = []
    for row in ds:
        number = row["_row"]
        check_sql_context(row["context"], source, number)  # the check training makes, too
        try:
            db_path = build_synth_db(cache_dir, row["context"], row["answer"], seed=seed)
        except SchemaError as err:
            raise DataFormatError(source, number, "context", str(err)) from err
        difficulty, qtype = classify_sql(row["answer"])
        examples.append(
            SqlExample(
                id=f"scc-{number:05d}",
                db_id=db_path.stem,
                db_path=str(db_path.resolve()),
                schema=row["context"],
                question=row["question"],
                query=row["answer"],
                difficulty=difficulty,
                template=qtype,
                db_variants=synth_suite(cache_dir, row["context"], row["answer"], seed=seed)
                if test_suite
                else [],
            )
        )
    return examples
