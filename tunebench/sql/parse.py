"""sqlglot parsing that never raises on hostile text (model output, pasted schemas, dataset golds).

sqlglot's recursive-descent parser spends several Python frames per nesting level, so about 100 nested
parentheses exhaust the interpreter's recursion limit and it raises RecursionError, not a SqlglotError.
A model stuck repeating "(" writes that easily: every parse of text tunebench did not write goes
through here, and such text counts as "does not parse".
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# What a parse (or printing a parsed tree back) of untrusted text can raise.
PARSE_ERRORS = (sqlglot.errors.SqlglotError, RecursionError)


def parse_sql(sql: str) -> exp.Expression | None:
    """The first statement of `sql` in SQLite's dialect, or None when it does not parse."""
    try:
        return sqlglot.parse_one(sql, read="sqlite")
    except PARSE_ERRORS:
        return None
