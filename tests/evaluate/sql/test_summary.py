"""The report's numbers: bootstrap interval, error taxonomy, per-difficulty breakdown."""

from __future__ import annotations

from tunebench.evaluate.sql.summary import ERROR_CLASSES, error_class, summarize


def _record(outcome: str, prediction: str = "SELECT 1", error: str | None = None, difficulty="easy", ok=None):
    match = outcome == "match" if ok is None else ok
    return {
        "exec_match": match,
        "exec_outcome": outcome,
        "metrics": {
            "spider": {"match": match, "outcome": outcome},
            "strict": {"match": match, "outcome": outcome},
        },
        "exact_match": False,
        "raw_match": False,
        "gold_empty": False,
        "prediction": prediction,
        "pred_result": {"error": error},
        "difficulty": difficulty,
        "template": "t",
    }


def test_error_taxonomy():
    assert error_class(_record("match")) is None
    assert error_class(_record("gold_error")) is None
    assert error_class(_record("mismatch")) == "wrong result"
    assert error_class(_record("pred_truncated")) == "wrong result"
    assert error_class(_record("pred_timeout", error="timed out after 5 s")) == "timeout"
    assert error_class(_record("pred_error", error="OperationalError: no such column: nam")) == (
        "unknown table or column"
    )
    assert (
        error_class(_record("pred_error", error="OperationalError: no such table: x"))
        == "unknown table or column"
    )
    assert error_class(_record("pred_error", "SELEC a", 'OperationalError: near "SELEC": syntax error')) == (
        "does not parse"
    )
    assert error_class(_record("pred_error", "", "empty prediction")) == "does not parse"
    assert error_class(
        _record("pred_error", "SELECT abs(-9223372036854775808)", "OperationalError: integer overflow")
    ) == ("runtime error")


def test_summary_counts_each_class_and_difficulty():
    records = [
        _record("match", difficulty="easy"),
        _record("match", difficulty="hard"),
        _record("mismatch", difficulty="hard"),
        _record("pred_error", "SELECT x FROM nowhere", "OperationalError: no such table: nowhere", "medium"),
        _record("gold_error", difficulty="easy"),
    ]
    s = summarize(records)
    assert (s["n"], s["n_scored"], s["exec_accuracy"], s["metric"]) == (5, 4, 0.5, "spider")
    assert s["errors"] == dict.fromkeys(ERROR_CLASSES, 0) | {"wrong result": 1, "unknown table or column": 1}
    assert s["by_difficulty"]["hard"] == {
        "n": 2,
        "exec_accuracy": 0.5,
        "strict_accuracy": 0.5,
        "exact_match": 0.0,
    }
    assert s["exec_accuracy_ci95"][0] <= 0.5 <= s["exec_accuracy_ci95"][1]


def test_paired_difference_counts_each_question_once_on_both_sides():
    from tunebench.evaluate.sql.summary import paired_difference

    def recs(matches, gold_error=()):
        return [
            {"id": f"q{i}", "exec_match": m, "exec_outcome": "gold_error" if i in gold_error else "ok"}
            for i, m in enumerate(matches)
        ]

    sft = recs([1, 1, 0, 0, 1, 0, 1, 1], gold_error=(7,))
    dpo = recs([1, 0, 1, 1, 1, 0, 1, 0], gold_error=(7,))[:-1] + [
        {"id": "other", "exec_match": 1, "exec_outcome": "ok"}
    ]
    paired = paired_difference(sft, dpo)
    # q7's gold fails (not scored); "other" is not in the first list: 7 shared questions
    assert paired["n"] == 7 and paired["only_first"] == 1 and paired["only_second"] == 2
    assert paired["delta"] == round(1 / 7, 4)
    lo, hi = paired["delta_ci95"]
    assert -1 <= lo <= paired["delta"] <= hi <= 1
    same = paired_difference(sft, sft)
    assert same["delta"] == 0 and same["delta_ci95"] == [0.0, 0.0]
