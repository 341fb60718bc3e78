"""The `strict` execution match, normalized exact match and raw match on hand-made cases, run on a
real SQLite database through the same sandbox and scorer the evaluation uses."""

from __future__ import annotations

import sqlite3

import pytest

from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.metrics import classify_sql, exact_match, normalize_sql, raw_match
from tunebench.evaluate.sql.scoring import Scorer
from tunebench.sql.sandbox import SqlSandbox

SCHEMA = (
    "CREATE TABLE staff (id INTEGER, name TEXT, dept_id INTEGER, salary REAL, city TEXT);\n"
    "CREATE TABLE dept (id INTEGER, title TEXT)"
)
STAFF = [
    (1, "Ada", 1, 100.0, "Oslo"),
    (2, "Bo", 1, 200.0, "Oslo"),
    (3, "Cy", 2, 300.5, None),
    (4, "Di", 2, 100.0, "Rome"),
    (5, "Ed", 3, 250.25, "Rome"),
    (6, "Flo", 3, 0.1, None),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("metrics") / "shop.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.executemany("INSERT INTO staff VALUES (?, ?, ?, ?, ?)", STAFF)
    con.executemany("INSERT INTO dept VALUES (?, ?)", [(1, "Sales"), (2, "Ops"), (3, "R&D")])
    con.commit()
    con.close()
    return path


@pytest.fixture(scope="module")
def scorer():
    with SqlSandbox(grace_s=1.0) as box:
        yield Scorer(box, timeout_s=0.5, max_rows=1000)


def score(scorer, db, gold, pred, raw=None):
    ex = SqlExample("x", "shop", str(db), SCHEMA, "q?", gold, "easy", "t")
    return scorer.score(ex, raw if raw is not None else pred)


# (gold, prediction, strict execution match?) — each pair differs as strings
EXECUTION_CASES = [
    pytest.param(
        "SELECT name FROM staff WHERE city = 'Oslo'",
        "SELECT name FROM staff WHERE city = 'Oslo' ORDER BY name DESC",
        True,
        id="rows-reordered",
    ),
    pytest.param(
        "SELECT name, salary FROM staff", "SELECT salary, name FROM staff", True, id="columns-reordered"
    ),
    pytest.param(
        "SELECT name, city, salary FROM staff",
        "SELECT city, salary, name FROM staff",
        True,
        id="three-columns-rotated",
    ),
    pytest.param(
        "SELECT count(*) FROM staff", "SELECT count(*) AS n FROM staff", True, id="column-name-ignored"
    ),
    pytest.param(
        "SELECT name FROM staff ORDER BY salary DESC, id",
        "SELECT name FROM staff ORDER BY salary ASC, id",
        False,
        id="order-by-wrong-direction",
    ),
    pytest.param(
        "SELECT name FROM staff ORDER BY salary DESC, id",
        "SELECT name FROM staff ORDER BY 0 - salary, id",
        True,
        id="order-by-same-order",
    ),
    pytest.param(
        "SELECT name FROM staff ORDER BY id", "SELECT name FROM staff", True, id="order-by-natural-order"
    ),
    pytest.param(
        "SELECT name FROM staff ORDER BY id DESC", "SELECT name FROM staff", False, id="order-by-ignored"
    ),
    pytest.param("SELECT DISTINCT city FROM staff", "SELECT city FROM staff", False, id="distinct-missing"),
    pytest.param(
        "SELECT DISTINCT city FROM staff",
        "SELECT city FROM staff GROUP BY city",
        True,
        id="distinct-as-group-by",
    ),
    pytest.param(
        "SELECT DISTINCT dept_id FROM staff", "SELECT id FROM dept", True, id="distinct-other-table"
    ),
    pytest.param(
        "SELECT city FROM staff", "SELECT city FROM staff WHERE city IS NOT NULL", False, id="nulls-dropped"
    ),
    pytest.param(
        "SELECT count(*) FROM staff", "SELECT count(city) FROM staff", False, id="count-skips-nulls"
    ),
    pytest.param(
        "SELECT name FROM staff WHERE city IS NULL",
        "SELECT name FROM staff WHERE coalesce(city, '') = ''",
        True,
        id="null-test-rewritten",
    ),
    pytest.param(
        "SELECT city, count(*) FROM staff GROUP BY city",
        "SELECT city, count(*) FROM staff GROUP BY 1",
        True,
        id="null-group-equals-null",
    ),
    pytest.param(
        "SELECT avg(salary) FROM staff",
        "SELECT sum(salary) / count(salary) FROM staff",
        True,
        id="float-avg-vs-sum",
    ),
    pytest.param(
        "SELECT avg(salary) FROM staff",
        "SELECT round(avg(salary), 2) FROM staff",
        False,
        id="float-rounded-differs",
    ),
    pytest.param("SELECT 0.1 + 0.2", "SELECT 0.3", True, id="float-last-bit-noise"),
    pytest.param(
        "SELECT max(salary) FROM staff WHERE dept_id = 1", "SELECT 200", True, id="float-integral-equals-int"
    ),
    pytest.param(
        "SELECT name FROM staff WHERE salary > 150 AND city = 'Rome'",
        "SELECT name FROM staff WHERE city = 'Rome' AND salary > 150",
        True,
        id="and-commuted",
    ),
    pytest.param(
        "SELECT name FROM staff WHERE city IN ('Oslo', 'Rome')",
        "SELECT name FROM staff WHERE city = 'Rome' OR city = 'Oslo'",
        True,
        id="in-vs-or",
    ),
    pytest.param(
        "SELECT T1.name FROM staff AS T1 JOIN dept AS T2 ON T1.dept_id = T2.id WHERE T2.title = 'Ops'",
        "SELECT name FROM staff WHERE dept_id IN (SELECT id FROM dept WHERE title = 'Ops')",
        True,
        id="join-vs-subquery",
    ),
    pytest.param(
        "SELECT name FROM staff WHERE city = 'Oslo'",
        "SELECT name FROM staff WHERE city = 'oslo'",
        False,
        id="text-case-sensitive",
    ),
    pytest.param("SELECT name FROM staff", "SELECT name, id FROM staff", False, id="extra-column"),
    pytest.param(
        "SELECT dept_id FROM staff", "SELECT DISTINCT dept_id FROM staff", False, id="multiset-duplicates"
    ),
    pytest.param(
        "SELECT name FROM staff WHERE id > 100",
        "SELECT name FROM staff WHERE salary < 0",
        True,
        id="both-empty",
    ),
]


@pytest.mark.parametrize(("gold", "pred", "expected"), EXECUTION_CASES)
def test_execution_match(scorer, db, gold, pred, expected):
    record = score(scorer, db, gold, pred)
    strict = record["metrics"]["strict"]
    assert strict["match"] is expected, (record["gold_result"], record["pred_result"])
    assert strict["outcome"] == ("match" if expected else "mismatch")
    assert not record["raw_match"]


def test_errors_score_zero(scorer, db):
    syntax = score(scorer, db, "SELECT name FROM staff", "SELECT name FRM staff")
    assert (syntax["exec_match"], syntax["exec_outcome"]) == (False, "pred_error")
    assert "syntax error" in syntax["pred_result"]["error"]
    missing = score(scorer, db, "SELECT name FROM staff", "SELECT nom FROM staff")
    assert missing["exec_outcome"] == "pred_error"
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    timeout = score(scorer, db, "SELECT count(*) FROM staff", endless)
    assert (timeout["exec_match"], timeout["exec_outcome"]) == (False, "pred_timeout")
    write = score(scorer, db, "SELECT count(*) FROM staff", "DELETE FROM staff")
    assert write["exec_outcome"] == "pred_error"
    prose = score(scorer, db, "SELECT name FROM staff", "", raw="I cannot answer that.")
    assert prose["exec_outcome"] == "pred_error" and "syntax error" in prose["pred_result"]["error"]
    empty = score(scorer, db, "SELECT name FROM staff", "", raw="<|im_end|>")
    assert empty["exec_outcome"] == "pred_error" and empty["pred_result"]["error"] == "empty prediction"
    bad_gold = score(scorer, db, "SELECT nothing FROM nowhere", "SELECT nothing FROM nowhere")
    assert (bad_gold["exec_match"], bad_gold["exec_outcome"]) == (False, "gold_error")
    assert score(scorer, db, "SELECT name FROM staff WHERE id > 99", "SELECT 1 WHERE 0")["gold_empty"]


def test_a_prediction_nested_past_the_parsers_recursion_scores_zero(scorer, db):
    """A model stuck repeating "(" (found in a DPO run): sqlglot's parser raises RecursionError past
    about 100 levels; scoring, classifying and the error taxonomy must read it as unparseable."""
    from tunebench.evaluate.sql.summary import error_class

    deep = "SELECT " + "(" * 400 + "1" + ")" * 400 + " FROM staff"
    record = score(scorer, db, "SELECT count(*) FROM staff", deep)
    assert (record["exec_match"], record["exact_match"]) == (False, False)
    assert record["exec_outcome"] == "pred_error"  # SQLite refuses it too (parser stack overflow)
    assert error_class(record) in ("does not parse", "runtime error")
    assert classify_sql(deep) == ("unknown", "unparsed")


EXACT_CASES = [
    pytest.param(
        "SELECT name FROM staff WHERE city = 'Oslo'",
        "select  NAME\nfrom STAFF where CITY='Oslo';",
        True,
        id="case-whitespace-semicolon",
    ),
    pytest.param("SELECT name FROM staff", 'SELECT "name" FROM `staff`', True, id="quoting"),
    pytest.param(
        'SELECT name FROM staff WHERE city = "Oslo"',
        "SELECT name FROM staff WHERE city = 'Oslo'",
        True,
        id="double-quoted-string",
    ),
    pytest.param(
        "SELECT T1.name FROM staff AS T1 WHERE T1.salary > 3",
        "SELECT name FROM staff WHERE salary > 3",
        True,
        id="table-alias",
    ),
    pytest.param(
        "SELECT T1.name FROM staff AS T1 INNER JOIN dept AS T2 ON T1.dept_id = T2.id",
        "SELECT s.name FROM staff s JOIN dept d ON s.dept_id = d.id",
        True,
        id="join-aliases",
    ),
    pytest.param(
        "SELECT count(*) FROM staff", "SELECT COUNT(*) AS total FROM staff", True, id="output-alias"
    ),
    pytest.param(
        "SELECT count(*) AS c FROM staff ORDER BY c",
        "SELECT count(*) FROM staff ORDER BY c",
        False,
        id="used-alias-kept",
    ),
    pytest.param(
        "SELECT name FROM staff WHERE city = 'Oslo'",
        "SELECT name FROM staff WHERE city = 'OSLO'",
        False,
        id="literal-case-kept",
    ),
    pytest.param(
        "SELECT name FROM staff WHERE a > 1 AND b = 2",
        "SELECT name FROM staff WHERE b = 2 AND a > 1",
        False,
        id="reordered-predicates-differ",
    ),
    pytest.param("SELECT name FROM staff", "SELECT name FROM staff WHERE", False, id="unparsable-prediction"),
]


@pytest.mark.parametrize(("gold", "pred", "expected"), EXACT_CASES)
def test_exact_match_after_normalization(gold, pred, expected):
    assert exact_match(gold, pred, {"id", "name", "dept_id", "salary", "city", "title", "a", "b"}) is expected


def test_normalization_keeps_self_join_aliases():
    sql = "SELECT a.name FROM staff AS a JOIN staff AS b ON a.dept_id = b.dept_id WHERE b.name = 'Bo'"
    normalized = normalize_sql(sql)
    assert "staff AS a JOIN staff AS b" in normalized and "b.name = 'Bo'" in normalized
    assert normalize_sql("SELECT FROM WHERE") is None


def test_raw_match_is_the_seeds_string_equality(scorer, db):
    gold = "SELECT name FROM staff WHERE city = 'Oslo'"
    assert raw_match(gold, "  SELECT name FROM staff WHERE city = 'Oslo'\n")
    assert not raw_match(gold, "SELECT name FROM staff WHERE city = 'Oslo';")
    fenced = score(scorer, db, gold, "", raw="```sql\nSELECT name FROM staff WHERE city = 'Oslo'\n```")
    assert (
        fenced["prediction"] == gold
        and fenced["exec_match"]
        and fenced["exact_match"]
        and not fenced["raw_match"]
    )


def test_classify_sql():
    assert classify_sql("SELECT a FROM t") == ("easy", "select")
    assert classify_sql("SELECT a FROM t WHERE b = 1") == ("easy", "filter")
    assert classify_sql("SELECT count(*) FROM t") == ("medium", "aggregate")
    assert classify_sql("SELECT a, count(*) FROM t GROUP BY a") == ("medium", "group_by")
    assert classify_sql("SELECT a FROM t JOIN u ON t.id = u.id") == ("hard", "join")
    assert classify_sql("SELECT a FROM t WHERE b IN (SELECT b FROM u)") == ("hard", "subquery")
    assert classify_sql("SELECT a FROM t EXCEPT SELECT a FROM u") == ("hard", "set_operation")
    assert classify_sql("not sql at all (((") == ("unknown", "unparsed")
