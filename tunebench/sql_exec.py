"""Safe, read-only SQL execution shared by evaluation and the demo.

Three locks, because model output (or a demo user) is untrusted:
- the database is opened read-only (`file:…?mode=ro`), so SQLite itself refuses writes;
- an authorizer allows only reading (SELECT, column reads, functions but `load_extension`,
  recursive CTEs) and denies every write, ATTACH/DETACH, PRAGMA, DDL and transaction control;
- a progress handler aborts a query past its time limit, and at most `max_rows` rows are fetched.
Errors come back as a result, never as an exception or a hang.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
MAX_VALUE_BYTES = 1_000_000  # largest string/blob a statement may build; no SQL answer needs more
MAX_SQL_BYTES = 100_000  # longest statement accepted (model output is a few hundred bytes)
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


@dataclass
class SqlResult:
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    truncated: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        return {
            "columns": self.columns,
            "rows": [list(r) for r in self.rows],
            "error": self.error,
            "timed_out": self.timed_out,
            "truncated": self.truncated,
            "elapsed_s": round(self.elapsed_s, 4),
        }


def _authorizer(action, arg1, arg2, dbname, source):
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def connect_readonly(db_path: str | Path, *, max_value_bytes: int = MAX_VALUE_BYTES) -> sqlite3.Connection:
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"database not found: {path}")
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    con.set_authorizer(_authorizer)
    # One function call (randomblob(9e8), printf('%.*c', 9e8, 'x')) cannot be interrupted by the
    # progress handler: cap what a statement may build so it fails fast instead.
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
    con.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    return con


def execute_readonly(
    db_path: str | Path,
    sql: str,
    *,
    timeout_s: float = 2.0,
    max_rows: int = 1000,
    max_value_bytes: int = MAX_VALUE_BYTES,
) -> SqlResult:
    """Run one statement read-only; returns rows, or an error / timeout, within `timeout_s`."""
    start = time.monotonic()
    deadline = start + timeout_s
    try:
        con = connect_readonly(db_path, max_value_bytes=max_value_bytes)
    except (FileNotFoundError, sqlite3.Error) as err:
        return SqlResult(error=str(err))
    # Called every 1,000 SQLite VM steps; returning non-zero aborts the statement ("interrupted").
    con.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    result = SqlResult()
    try:
        cur = con.execute(sql)
        result.columns = [d[0] for d in cur.description or []]
        rows = cur.fetchmany(max_rows + 1)
        result.truncated = len(rows) > max_rows
        result.rows = [tuple(r) for r in rows[:max_rows]]
    except sqlite3.Error as err:
        if time.monotonic() > deadline:
            result.timed_out = True
            result.error = f"timed out after {timeout_s:g} s"
        else:
            result.error = f"{type(err).__name__}: {err}"
    except (
        ValueError,
        OverflowError,
        MemoryError,
        sqlite3.Warning,
    ) as err:  # e.g. an embedded NUL, a huge int
        result.error = f"{type(err).__name__}: {err}"
    finally:
        con.close()
    result.elapsed_s = time.monotonic() - start
    return result


def schema_of(db_path: str | Path) -> str:
    """The CREATE TABLE statements of a database, as the prompt shows them."""
    con = connect_readonly(db_path)
    try:
        rows = con.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL ORDER BY rowid"
        )
        return ";\n".join(r[0] for r in rows) + ";"
    finally:
        con.close()
