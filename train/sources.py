"""Where training/evaluation rows come from: a hub id, local JSON/JSONL/Parquet/CSV files, or a
Spider-format folder.

Hub ids and files go through `datasets.load_dataset`; local files keep their path so errors can name
them. A Spider-format folder (`database/` + questions files) is read by `tunebench.data.spider_folder`, the
reader SQL evaluation uses, so a model trains on the prompt it is scored with.
"""

from __future__ import annotations

import glob
from pathlib import Path

from tunebench.data.formats import DataFormatError, detect_format, to_messages
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


def load_messages(
    source: str,
    *,
    split: str = "train",
    config: str | None = None,
    fmt: str = "auto",
    limit: int | None = None,
):
    """Load `source` and return a `datasets.Dataset` with one column, `messages`, every row validated."""
    from datasets import Dataset, load_dataset

    if fmt == "spider" or (fmt == "auto" and is_spider_folder(source)):
        if not is_spider_folder(source):
            raise DataFormatError(
                source,
                None,
                None,
                "dataset_format spider needs a folder with database/<db_id>/<db_id>.sqlite",
            )
        return Dataset.from_list([{"messages": m} for m in spider_messages(source, split, limit=limit)])
    files = local_files(source)
    parts = []
    if files is None:
        try:
            ds = load_dataset(source, config, split=split)  # hub id: the real loader, needs the network
        except Exception as err:  # datasets raises many kinds (connection, not found, offline)
            raise hub_unavailable("dataset", source, err, "dataset_name") from None
        parts.append((source, ds))
    else:
        parts.extend((str(f), _load_file(f)) for f in files)
    rows: list[dict] = []
    for name, ds in parts:
        if limit is not None:
            ds = ds.select(range(min(limit - len(rows), len(ds))))
        this_fmt = detect_format(ds.column_names, name) if fmt == "auto" else fmt
        rows.extend({"messages": m} for m in to_messages(ds, this_fmt, name, ds.column_names))
        if limit is not None and len(rows) >= limit:
            break
    return Dataset.from_list(rows)
