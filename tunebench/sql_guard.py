"""`execute_readonly` plus size limits, for SQL nobody has vetted (model output, demo users).

`tunebench.sql_exec` bounds time with a progress handler, but SQLite only calls that handler
between VM instructions: one function call that builds a huge value runs to the end. Measured on
2 cores with a 1 s limit, `SELECT randomblob(900000000)` ran 21.6 s and
`SELECT length(printf('%.*c', 900000000, 'x'))` 22.5 s, each holding ~1 GB. SQLite's own
`SQLITE_LIMIT_LENGTH` (the largest string/blob a statement may build, default 1e9 bytes) turns
them into an immediate "string or blob too big" error. No text-to-SQL answer needs a 1 MB cell.

The proposed fold-in: `connect_readonly` in sql_exec.py calls `con.setlimit(...)` the same way,
so the demo gets the limit too; this module then reduces to an alias.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tunebench.sql_exec import SqlResult, connect_readonly

MAX_VALUE_BYTES = 1_000_000  # largest string/blob a query may build
MAX_SQL_BYTES = 100_000  # longest statement accepted (model output is a few hundred bytes)


def connect_guarded(db_path: str | Path, *, max_value_bytes: int = MAX_VALUE_BYTES) -> sqlite3.Connection:
    con = connect_readonly(db_path)
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
    con.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    return con


def execute_guarded(
    db_path: str | Path,
    sql: str,
    *,
    timeout_s: float = 2.0,
    max_rows: int = 1000,
    max_value_bytes: int = MAX_VALUE_BYTES,
) -> SqlResult:
    """Like `sql_exec.execute_readonly`, with SQLite's length limits set; never raises, never hangs."""
    start = time.monotonic()
    deadline = start + timeout_s
    try:
        con = connect_guarded(db_path, max_value_bytes=max_value_bytes)
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
    except (ValueError, OverflowError, MemoryError, sqlite3.Warning) as err:
        result.error = f"{type(err).__name__}: {err}"
    finally:
        con.close()
    result.elapsed_s = time.monotonic() - start
    return result
