"""The SQL out of a model's answer: fences, labels and trailing text go; a `;` inside a string literal,
a quoted name or a comment is no end of the statement (issue 25, item 2)."""

from __future__ import annotations

import pytest

from tunebench.sql.extract import extract_sql


@pytest.mark.parametrize(
    ("answer", "sql"),
    [
        ("SELECT 'a;b' FROM t", "SELECT 'a;b' FROM t"),
        ("SELECT 'a;b' FROM t; SELECT 2", "SELECT 'a;b' FROM t"),
        ('SELECT "x;y" FROM t;', 'SELECT "x;y" FROM t'),
        ("SELECT [a;b], `c;d` FROM t", "SELECT [a;b], `c;d` FROM t"),
        ("SELECT 'it''s; fine' FROM t", "SELECT 'it''s; fine' FROM t"),
        ("SELECT 'two\nlines' FROM t", "SELECT 'two\nlines' FROM t"),  # a literal keeps its line break
        ("SELECT a\n   FROM t\n\nWHERE b = 1;\nThis query returns…", "SELECT a FROM t WHERE b = 1"),
        ("```sql\nSELECT 'x;y' FROM t\n```\nExplanation: …", "SELECT 'x;y' FROM t"),
        ("SQL: SELECT 1 -- it's done; really\nFROM t", "SELECT 1 FROM t"),
        ("SELECT 1 /* ; */ + 2; junk", "SELECT 1 + 2"),
        ("SELECT 1<|im_end|>SELECT 2", "SELECT 1"),
        ("SELECT 'never closed; FROM t", "SELECT 'never closed; FROM t"),
        ("", ""),
    ],
)
def test_extract_sql(answer, sql):
    assert extract_sql(answer) == sql
