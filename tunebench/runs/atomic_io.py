"""Write a file whole or not at all: a temporary file beside it, then `os.replace`.

Every stage writes results that a killed run must not leave half-written (manifests, recipes, model
cards, reports, figures, FastChat files, SQLite databases, model folders), so they all go through these.
Files that grow a line at a time (predictions, answers, judgments) use `tunebench.data.jsonl` instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

# tempfile makes private files (0600) and folders (0700); what it creates here becomes an ordinary file
# on the models volume, which another user (a serving container, a colleague) must be able to read. So
# each gets the mode `open()` and `mkdir()` would give under this process's umask, read once at import
# (os.umask can only be read by setting it: not something to do while threads write files).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE, DIR_MODE = 0o666 & ~_UMASK, 0o777 & ~_UMASK


def _temporary(path: Path, *, is_dir: bool = False) -> Path:
    """A new, empty temporary file or folder beside `path`, with an ordinary file's mode."""
    if is_dir:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        os.chmod(tmp, DIR_MODE)
        return tmp
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return Path(name)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


@contextlib.contextmanager
def atomic_path(path: str | Path, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block ends cleanly it replaces `path` whole.

    For whatever writes through a path of its own rather than bytes (matplotlib's `savefig`, SQLite,
    `save_pretrained` into a folder): a killed run leaves the old `path` or the new one, never half
    of one. A folder that already exists is moved aside and removed only after the new one is in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path, is_dir=is_dir)
    try:
        yield tmp
        if is_dir and path.is_dir():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
