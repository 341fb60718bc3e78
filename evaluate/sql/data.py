"""Text-to-SQL evaluation examples, each with a populated SQLite database to execute on.

- `embedded`: the set tunebench generates (data/text2sql), its test split by default;
- `spider`: a Spider-format folder (`database/<db_id>/<db_id>.sqlite` + a JSON list of
  {db_id, question, query}), read by `tunebench.data.spider_folder`; BIRD's `SQL` key, `difficulty` and
  `evidence` are read too;
- `sql-create-context`: see sql_create_context.py.
Rows are numbered from 1 in errors (a JSON list's first item is row 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from tunebench.data.spider_folder import read_spider
from tunebench.evaluate.sql.metrics import classify_sql
from tunebench.sql.prompt import sql_messages


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


def load_spider(
    root: str | Path,
    questions: str | Path | None = None,
    *,
    db_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[SqlExample]:
    """Examples from a Spider-format folder (`tunebench.data.spider_folder`, the reader training uses too);
    `questions` defaults to `<root>/dev.json`."""
    examples = []
    for item in read_spider(root, questions, db_dir=db_dir, limit=limit):
        difficulty, qtype = classify_sql(item.query)
        examples.append(
            SqlExample(
                id=f"{Path(item.source).stem}-{item.row - 1:05d}",
                db_id=item.db_id,
                db_path=item.db_path,
                schema=item.schema,
                question=item.question,
                query=item.query,
                difficulty=item.difficulty or difficulty,
                template=qtype,
            )
        )
    return examples
