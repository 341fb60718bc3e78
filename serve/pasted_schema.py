"""A schema a user pastes: checked with the one schema parser (`tunebench.sql.schema.parse_schema`),
then built into an empty SQLite database so the generated SQL runs against it: an unknown table or
column is then an SQL error the user sees, not a query nobody checked.

Messages quote what the user typed, never sqlglot's re-rendering of it ("this is not sql" would
otherwise come back as "this IS DISTINCT FROM sql").
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
import threading
from pathlib import Path

import sqlglot
from sqlglot.tokens import TokenType

from tunebench.sql.schema import SchemaError, TableDef, parse_schema

_QUOTE_CHARS = 60


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= _QUOTE_CHARS else f'"{text[: _QUOTE_CHARS - 1]}…"'


def split_statements(schema: str) -> list[str]:
    """The statements of `schema` as the user typed them (split on `;` outside quotes and comments)."""
    try:
        tokens = sqlglot.tokenize(schema, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return [schema.strip()] if schema.strip() else []
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(schema[start : token.start])
            start = token.end + 1
    pieces.append(schema[start:])
    return [p.strip() for p in pieces if p.strip()]


def read_schema(schema: str) -> list[TableDef]:
    """The tables of a pasted schema; raises `SchemaError` with a message that quotes the user's text."""
    statements = split_statements(schema)
    if not statements:
        raise SchemaError("the schema is empty: paste CREATE TABLE statements")
    tables: list[TableDef] = []
    for number, statement in enumerate(statements, 1):
        where = f"statement {number} {_quote(statement)}" if len(statements) > 1 else _quote(statement)
        try:
            tables += parse_schema(statement)
        except SchemaError as err:
            # parse_schema's reason, without its re-rendered SQL (the text after the colon)
            reason = str(err).split(":", 1)[0]
            if reason.startswith("cannot parse"):
                raise SchemaError(f"the schema does not parse as SQL: {where}") from None
            if reason.startswith("not a CREATE TABLE"):
                raise SchemaError(
                    f"the schema may contain only CREATE TABLE statements, not {where}"
                ) from None
            raise SchemaError(f"the schema cannot be used ({reason}): {where}") from None
    names = [t.name.lower() for t in tables]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaError(f"the schema defines table {duplicates[0]!r} twice")
    return tables


def check_schema(schema: str) -> str | None:
    """Why a pasted schema cannot be used, or None."""
    try:
        read_schema(schema)
    except SchemaError as err:
        return str(err)
    return None


class EmptyDatabases:
    """Empty SQLite databases built from pasted schemas, one file per distinct schema (kept for reuse:
    the same schema asked again is not rebuilt). The files live in a private temporary folder."""

    def __init__(self, root: Path | None = None, max_kept: int = 64):
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="tunebench-pasted-")
        self.root = Path(root or self._tmp.name)
        self.max_kept = max_kept
        self._lock = threading.Lock()

    def path_for(self, schema: str) -> Path:
        """The database built from `schema`; raises `SchemaError` (quoting the user) when it cannot be."""
        tables = read_schema(schema)
        digest = hashlib.sha256(schema.encode()).hexdigest()[:24]
        path = self.root / f"{digest}.sqlite"
        with self._lock:
            if path.exists():
                return path
            self._evict()
            partial = path.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            con = sqlite3.connect(partial)
            try:
                for table in tables:  # sqlglot's regeneration of a parsed CREATE TABLE: nothing else runs
                    con.execute(table.create_sql)
                con.commit()
            except sqlite3.Error as err:
                con.close()
                partial.unlink(missing_ok=True)
                raise SchemaError(f"SQLite refuses the schema: {err}") from None
            con.close()
            partial.replace(path)
        return path

    def _evict(self) -> None:
        kept = sorted(self.root.glob("*.sqlite"), key=lambda p: p.stat().st_mtime)
        for old in kept[: max(0, len(kept) - self.max_kept + 1)]:
            old.unlink(missing_ok=True)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
