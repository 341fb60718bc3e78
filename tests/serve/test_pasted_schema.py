"""A pasted schema: checked with the one schema parser, messages that quote what the user typed, and
an empty SQLite database built from it (reused for the same schema, read-only when queried)."""

from __future__ import annotations

import sqlite3

import pytest

from tunebench.serve.pasted_schema import (
    EmptyDatabases,
    SchemaError,
    check_schema,
    read_schema,
    split_statements,
)
from tunebench.sql.execute import execute_readonly, schema_of


def test_statements_are_split_as_typed():
    text = 'CREATE TABLE a (x INT);\n  this is not sql ;CREATE TABLE "b;c" (y TEXT) -- a ; comment\n'
    assert split_statements(text) == [
        "CREATE TABLE a (x INT)",
        "this is not sql",
        'CREATE TABLE "b;c" (y TEXT) -- a ; comment',
    ]
    assert split_statements("  ;; ") == []


@pytest.mark.parametrize(
    "schema, message",
    [
        ("this is not sql", 'the schema may contain only CREATE TABLE statements, not "this is not sql"'),
        (
            "CREATE TABLE a (x INT); DELETE FROM a",
            'the schema may contain only CREATE TABLE statements, not statement 2 "DELETE FROM a"',
        ),
        (
            "CREATE TABLE (",
            'the schema does not parse as SQL (Expected table name but got "(" (line 1, column 14)): '
            '"CREATE TABLE ("',
        ),
        # a missing ';' between two statements is named as such, not as "only CREATE TABLE statements"
        (
            "CREATE TABLE a (x INT)\nCREATE TABLE b (y INT);",
            """a ';' is missing before "CREATE TABLE b (y INT)": end each CREATE TABLE statement with ';'""",
        ),
        (
            "create table t as select 1",
            'the schema cannot be used (CREATE TABLE without a column list): "create table t as select 1"',
        ),
        ("CREATE TABLE a (x INT); create table A (y int)", "the schema defines table 'a' twice"),
        ("  ", "the schema is empty: paste CREATE TABLE statements"),
    ],
)
def test_bad_schemas_are_named_in_the_users_words(schema, message):
    assert check_schema(schema) == message
    with pytest.raises(SchemaError):
        read_schema(schema)


@pytest.mark.parametrize("tail", ["-- the end", "/* done */", "-- a\n/* b */\n", "; -- two ;; semicolons"])
def test_comments_after_the_last_statement_are_not_a_statement(tail, tmp_path):
    schema = f"CREATE TABLE a (x INT);\nCREATE TABLE b (y TEXT); {tail}"
    assert check_schema(schema) is None
    assert [t.name for t in read_schema(schema)] == ["a", "b"]
    assert "CREATE TABLE b" in schema_of(EmptyDatabases(tmp_path).path_for(schema))


def test_nesting_past_the_parser_is_named_as_such_not_as_bad_sql():
    depth = 50
    schema = "CREATE TABLE t (x INT CHECK (" + "(" * depth + "x > 0" + ")" * depth + "));"
    sqlite3.connect(":memory:").execute(schema)  # SQLite accepts it
    message = check_schema(schema)
    assert message.startswith(
        "the schema nests too deeply for tunebench's SQL parser (sqlglot runs out of recursion"
    )
    assert "does not parse as SQL" not in message and message.endswith('…"')


def test_a_long_statement_is_quoted_shortened():
    message = check_schema("SELECT " + "x, " * 100 + "y FROM t")
    assert message.startswith('the schema may contain only CREATE TABLE statements, not "SELECT x, x,')
    assert message.endswith('…"') and len(message) < 140


def test_empty_database_has_the_tables_and_no_rows(tmp_path):
    dbs = EmptyDatabases(tmp_path, max_kept=2)
    schema = "CREATE TABLE head (id INTEGER PRIMARY KEY, name TEXT, age INTEGER);\nCREATE TABLE dept (id INT, head_id INT);"
    path = dbs.path_for(schema)
    assert (
        path.parent == tmp_path
        and "CREATE TABLE head" in schema_of(path)
        and "CREATE TABLE dept" in schema_of(path)
    )
    ok = execute_readonly(path, "SELECT name FROM head JOIN dept ON dept.head_id = head.id WHERE age > 56")
    assert ok.ok and ok.columns == ["name"] and ok.rows == []
    assert (
        execute_readonly(path, "SELECT salary FROM head").error == "OperationalError: no such column: salary"
    )
    assert execute_readonly(path, "SELECT * FROM staff").error == "OperationalError: no such table: staff"
    assert dbs.path_for(schema) == path  # the same schema is not rebuilt
    # At most `max_kept` files: the oldest go first.
    others = [dbs.path_for(f"CREATE TABLE t{i} (x INT)") for i in range(3)]
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == sorted(p.name for p in others[-2:])


def test_sqlite_refusal_is_one_sentence(tmp_path):
    # sqlglot reads it; SQLite refuses two primary keys on one table
    with pytest.raises(
        SchemaError, match='SQLite refuses the schema: table "t" has more than one primary key'
    ):
        EmptyDatabases(tmp_path).path_for("CREATE TABLE t (a INT PRIMARY KEY, b INT PRIMARY KEY)")
    assert not list(tmp_path.iterdir())  # nothing half-built is left behind
