"""One result comparison and one order rule for every caller (`tunebench.sql.compare`): the official
Spider comparison on result pairs whose official decisions were recorded by running `result_eq` of
taoyds/test-suite-sql-eval (exec_eval.py) on each, evaluation's two metrics, and the preference pairs
training builds, which must never call a pair "chosen" that evaluation scores wrong."""

from __future__ import annotations

import pytest

from tests.evaluate.sql.spider_bank import PAIRS, build_db
from tunebench.sql import compare
from tunebench.sql.compare import SPIDER, STRICT, order_matters, results_equal
from tunebench.sql.sandbox import SqlSandbox
from tunebench.train.pairs import judge

N = None
RESULT_PAIRS = [
    # (gold rows, predicted rows, order matters)
    ([], [], True),
    ([], [(1,)], False),
    ([(1,)], [], False),
    ([(3,)], [(3.0,)], False),
    ([(0.30000000000000004,)], [(0.3,)], False),
    ([(1, 1.5)], [(1.0, 1.5)], False),
    ([(1, 1.5), (1, 1.5), (1.0, 1.5)], [(1, 1.5), (1.0, 1.5), (1.0, 1.5)], False),
    ([(1, 2), (3, 4)], [(2, 1), (4, 3)], False),
    ([(1, 2), (3, 4)], [(2, 1), (3, 4)], False),
    ([(1, 1, "a"), (2, 2, "b")], [("a", 1, 1), ("b", 2, 2)], False),
    ([(1, "x"), (2, "y")], [("x", 1), ("y", 2)], True),
    ([(1, "x"), (2, "y")], [("y", 2), ("x", 1)], True),
    ([(1, "x"), (2, "y")], [("y", 2), ("x", 1)], False),
    ([(N,)], [(0,)], False),
    ([(N, 1.0)], [(1, N)], False),
    ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False),
    ([(1,), (2,)], [(1,), (2,), (2,)], False),
    ([("Oslo",)], [("oslo",)], False),
    ([(1, 2, 3, 4, 5)], [(5, 4, 3, 2, 1)], False),
    ([(1, 2, 3, 4, 5), (6, 7, 8, 9, 10)], [(5, 4, 3, 2, 1), (10, 9, 8, 7, 6)], True),
    ([(1, 2, 3, 4, 5), (6, 7, 8, 9, 10)], [(10, 9, 8, 7, 6), (5, 4, 3, 2, 1)], True),
    ([(1, 2)], [(1, 2, 3)], False),
    ([(b"\x00\x01",)], [(b"\x00\x01",)], False),
    ([(1,), (2,)], [(2,), (1,)], True),
    ([(1,), (2,)], [(2,), (1,)], False),
    ([(N,), (N,)], [(N,), (N,)], True),
    ([(2.5, "a")], [("a", 2.5)], True),
    ([(1, 1), (1, 2)], [(1, 1), (2, 1)], False),
    ([(1, 2), (2, 1)], [(2, 1), (1, 2)], False),
    ([(10, 9.5)], [(10.0, 9.5)], False),
]
# The official result_eq on each pair above, in order (1 = equal), recorded by running it.
OFFICIAL = [1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1]


def test_the_comparison_is_the_official_result_eq():
    assert len(OFFICIAL) == len(RESULT_PAIRS)
    got = [int(results_equal(g, p, o)) for g, p, o in RESULT_PAIRS]
    assert got == OFFICIAL, [(RESULT_PAIRS[i], OFFICIAL[i]) for i in range(len(got)) if got[i] != OFFICIAL[i]]
    # Its one quirk kept on purpose: rows are first read as bags sorted by str(value) + str(type), so
    # (1, 1.5) and (1.0, 1.5) sort differently and the official decision calls them different.
    assert not results_equal([(1, 1.5)], [(1.0, 1.5)], False)


def test_the_strict_value_rule_rounds_floats_only():
    digits = STRICT.float_digits
    assert results_equal([(0.30000000000000004,)], [(0.3,)], False, float_digits=digits)
    assert results_equal([(1, 1.5)], [(1.0, 1.5)], False, float_digits=digits)
    assert not results_equal([("Oslo",)], [("oslo",)], False, float_digits=digits)
    assert not results_equal([(0.1,)], [(0.1000001,)], False, float_digits=digits)
    assert compare.canonical_value(float("nan"), digits) == "NaN"
    assert compare.canonical_value(3.0, None) == 3.0 and isinstance(compare.canonical_value(3.0, None), float)


def test_columns_in_place_or_permuted():
    assert results_equal([(1, "x")], [("x", 1)], False)
    assert not results_equal([(1, "x")], [("x", 1)], False, permute_columns=False)
    assert results_equal([(1, "x")], [(1, "x")], True, permute_columns=False)


DEEP = "SELECT " + "(" * 300 + "1" + ")" * 300


@pytest.mark.parametrize(
    ("sql", "official", "outermost"),
    [
        ("SELECT a FROM t ORDER BY a", True, True),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True, True),
        ("SELECT a FROM t WHERE id IN (SELECT id FROM u ORDER BY x LIMIT 3)", True, False),
        ("SELECT a FROM (SELECT a FROM t ORDER BY a)", True, False),
        ("SELECT 'order by' FROM t", True, False),
        ("SELECT a FROM t ORDER  BY a", False, True),  # the official rule reads the text
        ("SELECT a FROM t", False, False),
        ("SELECT a FROM t ORDER BY a ((", True, True),  # unparseable: the text decides
        (DEEP + " order by 1", True, True),
        ("SELECT name FROM staff WHERE id IN " + "(" * 400, False, False),
    ],
)
def test_one_order_rule_two_readings(sql, official, outermost):
    assert order_matters(sql, SPIDER) is official
    assert order_matters(sql, STRICT) is outermost


def test_rules_are_checked():
    with pytest.raises(ValueError, match="order rule"):
        compare.Rules("x", order="inner", float_digits=None)


def test_pairs_never_choose_what_evaluation_scores_wrong(tmp_path):
    """Every gold/prediction pair of the Spider bank: a pair the preference builder calls "match" is a
    strict match in evaluation, a "mismatch" is a strict miss (the same comparison decides both)."""
    from tunebench.evaluate.sql.scoring import Scorer

    db = build_db(tmp_path / "bank.sqlite")
    seen = set()
    with SqlSandbox() as box:
        scorer = Scorer(box, timeout_s=5.0)
        for gold, pred in PAIRS:
            g, p = box.execute(db, gold, max_rows=None), box.execute(db, pred, max_rows=None)
            if not (g.ok and p.ok):
                continue
            verdict = judge(g.rows, p.rows, order_matters(gold, STRICT))
            strict = scorer.decide(str(db), gold, pred)["strict"][0]
            seen.add(verdict)
            assert verdict != "match" or strict, (gold, pred)
            assert verdict != "mismatch" or not strict, (gold, pred)
    assert seen == {"match", "mismatch", "ambiguous"}
