"""A schema a user pastes: checked with the one schema parser (`tunebench.sql.schema.parse_schema`),
then built into an empty SQLite database so the generated SQL runs against it: an unknown table or
column is then an SQL error the user sees, not a query nobody checked.

Messages quote what the user typed, never sqlglot's re-rendering of it ("this is not sql" would
otherwise come back as "this IS DISTINCT FROM sql").
"""

from __future__ import annotations

import hashlib
import re
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


def _statements(schema: str) -> list[tuple[str, list[int]]]:
    """Each statement as the user typed it (split on `;` outside quotes and comments), with the offsets
    (within it) of every CREATE keyword after its first token: a `;` missing between two statements.
    A piece with no tokens (only a trailing `-- comment` or `/* … */`) is no statement."""
    try:
        tokens = sqlglot.tokenize(schema, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return [(schema.strip(), [])] if schema.strip() else []
    out: list[tuple[str, list[int]]] = []
    start, piece = 0, []
    for token in [*tokens, None]:
        if token is not None and token.token_type != TokenType.SEMICOLON:
            piece.append(token)
            continue
        end = token.start if token is not None else len(schema)
        if piece:  # tokens, not just comments and blanks
            text = schema[start:end]
            lead = len(text) - len(text.lstrip())
            creates = [t.start - start - lead for t in piece[1:] if t.token_type == TokenType.CREATE]
            out.append((text.strip(), creates))
        start, piece = (token.end + 1 if token is not None else end), []
    return out


def split_statements(schema: str) -> list[str]:
    """The statements of `schema` as the user typed them (split on `;` outside quotes and comments)."""
    return [text for text, _ in _statements(schema)]


_TOKEN_REPR = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: \d+, col: \d+.*?>")
_CLASS_REPR = re.compile(r"<class '[\w.]*?(\w+)'>")
NESTS_TOO_DEEPLY = "nests too deeply"


def _parser_reason(err: SchemaError) -> str:
    """Why the parser stopped, in its words but readable: sqlglot's first error without the ANSI
    highlight and token reprs, with where it stopped; or tunebench's own reason (nesting too deep)."""
    cause = err.__cause__
    details = getattr(cause, "errors", None)
    if details:
        first = details[0]
        text = _TOKEN_REPR.sub(lambda m: f'"{m.group(1)}"', str(first.get("description", "")))
        text = _CLASS_REPR.sub(r"\1", text)
        return f"{text} (line {first.get('line')}, column {first.get('col')})"
    return str(err).split(": ", 1)[-1]


def read_schema(schema: str) -> list[TableDef]:
    """The tables of a pasted schema; raises `SchemaError` with a message that quotes the user's text."""
    statements = _statements(schema)
    if not statements:
        raise SchemaError("the schema is empty: paste CREATE TABLE statements")
    tables: list[TableDef] = []
    for number, (statement, creates) in enumerate(statements, 1):
        where = f"statement {number} {_quote(statement)}" if len(statements) > 1 else _quote(statement)
        if creates:
            raise SchemaError(
                f"a ';' is missing before {_quote(statement[creates[0] :])}: "
                "end each CREATE TABLE statement with ';'"
            )
        try:
            tables += parse_schema(statement)
        except SchemaError as err:
            # parse_schema's reason, without its re-rendered SQL (the text after the colon)
            reason = str(err).split(":", 1)[0]
            if NESTS_TOO_DEEPLY in str(err):  # not a syntax error: the parser's own limit
                raise SchemaError(
                    f"the schema {NESTS_TOO_DEEPLY} for tunebench's SQL parser (sqlglot runs out of "
                    f"recursion; SQLite itself may accept it): {where}"
                ) from None
            if reason.startswith("cannot parse"):
                raise SchemaError(
                    f"the schema does not parse as SQL ({_parser_reason(err)}): {where}"
                ) from None
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
