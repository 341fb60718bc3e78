"""Safe, read-only SQL execution shared by evaluation and the demo.

Three locks, because model output (or a demo user) is untrusted:
- the database is opened read-only (`file:…?mode=ro`), so SQLite itself refuses writes;
- an authorizer allows only reading (SELECT, column reads, functions but `load_extension`,
  recursive CTEs) and denies every write, ATTACH/DETACH, PRAGMA, DDL and transaction control;
- a progress handler aborts a query past its time limit; at most `max_rows` rows (None: no row cap) and
  `max_result_bytes` bytes of values are fetched (a row of a 1 MB blob times 1,000 rows is 1 GB).
Errors come back as a result, never as an exception or a hang. Text that is not valid UTF-8 is decoded
with its bad bytes dropped, as the official Spider evaluation reads it (`errors="ignore"`): a database
with one such value still answers instead of failing every query that reads it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
MAX_VALUE_BYTES = 1_000_000  # largest string/blob a statement may build; no SQL answer needs more
MAX_SQL_BYTES = 100_000  # longest statement accepted (model output is a few hundred bytes)
MAX_RESULT_BYTES = 32_000_000  # values fetched per statement, in bytes; answers to questions are far smaller
FETCH_CHECK = 256  # rows fetched between checks of the clock (the progress handler checks SQLite's work)
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


@dataclass
class SqlResult:
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    truncated: bool = False
    elapsed_s: float = 0.0
    too_large: bool = False  # stopped at the byte limit (an error: the rows are not the answer)

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
            "too_large": self.too_large,
            "elapsed_s": round(self.elapsed_s, 4),
        }


def _authorizer(action, arg1, arg2, dbname, source):
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="ignore")


def connect_readonly(
    db_path: str | Path, *, max_value_bytes: int = MAX_VALUE_BYTES, heap_limit_bytes: int | None = None
) -> sqlite3.Connection:
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"database not found: {path}")
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    con.text_factory = _decode_text
    if heap_limit_bytes:  # before the authorizer, which denies every PRAGMA
        con.execute(f"PRAGMA hard_heap_limit = {int(heap_limit_bytes)}")
        con.execute("PRAGMA temp_store = MEMORY")
    con.set_authorizer(_authorizer)
    # One function call (randomblob(9e8), printf('%.*c', 9e8, 'x')) cannot be interrupted by the
    # progress handler: cap what a statement may build so it fails fast instead.
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
    con.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    return con


def value_bytes(value) -> int:
    """What a fetched value costs in memory, about: its length for text and blobs, 8 for the rest."""
    return len(value) if isinstance(value, (str, bytes)) else 8


def _fetch(
    cur: sqlite3.Cursor, result: SqlResult, max_rows: int | None, max_bytes: int, deadline: float
) -> None:
    """Rows into `result` one at a time, stopping at `max_rows` (truncated), `max_bytes` (too large)
    or the deadline; never holds more than `max_bytes` plus one row."""
    size = 0
    for n, row in enumerate(cur):
        if n == max_rows:
            result.truncated = True
            return
        size += sum(value_bytes(v) for v in row) + 16 * len(row)
        if size > max_bytes:
            result.rows = []  # keep no part of a too-large answer: it could not be scored anyway
            result.too_large = True
            result.error = f"result too large: more than {max_bytes:,} bytes"
            return
        result.rows.append(tuple(row))
        if n % FETCH_CHECK == 0 and time.monotonic() > deadline:
            raise sqlite3.OperationalError("interrupted")


def execute_readonly(
    db_path: str | Path,
    sql: str,
    *,
    timeout_s: float = 2.0,
    max_rows: int | None = 1000,
    max_value_bytes: int = MAX_VALUE_BYTES,
    max_result_bytes: int = MAX_RESULT_BYTES,
    heap_limit_bytes: int | None = None,
) -> SqlResult:
    """Run one statement read-only; returns rows, or an error / timeout, within `timeout_s`.

    `heap_limit_bytes` caps SQLite's memory for the whole process (`PRAGMA hard_heap_limit`) and keeps
    temporary tables in memory, under that cap, instead of on disk: for the sandbox's child process.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    try:
        con = connect_readonly(db_path, max_value_bytes=max_value_bytes, heap_limit_bytes=heap_limit_bytes)
    except (FileNotFoundError, sqlite3.Error) as err:
        return SqlResult(error=str(err))
    # Called every 1,000 SQLite VM steps; returning non-zero aborts the statement ("interrupted").
    con.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    result = SqlResult()
    try:
        cur = con.execute(sql)
        result.columns = [d[0] for d in cur.description or []]
        _fetch(cur, result, max_rows, max_result_bytes, deadline)
    except sqlite3.Error as err:
        result.rows = []
        if time.monotonic() > deadline:
            result.timed_out = True
            result.error = f"timed out after {timeout_s:g} s"
        else:
            result.error = f"{type(err).__name__}: {err}"
    except MemoryError:
        result.rows = []
        limit = f" (limit {heap_limit_bytes / 2**20:.0f} MiB)" if heap_limit_bytes else ""
        result.error = f"out of memory{limit}"
    except (ValueError, OverflowError, sqlite3.Warning) as err:  # e.g. an embedded NUL, a huge int
        result.rows = []
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
