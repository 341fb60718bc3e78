"""Text-to-SQL evaluation sets, each example with a populated SQLite database to execute on.

- `embedded`: the set tunebench generates (data/text2sql), its test split by default;
- `sql-create-context`: b-mc2/sql-create-context (hub id or a local JSON/JSONL/Parquet file with
  question/context/answer) through `datasets.load_dataset`; the held-out rows of the training
  recipe's seeded sample by default; each example gets a database built from its CREATE TABLE
  statements and filled from the gold query's literals (`sql_synth_db`);
- `spider`: a Spider-format folder (`database/<db_id>/<db_id>.sqlite` + a JSON list of
  {db_id, question, query}); BIRD's `SQL` key, `difficulty` and `evidence` are read too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tunebench.evaluate.sql.metrics import classify_sql
from tunebench.evaluate.sql.synth_db import build_synth_db
from tunebench.formats import DataFormatError
from tunebench.prompts import sql_messages
from tunebench.sql_exec import schema_of
from tunebench.sql_schema import SchemaError

SQL_CREATE_CONTEXT = "b-mc2/sql-create-context"
# The CodeLlama recipe's sample (recipes/codellama-7b-text-to-sql.yaml): 12,500 rows → 20% held out.
RECIPE_SAMPLE = {"max_samples": 12500, "eval_fraction": 0.2, "sample_seed": 42}


@dataclass
class SqlExample:
    id: str
    db_id: str
    db_path: str
    schema: str
    question: str
    query: str
    difficulty: str
    template: str  # query type: the generator's template, or the SQL's shape (classify_sql)
    seen_combo: bool | None = None  # embedded set only: template x table seen in training?

    def messages(self) -> list[dict]:
        return sql_messages(self.schema, self.question)

    def to_json(self) -> dict:
        return asdict(self)


def load_embedded(data_dir: str | Path, split: str = "test", limit: int | None = None) -> list[SqlExample]:
    from tunebench.embedded.sqlgen import build_sql_dataset, load_split

    root = Path(data_dir)
    if not (root / f"{split}.jsonl").exists():
        build_sql_dataset(root)  # the same deterministic build as `python -m tunebench.embedded`
    rows = load_split(root, split)[:limit]
    return [
        SqlExample(
            id=r["id"],
            db_id=r["db_id"],
            db_path=r["db_path"],
            schema=r["schema"],
            question=r["question"],
            query=r["query"],
            difficulty=r["difficulty"],
            template=r["template"],
            seen_combo=r.get("seen_combo"),
        )
        for r in rows
    ]


def _load_rows(source: str, split: str):
    """A `datasets.Dataset` from a hub id or a local file, as tunebench.sources does for training."""
    from datasets import load_dataset

    from tunebench.sources import local_files

    files = local_files(source)
    if files is None:
        return load_dataset(source, split=split)  # the hub: needs the network (or the HF cache)
    builder = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}.get(files[0].suffix)
    if builder is None:
        raise DataFormatError(source, None, None, f"unsupported file type {files[0].suffix!r}")
    return load_dataset(builder, data_files=[str(f) for f in files], split="train")


def heldout_rows(ds, *, max_samples: int | None, eval_fraction: float, sample_seed: int):
    """The rows training held out: the same shuffle/select/train_test_split as tunebench.train.data.

    Both calls depend only on the number of rows and the seed, so applying them to the raw rows
    picks exactly the examples the training run's `messages` rows came from.
    """
    if max_samples is not None and max_samples < len(ds):
        ds = ds.shuffle(seed=sample_seed).select(range(max_samples))
    if eval_fraction <= 0:
        return ds
    return ds.train_test_split(test_size=eval_fraction, seed=sample_seed)["test"]


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
) -> list[SqlExample]:
    """Examples with synthesized databases under `cache_dir` (built on first use)."""
    ds = _load_rows(source, split)
    missing = {"question", "context", "answer"} - set(ds.column_names)
    if missing:
        raise DataFormatError(source, None, sorted(missing)[0], f"missing column (found {ds.column_names})")
    if heldout:
        ds = heldout_rows(ds, max_samples=max_samples, eval_fraction=eval_fraction, sample_seed=sample_seed)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    examples = []
    for i, row in enumerate(ds):
        for field in ("question", "context", "answer"):
            if not isinstance(row[field], str) or not row[field].strip():
                raise DataFormatError(source, i, field, "expected a non-empty string")
        try:
            db_path = build_synth_db(cache_dir, row["context"], row["answer"], seed=seed)
        except SchemaError as err:
            raise DataFormatError(source, i, "context", str(err)) from err
        difficulty, qtype = classify_sql(row["answer"])
        examples.append(
            SqlExample(
                id=f"scc-{i:05d}",
                db_id=db_path.stem,
                db_path=str(db_path.resolve()),
                schema=row["context"],
                question=row["question"],
                query=row["answer"],
                difficulty=difficulty,
                template=qtype,
            )
        )
    return examples


def load_spider(
    root: str | Path,
    questions: str | Path | None = None,
    *,
    db_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[SqlExample]:
    """Examples from a Spider-format folder; `questions` defaults to `<root>/dev.json`."""
    root = Path(root)
    qfile = Path(questions) if questions else root / "dev.json"
    dbs = Path(db_dir) if db_dir else root / "database"
    if not qfile.is_file():
        raise FileNotFoundError(f"{qfile}: no questions file (a JSON list of {{db_id, question, query}})")
    try:
        items = json.loads(qfile.read_text())
    except json.JSONDecodeError as err:
        raise DataFormatError(str(qfile), None, None, f"not valid JSON: {err}") from err
    if not isinstance(items, list):
        raise DataFormatError(str(qfile), None, None, "expected a JSON list of questions")
    schemas: dict[str, str] = {}
    examples = []
    for i, item in enumerate(items[:limit]):
        if not isinstance(item, dict):
            raise DataFormatError(str(qfile), i, None, "expected an object")
        query = item.get("query", item.get("SQL"))
        for field, value in (
            ("db_id", item.get("db_id")),
            ("question", item.get("question")),
            ("query", query),
        ):
            if not isinstance(value, str) or not value.strip():
                raise DataFormatError(str(qfile), i, field, "missing or empty")
        db_path = dbs / item["db_id"] / f"{item['db_id']}.sqlite"
        if not db_path.is_file():
            raise DataFormatError(str(qfile), i, "db_id", f"no database at {db_path}")
        if item["db_id"] not in schemas:
            schemas[item["db_id"]] = schema_of(db_path)
        question = item["question"]
        if item.get("evidence"):  # BIRD's external knowledge, given to the model as in BIRD's baselines
            question = f"{question}\nHint: {item['evidence']}"
        difficulty, qtype = classify_sql(query)
        examples.append(
            SqlExample(
                id=f"{qfile.stem}-{i:05d}",
                db_id=item["db_id"],
                db_path=str(db_path.resolve()),
                schema=schemas[item["db_id"]],
                question=question,
                query=query,
                difficulty=str(item.get("difficulty") or item.get("hardness") or difficulty),
                template=qtype,
            )
        )
    return examples
