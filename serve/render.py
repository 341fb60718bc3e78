"""What the page shows of text nobody here wrote (a user's question or schema, a model's SQL, SQLite's
messages, a server's error) and of values SQLite returns: quoted as typed, never rendered as markup.

Gradio's Markdown would render a pasted `<b>bold</b>` bold and turn `<img …>` or `<a href=…>` into
elements (sanitized, but no longer the user's text), so the status and health lines are HTML built
here, with every character of foreign text escaped (`html.escape`): the page shows exactly what was
typed, backticks and all.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import pandas as pd

BLOB_PREVIEW_BYTES = 16  # a blob is shown as SQLite's X'…' literal, up to this many bytes, then its size


def quote(text: str) -> str:
    """Foreign text for the page: every character as typed (newlines kept as spaces)."""
    return html.escape(" ".join(str(text).split()), quote=True)


def labelled(label: str, message: str) -> str:
    """A status or health line: our own bold label, then the foreign message, escaped."""
    return f"<p><strong>{html.escape(label)}</strong> {quote(message)}</p>"


def display_value(value):
    """A value as a person reads it: blobs as SQLite's hex literal (X'00FF'), with their size when
    longer than BLOB_PREVIEW_BYTES; non-finite floats by name (JSON has no Infinity); the rest as is."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if len(data) <= BLOB_PREVIEW_BYTES:
            return f"X'{data.hex().upper()}'"
        return f"X'{data[:BLOB_PREVIEW_BYTES].hex().upper()}…' ({len(data):,} bytes)"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def human_size(n: int) -> str:
    """1,234 bytes, 256 KiB, 1.5 MiB."""
    if n < 1 << 10:
        return f"{n:,} bytes"
    if n < 1 << 20:
        return f"{n / 2**10:.0f} KiB"
    return f"{n / 2**20:.1f} MiB".replace(".0 MiB", " MiB")


def display_rows(rows: Sequence[Sequence]) -> list[list]:
    return [[display_value(v) for v in row] for row in rows]


def distinct_headers(columns: Sequence[str]) -> list[str]:
    """`SELECT name, name` is valid SQL; a table needs distinct headers: name, name (2)."""
    out, seen = [], {}
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def rows_frame(columns: Sequence[str], rows: Sequence[Sequence]) -> pd.DataFrame:
    return pd.DataFrame(display_rows(rows), columns=distinct_headers(columns))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def chart_columns(columns: Sequence[str], rows: Sequence[Sequence]) -> tuple[str, str] | None:
    """(label column, numeric column) when a result is one number per label, worth a bar chart:
    two distinct columns, at least two rows, one column all text, the other all finite numbers."""
    if len(columns) != 2 or len(rows) < 2 or columns[0] == columns[1]:
        return None
    for label, number in ((0, 1), (1, 0)):
        if all(isinstance(r[label], str) for r in rows) and all(_is_number(r[number]) for r in rows):
            return columns[label], columns[number]
    return None
