"""Resumable JSONL, written once: SQL predictions, MT-Bench answers and judgments, bench results.

A record is one line, appended and flushed as soon as it is finished, so a killed run keeps every
finished record and a rerun does only what is missing.

The one rule for damage: a kill can cut the LAST line short (it then has no newline). Such a line was
never a complete record: readers skip it and `JsonlAppender` removes it before appending (a last line
that parses is a whole record that only lacks its newline: it is kept). Any other
line that is not a JSON object is real damage and raises `DataFormatError` naming the file and the
1-based line number, as editors show it. A dataset someone hands in (`torn_tail="error"`) was not
written by a killed run: there a torn last line is damage too, never dropped in silence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from tunebench.data.formats import DataFormatError
from tunebench.runs.atomic_io import atomic_write_bytes


def iter_jsonl(path: str | Path, *, torn_tail: str = "skip") -> Iterator[tuple[int, dict]]:
    """(line number, row) for every record of `path`; nothing for a missing file. `torn_tail="error"`
    for input data: a last line cut short raises like any other damage."""
    path = Path(path)
    if not path.exists():
        return
    data = path.read_bytes()
    torn = bool(data) and not data.endswith(b"\n")
    lines = data.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if torn and number == len(lines):
                if torn_tail == "error":
                    raise DataFormatError(
                        str(path), number, None, f"not valid JSON ({err.msg}); the file ends mid-line"
                    ) from err
                return  # cut short by a kill: never a record
            raise DataFormatError(str(path), number, None, f"not valid JSON ({err.msg})") from err
        if not isinstance(row, dict):
            raise DataFormatError(str(path), number, None, "a line must be a JSON object")
        yield number, row


def read_jsonl(path: str | Path) -> list[dict]:
    return [row for _, row in iter_jsonl(path)]


def write_jsonl(path: str | Path, rows) -> None:
    """Replace `path` with `rows`, atomically."""
    atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))


class JsonlAppender:
    """Append one record per line, flushed at once; a torn last line is removed first."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._heal_torn_tail()
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _heal_torn_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        for _ in iter_jsonl(self.path):  # damage before the end raises here, naming its line
            pass
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        try:
            json.loads(data[cut:])
        except json.JSONDecodeError:  # cut short by a kill: drop it
            atomic_write_bytes(self.path, data[:cut])
        else:  # a whole record that only lacks its newline (another tool wrote it): keep it
            atomic_write_bytes(self.path, data + b"\n")

    def write(self, row: dict) -> None:
        self._f.write(json.dumps(row) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
