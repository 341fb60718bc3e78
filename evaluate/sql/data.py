"""Text-to-SQL evaluation examples, each with a populated SQLite database to execute on.

- `embedded`: the set tunebench generates (data/text2sql), its test split by default;
- `spider`: a Spider-format folder (`database/<db_id>/<db_id>.sqlite` + a JSON list of
  {db_id, question, query}); BIRD's `SQL` key, `difficulty` and `evidence` are read too;
- `sql-create-context`: see sql_create_context.py.
Rows are numbered from 1 in errors (a JSON list's first item is row 1).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tunebench.evaluate.sql.metrics import classify_sql
from tunebench.formats import DataFormatError
from tunebench.prompts import sql_messages
from tunebench.sql_exec import schema_of


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
    db_variants: list[str] = field(default_factory=list)  # the test suite's other databases (suite_dbs)

    @property
    def databases(self) -> list[str]:
        """Every database the question is scored on: its own, then the test suite's variants."""
        return [self.db_path, *self.db_variants]

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


def _spider_items(qfile: Path, root: Path) -> list:
    if not qfile.is_file():
        hint = ""
        if any(root.glob("*/*.sqlite")):
            hint = f" ({root} looks like the database/ folder itself: give the folder that holds it)"
        raise DataFormatError(str(qfile), None, None, f"no questions file here{hint}")
    try:
        items = json.loads(qfile.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f"line {err.lineno}: " if isinstance(err, json.JSONDecodeError) else ""
        msg = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
        raise DataFormatError(str(qfile), None, None, f"{where}not valid JSON ({msg})") from err
    if not isinstance(items, list):
        raise DataFormatError(str(qfile), None, None, "expected a JSON list of {db_id, question, query}")
    return items


def load_spider(
    root: str | Path,
    questions: str | Path | None = None,
    *,
    db_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[SqlExample]:
    """Examples from a Spider-format folder; `questions` defaults to `<root>/dev.json`."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataFormatError(str(root), None, None, "no such folder (--source: the Spider-format folder)")
    qfile = Path(questions).expanduser() if questions else root / "dev.json"
    dbs = Path(db_dir).expanduser() if db_dir else root / "database"
    schemas: dict[str, str] = {}
    examples = []
    for number, item in enumerate(_spider_items(qfile, root)[:limit], start=1):
        if not isinstance(item, dict):
            raise DataFormatError(str(qfile), number, None, "expected an object {db_id, question, query}")
        query = item.get("query", item.get("SQL"))
        for key, value in (
            ("db_id", item.get("db_id")),
            ("question", item.get("question")),
            ("query", query),
        ):
            if value is None:
                raise DataFormatError(str(qfile), number, key, "missing")
            if not isinstance(value, str) or not value.strip():
                raise DataFormatError(str(qfile), number, key, "expected a non-empty string")
        db_path = dbs / item["db_id"] / f"{item['db_id']}.sqlite"
        if not db_path.is_file():
            raise DataFormatError(
                str(qfile), number, "db_id", f"unknown database {item['db_id']!r}: no {db_path}"
            )
        if item["db_id"] not in schemas:
            schemas[item["db_id"]] = schema_of(db_path)
        question = item["question"]
        if item.get("evidence"):  # BIRD's external knowledge, given to the model as in BIRD's baselines
            question = f"{question}\nHint: {item['evidence']}"
        difficulty, qtype = classify_sql(query)
        examples.append(
            SqlExample(
                id=f"{qfile.stem}-{number - 1:05d}",
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
