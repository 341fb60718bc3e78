"""Where the app runs SQL it did not write (a model's, a user's edit, an uploaded file's schema): in
`tunebench.sql.sandbox.SqlSandbox` child processes, as evaluation does, never in the app's process.

The sandbox bounds what the in-process limits of `tunebench.sql.execute` cannot (one SQLite call
that builds a huge value, memory, the bytes of an answer) and replaces a child it had to kill. One
sandbox runs one statement at a time; the app keeps `size` of them (its concurrency) and lends one
per statement.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from tunebench.sql.execute import SqlResult
from tunebench.sql.sandbox import SqlSandbox

# The CREATE TABLE statements of a database, as `tunebench.sql.execute.schema_of` reads them.
SCHEMA_SQL = "SELECT sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL ORDER BY rowid"


class SqlRunner:
    """Up to `size` sandboxes, started on first use; thread-safe."""

    def __init__(self, size: int = 2):
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._idle: queue.LifoQueue[SqlSandbox] = queue.LifoQueue()
        self._all: list[SqlSandbox] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def execute(self, db_path: str | Path, sql: str, *, timeout_s: float, max_rows: int) -> SqlResult:
        with self._slots:
            try:
                sandbox = self._idle.get_nowait()
            except queue.Empty:
                with self._lock:
                    sandbox = SqlSandbox()
                    self._all.append(sandbox)
            try:
                return sandbox.execute(db_path, sql, timeout_s=timeout_s, max_rows=max_rows)
            finally:
                self._idle.put(sandbox)

    def tables(self, db_path: str | Path, *, timeout_s: float = 5.0) -> tuple[list[str], str | None]:
        """(the database's CREATE TABLE statements, None), or ([], why they cannot be read)."""
        result = self.execute(db_path, SCHEMA_SQL, timeout_s=timeout_s, max_rows=10_000)
        if not result.ok:
            return [], result.error
        return [r[0] for r in result.rows if isinstance(r[0], str)], None

    @property
    def kills(self) -> int:
        """Statements killed so far (past the time limit, or an answer too large)."""
        return sum(s.kills for s in self._all)

    def close(self) -> None:
        with self._lock:
            for sandbox in self._all:
                sandbox.close()
            self._all.clear()

    def __enter__(self) -> SqlRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
