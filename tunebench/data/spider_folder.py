"""Spider-format folders, read once for training and for evaluation.

A Spider-format folder is `database/<db_id>/<db_id>.sqlite` plus JSON lists of
{db_id, question, query}: Spider's `train_spider.json`, `train_others.json` and `dev.json`
(BIRD's `SQL`, `evidence` and `difficulty` keys are read too). Training turns each item into the
same question + schema → SQL conversation that evaluation asks (`tunebench.sql.prompt.sql_messages`);
evaluation adds its own classification and test-suite databases on top of these items.
Rows are numbered from 1 in errors (a JSON list's first item is row 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tunebench.data.formats import DataFormatError
from tunebench.sql.execute import schema_of

# Spider's own names for its splits. Its README counts both train files as the training set.
SPLIT_FILES = {
    "train": ("train_spider.json", "train_others.json"),
    "validation": ("dev.json",),
    "dev": ("dev.json",),
}


@dataclass(frozen=True)
class SpiderItem:
    source: str  # the questions file
    row: int  # 1-based, as in errors
    db_id: str
    db_path: str
    schema: str
    question: str  # with BIRD's evidence appended as a hint, as BIRD's baselines do
    query: str
    difficulty: str | None  # BIRD's `difficulty` or a `hardness` key, when the file has one


def is_spider_folder(path: str | Path) -> bool:
    p = Path(path).expanduser()
    return p.is_dir() and (p / "database").is_dir()


def split_files(root: str | Path, split: str) -> list[Path]:
    """The questions files of `split`: a Spider split name, or a file name in (or path to) the folder."""
    root = Path(root).expanduser()
    if split.endswith(".json"):
        path = Path(split).expanduser()
        return [path if path.is_file() else root / split]
    names = SPLIT_FILES.get(split)
    if names is None:
        raise DataFormatError(
            str(root), None, None, f"unknown split {split!r}: use {sorted(SPLIT_FILES)} or a .json file name"
        )
    files = [root / n for n in names if (root / n).is_file()]
    return files or [root / names[0]]  # the first name, so the error says which file is missing


def _load_list(qfile: Path, root: Path) -> list:
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


def read_spider(
    root: str | Path,
    questions: str | Path | None = None,
    *,
    db_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[SpiderItem]:
    """Every item of one questions file (default `<root>/dev.json`), checked, with its database's schema."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataFormatError(str(root), None, None, "no such folder (a Spider-format folder is expected)")
    qfile = Path(questions).expanduser() if questions else root / "dev.json"
    dbs = Path(db_dir).expanduser() if db_dir else root / "database"
    schemas: dict[str, str] = {}
    out = []
    for number, item in enumerate(_load_list(qfile, root)[:limit], start=1):
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
        if item.get("evidence"):
            question = f"{question}\nHint: {item['evidence']}"
        difficulty = item.get("difficulty") or item.get("hardness")
        out.append(
            SpiderItem(
                source=str(qfile),
                row=number,
                db_id=item["db_id"],
                db_path=str(db_path.resolve()),
                schema=schemas[item["db_id"]],
                question=question,
                query=query,
                difficulty=str(difficulty) if difficulty else None,
            )
        )
    return out


def spider_messages(root: str | Path, split: str = "train", *, limit: int | None = None) -> list[list[dict]]:
    """Training conversations (system + user: schema and question; assistant: the gold SQL) of a split."""
    from tunebench.sql.prompt import sql_messages

    conversations: list[list[dict]] = []
    for qfile in split_files(root, split):
        left = None if limit is None else limit - len(conversations)
        if left is not None and left <= 0:
            break
        for item in read_spider(root, qfile, limit=left):
            conversations.append(sql_messages(item.schema, item.question, item.query))
    return conversations
