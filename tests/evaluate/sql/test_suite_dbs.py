"""Test-suite databases: a wrong query cannot pass by luck on one database, a right one always passes.

Measured on banks of wrong variants of the golds (tests/evaluate/sql/mutations.py, 18 mutations: the
ones a model makes, and the ones a hostile tester found passing, issue 25 item 1: `=` read as LIKE, as
a prefix LIKE or with COLLATE NOCASE, a literal's case, a MIN whose WHERE is dropped): under 1% is
accepted on the suite, on the embedded test split and on synthesized sql-create-context databases
(docs/eval-sql.md has the rates); every gold and its equivalent rewrites are accepted."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.evaluate.sql.mutations import MUTATIONS, false_accepts, false_rejects, mutants, rates
from tests.evaluate.sql.samples import scc_bank
from tunebench.evaluate.sql.data import load_embedded
from tunebench.evaluate.sql.load import with_suites
from tunebench.evaluate.sql.scoring import Scorer
from tunebench.evaluate.sql.sql_create_context import load_sql_create_context
from tunebench.evaluate.sql.suite_dbs import SUITE_SIZE
from tunebench.sql.sandbox import SqlSandbox

HAVING = {
    "question": "Which states have more than 3 heads?",
    "context": "CREATE TABLE head (name VARCHAR, born_state VARCHAR, age INTEGER)",
    "answer": "SELECT born_state FROM head WHERE age > 30 GROUP BY born_state HAVING COUNT(*) > 3",
}


@pytest.fixture(scope="module")
def scorer():
    with SqlSandbox() as box:
        yield Scorer(box, timeout_s=5.0, max_rows=10000)


def test_having_golds_get_a_group_inside_the_bound(tmp_path, scorer):
    source = tmp_path / "having.jsonl"
    source.write_text(json.dumps(HAVING) + "\n")
    (ex,) = load_sql_create_context(str(source), cache_dir=tmp_path / "dbs", heldout=False)
    assert len(ex.databases) == SUITE_SIZE
    golds = [scorer.run_gold(db, ex.query).rows for db in ex.databases]
    assert golds[0] == [], "a 20-row random fill has no state with 4 heads over 30: the old blind spot"
    assert any(golds[1:]), golds
    dropped = "SELECT born_state FROM head WHERE age > 30 GROUP BY born_state HAVING COUNT(*) > 4"
    decided = scorer.decide(ex.databases, ex.query, dropped)
    assert decided["single_db"]["spider"][0] and not decided["spider"][0]
    assert not decided["gold_empty_all"]
    with sqlite3.connect(ex.databases[1]) as con:  # the planted groups: 4 rows inside, 3 outside
        counts = sorted(
            n for (n,) in con.execute("SELECT COUNT(*) FROM head WHERE age > 30 GROUP BY born_state")
        )
    assert 4 in counts and 3 in counts


def _check_bank(table, *, at_least: int) -> None:
    n, one_db, suite = rates(table)
    accepted = [pair for row in table.values() for pair in row[3]]
    assert n >= at_least
    assert suite < 0.01 * n, accepted  # measured: 0 (docs/eval-sql.md)
    assert one_db > 0.1 * n  # one database alone lets many through: the bank has teeth


@pytest.fixture(scope="module")
def scc_examples(tmp_path_factory):
    root = tmp_path_factory.mktemp("scc")
    return load_sql_create_context(
        _write(root / "scc.jsonl", scc_bank()), cache_dir=root / "dbs", heldout=False
    )


@pytest.fixture(scope="module")
def embedded_examples(embedded, tmp_path_factory):
    import os

    old = os.environ.get("TUNEBENCH_DATA")
    os.environ["TUNEBENCH_DATA"] = str(tmp_path_factory.mktemp("data"))
    try:
        examples = with_suites(load_embedded(embedded.data_dir, "test"))
    finally:
        if old is None:
            del os.environ["TUNEBENCH_DATA"]
        else:
            os.environ["TUNEBENCH_DATA"] = old
    assert all(len(ex.databases) == SUITE_SIZE for ex in examples)
    return examples


def test_mutated_sql_create_context_golds(scc_examples, scorer):
    _check_bank(false_accepts(scc_examples, scorer), at_least=600)


def test_mutated_embedded_golds(embedded_examples, scorer):
    _check_bank(false_accepts(embedded_examples, scorer), at_least=1200)


def test_right_queries_pass_the_whole_suite(scc_examples, embedded_examples, scorer):
    """Every gold, and its rewrites with the same answer (conditions reordered, `'x' = col`,
    `col IN ('x')`, BETWEEN spelled out), is accepted on every database of its suite."""
    assert false_rejects(scc_examples, scorer) == []
    assert false_rejects(embedded_examples, scorer) == []


@pytest.mark.parametrize(
    "wrong",
    [
        "SELECT COUNT(*) FROM books WHERE genre LIKE 'essay'",
        "SELECT COUNT(*) FROM books WHERE genre LIKE 'essay%'",
        "SELECT COUNT(*) FROM books WHERE genre = 'essay' COLLATE NOCASE",
        "SELECT COUNT(*) FROM books WHERE genre = 'Essay'",
    ],
)
def test_a_looser_string_match_is_caught(embedded_examples, scorer, wrong):
    """Issue 25, item 1: strings were only ever violated by another word, never by another case or an
    extension, so LIKE, a prefix LIKE and COLLATE NOCASE passed every database."""
    ex = next(e for e in embedded_examples if e.query == "SELECT COUNT(*) FROM books WHERE genre = 'essay'")
    assert scorer.decide(ex.databases, ex.query, ex.query)["spider"][0]
    assert not scorer.decide(ex.databases, ex.query, wrong)["spider"][0]


def test_a_min_whose_where_is_dropped_is_caught(embedded_examples, scorer):
    """Issue 25, item 1: the planted rows' other columns took the literal's type ('Aaaa' in an integer
    column), which SQLite sorts above every number, so MIN never saw them."""
    golds = [
        ex for ex in embedded_examples if ex.query.startswith(("SELECT MIN(", "SELECT MAX(", "SELECT SUM("))
    ]
    golds = [ex for ex in golds if " WHERE " in ex.query and " JOIN " not in ex.query]
    assert len(golds) >= 5
    passed = [
        ex.query
        for ex in golds
        if scorer.decide(ex.databases, ex.query, ex.query.split(" WHERE ")[0])["spider"][0]
    ]
    assert passed == []


def test_mutations_apply():
    names = {
        name
        for name, _ in mutants(
            "SELECT DISTINCT a.x FROM a JOIN b ON a.id = b.id WHERE a.y > 3 ORDER BY a.x LIMIT 2",
            "CREATE TABLE a (id INT, x TEXT, y INT); CREATE TABLE b (id INT)",
        )
    }
    assert names == {
        "drop WHERE",
        "change a literal",
        "change a comparison",
        "flip ORDER BY",
        "drop LIMIT",
        "change LIMIT",
        "swap a column",
        "drop DISTINCT",
        "drop a join condition",
    }
    strings = {
        name
        for name, _ in mutants(
            "SELECT MIN(y) FROM a WHERE x = 'Essay' AND y > 3",
            "CREATE TABLE a (id INT, x TEXT, y INT)",
        )
    }
    assert {"change a literal's case", "shorten a literal", "= to LIKE", "= to LIKE prefix"} <= strings
    assert {"= to COLLATE NOCASE", "AND to OR", "drop a condition", "MIN to MAX"} <= strings
    assert set(MUTATIONS) == names | strings | {"SUM to AVG"}
    # Never a mutant that could be equivalent: a literal repeated in its IN list, a case change
    # without letters, LIKE on a pattern that is not plain text.
    assert "change a literal" not in dict(
        mutants("SELECT a FROM t WHERE b IN ('Texas', 'Texas')", "CREATE TABLE t (a INT, b TEXT)")
    )
    assert "change a literal's case" not in dict(
        mutants("SELECT a FROM t WHERE b = '1995'", "CREATE TABLE t (a INT, b TEXT)")
    )
    assert "= to LIKE" not in dict(
        mutants("SELECT a FROM t WHERE b = 'a_b'", "CREATE TABLE t (a INT, b TEXT)")
    )


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_untrusted_ddl_and_triggers_never_run_in_process(tmp_path):
    """Issue 23, item 10: only the sandbox runs SQL tunebench did not write. A dataset's CHECK
    expression is left out of the synthesized database; a Spider database's trigger is dropped in the
    copies before their rows change (it would have written to `log`)."""
    from tunebench.evaluate.sql.suite_dbs import planted_variant, populated_variant
    from tunebench.evaluate.sql.synth_db import build_synth_db

    path = build_synth_db(
        tmp_path / "dbs", "CREATE TABLE t (a INTEGER CHECK (a > 1000), b TEXT)", "SELECT b FROM t WHERE a = 5"
    )
    with sqlite3.connect(path) as con:
        (create,) = con.execute("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone()
        assert (
            "CHECK" not in create.upper()
            and con.execute("SELECT COUNT(*) FROM t WHERE a = 5").fetchone()[0] >= 1
        )
    db = tmp_path / "spider.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript(
            "CREATE TABLE t (a INTEGER, b TEXT); CREATE TABLE log (x INTEGER);"
            "CREATE TRIGGER spy AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (1); END;"
            "CREATE TRIGGER spy2 AFTER DELETE ON t BEGIN INSERT INTO log VALUES (2); END;"
            + "".join(f"INSERT INTO t VALUES ({i}, 'w{i}');" for i in range(40))
        )
    for copy in (
        planted_variant(db, "SELECT b FROM t WHERE a > 3 AND b = 'w9'", tmp_path / "suites"),
        populated_variant(db, tmp_path / "suites", 1),
    ):
        with sqlite3.connect(copy) as con:
            assert con.execute("SELECT COUNT(*) FROM log").fetchone()[0] == 0
            assert con.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 0
    with sqlite3.connect(db) as con:  # the original keeps its triggers
        assert con.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 2
