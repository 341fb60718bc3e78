"""Where training/evaluation rows come from: a hub id, local JSON/JSONL/Parquet/CSV files, or a
Spider-format folder.

Hub ids and files go through `datasets.load_dataset`, except JSONL files, read line by line so errors
name the line (blank lines counted) and a torn last line is an error; local files keep their path so
errors can name them. SFT rows (`load_messages`) and preference rows
(`preference_formats.load_preference_rows`) are read the same way (`read_parts`). A Spider-format folder (`database/` + questions files) is read by `tunebench.data.spider_folder`, the
reader SQL evaluation uses, so a model trains on the prompt it is scored with.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any, NamedTuple

from tunebench.data.formats import DataFormatError, detect_format, to_messages
from tunebench.data.jsonl import iter_jsonl
from tunebench.data.spider_folder import is_spider_folder, spider_messages
from tunebench.hub import hub_unavailable

_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}
FOLDER_FORMATS = ("spider",)  # formats read from a whole folder, not row by row


def local_files(source: str) -> list[Path] | None:
    """The local files `source` names (a file, a folder or a glob), or None for a hub id."""
    p = Path(source)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in _BUILDERS)
        if not files:
            raise FileNotFoundError(f"{source}: no .json/.jsonl/.parquet/.csv files in this folder")
        return files
    if p.is_file():
        return [p]
    if any(ch in source for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(source))
        if not files:
            raise FileNotFoundError(f"{source}: the pattern matches no file")
        return files
    if source.startswith((".", "/")) or Path(source).suffix in _BUILDERS:
        raise FileNotFoundError(f"{source}: no such file or folder")
    return None


def _load_file(path: Path):
    from datasets import load_dataset

    builder = _BUILDERS.get(path.suffix)
    if builder is None:
        raise DataFormatError(
            str(path), None, None, f"unsupported file type {path.suffix!r}; use {sorted(_BUILDERS)}"
        )
    try:
        return load_dataset(builder, data_files=str(path), split="train")
    except Exception as err:  # datasets wraps parse errors several levels deep
        raise DataFormatError(str(path), None, None, f"cannot be read as {builder}: {err}") from err


class Part(NamedTuple):
    """One file of a source (or the hub dataset): its rows and, for JSONL, each row's line number."""

    name: str
    rows: Any  # a datasets.Dataset, or a list of dicts read from a JSONL file
    numbers: list[int] | None  # line numbers (blank lines counted); None: rows count from 1

    @property
    def columns(self) -> list[str]:
        if hasattr(self.rows, "column_names"):
            return self.rows.column_names
        return sorted({k for row in self.rows for k in row})

    def head(self, n: int) -> Part:
        if isinstance(self.rows, list):
            return Part(self.name, self.rows[:n], self.numbers[:n] if self.numbers else None)
        return Part(self.name, self.rows.select(range(min(n, len(self.rows)))), None)


def read_parts(source: str, *, split: str = "train", config: str | None = None) -> list[Part]:
    """The parts of `source`: a hub id through `datasets` (needs the network), local files one by one. A
    JSONL file is read here line by line, so errors name the line an editor shows (blank lines counted)
    and a last line cut short is an error, never a row dropped in silence."""
    from datasets import load_dataset

    files = local_files(source)
    if files is None:
        try:
            return [Part(source, load_dataset(source, config, split=split), None)]
        except Exception as err:  # datasets raises many kinds (connection, not found, offline)
            raise hub_unavailable("dataset", source, err, "dataset_name") from None
    parts = []
    for f in files:
        if f.suffix == ".jsonl":
            numbered = list(iter_jsonl(f, torn_tail="error"))
            parts.append(Part(str(f), [row for _, row in numbered], [n for n, _ in numbered]))
        else:
            parts.append(Part(str(f), _load_file(f), None))
    return parts


def load_messages(
    source: str,
    *,
    split: str = "train",
    config: str | None = None,
    fmt: str = "auto",
    limit: int | None = None,
):
    """Load `source` and return a `datasets.Dataset` with one column, `messages`, every row validated."""
    from datasets import Dataset

    if fmt == "spider" or (fmt == "auto" and is_spider_folder(source)):
        if not is_spider_folder(source):
            raise DataFormatError(
                source,
                None,
                None,
                "dataset_format spider needs a folder with database/<db_id>/<db_id>.sqlite",
            )
        return Dataset.from_list([{"messages": m} for m in spider_messages(source, split, limit=limit)])
    rows: list[dict] = []
    for part in read_parts(source, split=split, config=config):
        if limit is not None:
            part = part.head(limit - len(rows))
        this_fmt = detect_format(part.columns, part.name) if fmt == "auto" else fmt
        converted = to_messages(part.rows, this_fmt, part.name, part.columns, row_numbers=part.numbers)
        rows.extend({"messages": m} for m in converted)
        if limit is not None and len(rows) >= limit:
            break
    return Dataset.from_list(rows)
