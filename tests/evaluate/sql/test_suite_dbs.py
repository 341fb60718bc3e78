"""Test-suite databases: a wrong query cannot pass by luck on one database.

Measured on banks of mutated golds (drop WHERE, change a literal or a comparison, drop or change LIMIT,
swap a column, drop DISTINCT, drop a join condition): the share wrongly accepted falls from one
database to the test suite, on sql-create-context rows and on the embedded set."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.evaluate.sql.mutations import false_accepts, mutants
from tests.evaluate.sql.samples import scc_rows
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


def _rate(table, column):
    return sum(r[column] for r in table.values()) / sum(r[0] for r in table.values())


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


def test_mutated_sql_create_context_golds(tmp_path, scorer):
    examples = load_sql_create_context(
        _write(tmp_path / "scc.jsonl", scc_rows()), cache_dir=tmp_path / "dbs", heldout=False
    )
    table = false_accepts(examples, scorer)
    assert sum(r[0] for r in table.values()) >= 120
    single, suite = _rate(table, 1), _rate(table, 2)
    assert single > 0.08 and suite < 0.02, table  # measured: 11.4% → 0.8% (docs/eval-sql.md)


def test_mutated_embedded_golds(embedded, tmp_path, monkeypatch, scorer):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    examples = with_suites(load_embedded(embedded.data_dir, "test"))
    assert all(len(ex.databases) == SUITE_SIZE for ex in examples)
    table = false_accepts(examples, scorer)
    single, suite = _rate(table, 1), _rate(table, 2)
    assert suite < single / 2 and suite < 0.02, table  # measured over 8 builds: 2.3–3.0% → 0.4–1.0%


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
        "drop LIMIT",
        "change LIMIT",
        "swap a column",
        "drop DISTINCT",
        "drop a join condition",
    }


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)
