"""The demo's sample databases: the embedded text-to-SQL set's SQLite files and test questions.

They are generated, not shipped (data/ is git-ignored): the first use builds them with the same
generator and seed `python -m tunebench.embedded` uses, so the demo works on a fresh clone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tunebench.embedded.sqlgen import build_sql_dataset, load_split
from tunebench.runs.paths import embedded_sql_dir
from tunebench.sql.execute import schema_of
from tunebench.sql.schema import parse_schema

log = logging.getLogger(__name__)


def ensure_sample_dbs(data_dir: str | Path | None = None) -> Path:
    """The dataset folder with databases/ and test.jsonl, built (seed 0) when missing."""
    root = Path(data_dir) if data_dir else embedded_sql_dir()
    if not (root / "test.jsonl").is_file() or not any((root / "databases").glob("*.sqlite")):
        log.info("building the sample databases in %s", root)
        # Only when missing: an existing build (maybe with another seed) is the user's and stays.
        build_sql_dataset(root, seed=0)
    return root


@dataclass
class SampleDatabases:
    """Database id → SQLite file, schema (the training prompt's format) and example questions."""

    root: Path

    @classmethod
    def load(cls, data_dir: str | Path | None = None) -> SampleDatabases:
        return cls(ensure_sample_dbs(data_dir))

    @cached_property
    def paths(self) -> dict[str, Path]:
        return {p.stem: p for p in sorted((self.root / "databases").glob("*.sqlite"))}

    @property
    def ids(self) -> list[str]:
        return list(self.paths)

    def path(self, db_id: str) -> Path:
        try:
            return self.paths[db_id]
        except KeyError:
            raise KeyError(
                f"unknown sample database {db_id!r}: choose one of {', '.join(self.paths)}"
            ) from None

    def schema(self, db_id: str) -> str:
        return schema_of(self.path(db_id))

    def tables(self, db_id: str) -> list[str]:
        return [t.name for t in parse_schema(self.schema(db_id))]

    @cached_property
    def _test_rows(self) -> list[dict]:
        return load_split(self.root, "test")

    def examples(self, db_id: str, limit: int = 8) -> list[str]:
        """Questions from the held-out test split (never seen in training, so honest examples).

        One per question template, easy ones first: varied, and the first are the ones a small
        model most likely gets right.
        """
        order = {"easy": 0, "medium": 1, "hard": 2}
        rows = [r for r in self._test_rows if r["db_id"] == db_id]
        rows.sort(key=lambda r: (order.get(r.get("difficulty"), 3), r["id"]))
        picked: list[str] = []
        templates: set[str] = set()
        for r in rows:  # first pass: one per template; second pass fills up to `limit`
            if r.get("template") not in templates:
                templates.add(r.get("template"))
                picked.append(r["question"])
        picked += [r["question"] for r in rows if r["question"] not in picked]
        return picked[:limit]


def resolve_db(value: str, samples: SampleDatabases | None = None) -> Path:
    """A database given on the command line: a .sqlite path, or the id of a sample database."""
    path = Path(value)
    if path.is_file():
        return path
    samples = samples or SampleDatabases.load()
    return samples.path(value)
