"""Bring your own database: an uploaded SQLite file, size-bounded, copied into a private folder, read
only through the SQL sandbox (never written), and removed when its session ends (the page's tab closes,
or the API call that brought it returns).

The copy is the user's file byte for byte but for one thing: a database saved in WAL mode is marked
as a rollback-journal database in the copy's header (bytes 18-19), since SQLite cannot open a WAL
database read-only without its -shm file; the pages, which hold the data, are unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from tunebench.serve.render import human_size
from tunebench.serve.sql_runner import SqlRunner

SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL = 2
_LEGACY = 1


class UploadError(ValueError):
    """Why an uploaded file cannot be used, in one sentence naming it."""


@dataclass(frozen=True)
class Uploaded:
    path: Path  # the private copy
    name: str  # the file's name as uploaded
    schema: str  # its CREATE TABLE statements, as the prompt shows them
    size: int
    tables: int


class UploadedDatabases:
    """Private copies of uploaded databases, one per session (a new upload replaces the session's)."""

    def __init__(self, runner: SqlRunner, *, max_bytes: int, max_schema_chars: int):
        self.runner, self.max_bytes, self.max_schema_chars = runner, max_bytes, max_schema_chars
        self._tmp = tempfile.TemporaryDirectory(prefix="tunebench-uploads-")
        self.root = Path(self._tmp.name)
        self._by_session: dict[str, Uploaded] = {}
        self._lock = threading.Lock()

    def _copy(self, source: Path, name: str) -> tuple[Path, int]:
        size = source.stat().st_size
        if size > self.max_bytes:
            raise UploadError(
                f"{name} is {human_size(size)}; the demo takes databases up to {human_size(self.max_bytes)}"
            )
        with open(source, "rb") as f:
            header = f.read(100)
        if not header.startswith(SQLITE_MAGIC):
            raise UploadError(f"{name} is not a SQLite database (its first bytes are not 'SQLite format 3')")
        target = self.root / f"{uuid.uuid4().hex}.sqlite"
        shutil.copyfile(source, target)
        os.chmod(target, 0o400)  # nobody writes it, the app included
        if len(header) >= 20 and (header[18], header[19]) == (_WAL, _WAL):
            os.chmod(target, 0o600)
            with open(target, "r+b") as f:
                f.seek(18)
                f.write(bytes([_LEGACY, _LEGACY]))
            os.chmod(target, 0o400)
        return target, size

    def load(self, source: str | Path, name: str | None = None) -> Uploaded:
        """Check and copy an uploaded file; raises `UploadError` (one sentence) when it is unusable."""
        source = Path(source)
        name = name or source.name
        path, size = self._copy(source, name)
        try:
            statements, error = self.runner.tables(path)
            if error is not None:
                raise UploadError(f"SQLite cannot read {name}: {error}")
            if not statements:
                raise UploadError(f"{name} has no tables")
            schema = ";\n".join(statements) + ";"  # as `tunebench.sql.execute.schema_of` joins them
            if len(schema) > self.max_schema_chars:
                raise UploadError(
                    f"the tables of {name} take {len(schema):,} characters to describe; the model reads "
                    f"schemas up to {self.max_schema_chars:,}"
                )
        except UploadError:
            remove(path)
            raise
        return Uploaded(path, name, schema, size, len(statements))

    def add(self, session: str, source: str | Path, name: str | None = None) -> Uploaded:
        """The session's database from now on (its previous one is removed)."""
        uploaded = self.load(source, name)
        with self._lock:
            old = self._by_session.pop(session, None)
            self._by_session[session] = uploaded
        if old is not None:
            remove(old.path)
        return uploaded

    def get(self, session: str) -> Uploaded | None:
        with self._lock:
            return self._by_session.get(session)

    def drop(self, session: str) -> None:
        """The session ended: its database goes."""
        with self._lock:
            old = self._by_session.pop(session, None)
        if old is not None:
            remove(old.path)

    def sessions(self) -> int:
        with self._lock:
            return len(self._by_session)

    def close(self) -> None:
        with self._lock:
            self._by_session.clear()
        self._tmp.cleanup()


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
