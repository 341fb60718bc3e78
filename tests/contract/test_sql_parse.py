"""Parsing text tunebench did not write: hostile nesting is "does not parse", never an exception."""

from __future__ import annotations

import pytest

from tunebench.sql.parse import parse_sql
from tunebench.sql.schema import SchemaError, parse_schema

DEEP = "SELECT " + "(" * 300 + "1" + ")" * 300


def test_deep_nesting_is_unparseable_not_a_crash():
    assert parse_sql(DEEP) is None
    assert parse_sql("SELECT nme FRM t WHERE") is None
    assert (
        parse_sql("SELECT a FROM t WHERE " + " AND ".join(["x = 1"] * 2000)) is not None
    )  # long, flat: fine
    assert parse_sql("SELECT (((1)))").sql() == "SELECT (((1)))"


def test_a_pasted_schema_nested_too_deeply_is_a_schema_error():
    with pytest.raises(SchemaError, match="nests too deeply"):
        parse_schema("CREATE TABLE t (a INTEGER CHECK " + "(" * 300 + "a > 0" + ")" * 300 + ")")
