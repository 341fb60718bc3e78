"""score → summary: accuracies (with a 95% bootstrap interval), breakdowns and an error taxonomy.

Execution accuracy counts only examples whose gold query runs and whose results could be compared
whole (`undecided`: both capped by `--max-rows`; counted and reported). The headline is the `spider`
metric (the official decision on tunebench's test suite of databases); `strict` is reported beside it.
Intervals come from `tunebench.stats` (2,000 resamples of the questions, seeded).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from tunebench.evaluate.sql.metrics import UNSCORED
from tunebench.sql.parse import parse_sql
from tunebench.stats import paired_bootstrap_ci, proportion_ci

# Why a prediction scored 0, in the order a reader asks: is it SQL? does it name real things? does it
# run? in time? does it return the right rows?
ERROR_CLASSES = ("does not parse", "unknown table or column", "runtime error", "timeout", "wrong result")


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def error_class(record: dict) -> str | None:
    """The taxonomy class of a miss (None for a match or a gold that does not run)."""
    outcome = record["exec_outcome"]
    if outcome == "match" or outcome in UNSCORED:
        return None
    if outcome == "pred_timeout":
        return "timeout"
    if outcome in ("mismatch", "pred_truncated"):
        return "wrong result"
    error = (record["pred_result"].get("error") or "").lower()
    if "no such table" in error or "no such column" in error:
        return "unknown table or column"
    if not record["prediction"].strip() or "syntax error" in error or "incomplete input" in error:
        return "does not parse"
    if parse_sql(record["prediction"]) is None:
        return "does not parse"
    return "runtime error"


def _group(records: list[dict], key) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[str(key(r))].append(r)
    return {
        k: {
            "n": len(v),
            "exec_accuracy": _rate(sum(r["exec_match"] for r in v), len(v)),
            "strict_accuracy": _rate(sum(r["metrics"]["strict"]["match"] for r in v), len(v)),
            "exact_match": _rate(sum(r["exact_match"] for r in v), len(v)),
        }
        for k, v in sorted(groups.items())
    }


def summarize(records: list[dict]) -> dict:
    """Overall and per-group scores of one model's records."""
    scored = [r for r in records if r["exec_outcome"] not in UNSCORED]
    nonempty = [r for r in scored if not r.get("gold_empty_all", r["gold_empty"])]
    outcomes = Counter(r["exec_outcome"] for r in records)
    errors = Counter(error_class(r) for r in scored)
    summary = {
        "n": len(records),
        "n_scored": len(scored),
        "metric": "spider",
        "exec_accuracy": _rate(sum(r["exec_match"] for r in scored), len(scored)),
        "exec_accuracy_ci95": proportion_ci([float(r["exec_match"]) for r in scored]),
        "strict_accuracy": _rate(sum(r["metrics"]["strict"]["match"] for r in scored), len(scored)),
        "single_db_accuracy": _rate(
            sum(r.get("single_db_match", {}).get("spider", r["exec_match"]) for r in scored), len(scored)
        ),
        "databases_per_question": max((r.get("databases", 1) for r in records), default=1),
        "exact_match": _rate(sum(r["exact_match"] for r in records), len(records)),
        "raw_match": _rate(sum(r["raw_match"] for r in records), len(records)),
        "exec_accuracy_nonempty_gold": _rate(sum(r["exec_match"] for r in nonempty), len(nonempty)),
        "gold_errors": outcomes.get("gold_error", 0),
        "undecided": outcomes.get("undecided", 0),
        "gold_empty": sum(r["gold_empty"] for r in records),
        "gold_empty_all": sum(r.get("gold_empty_all", r["gold_empty"]) for r in records),
        "outcomes": dict(sorted(outcomes.items())),
        "errors": {c: errors.get(c, 0) for c in ERROR_CLASSES},
        "by_difficulty": _group(scored, lambda r: r["difficulty"]),
        "by_query_type": _group(scored, lambda r: r["template"]),
    }
    if any(r.get("seen_combo") is not None for r in scored):
        summary["by_seen_combo"] = _group(
            scored,
            lambda r: "seen" if r.get("seen_combo") else "unseen" if r.get("seen_combo") is False else "n/a",
        )
    return summary


def paired_difference(first: list[dict], second: list[dict]) -> dict:
    """`second` minus `first` on the questions both scored: the accuracy difference with a paired 95%
    bootstrap interval (the same questions resampled for both models, so their shared difficulty
    cancels), and how many questions only one of them gets right."""
    a = {r["id"]: bool(r["exec_match"]) for r in first if r["exec_outcome"] not in UNSCORED}
    b = {r["id"]: bool(r["exec_match"]) for r in second if r["exec_outcome"] not in UNSCORED}
    ids = [i for i in a if i in b]
    diffs = [int(b[i]) - int(a[i]) for i in ids]
    ci = paired_bootstrap_ci([float(a[i]) for i in ids], [float(b[i]) for i in ids])
    return {
        "n": len(ids),
        "delta": round(sum(diffs) / len(ids), 4) if ids else None,
        "delta_ci95": ci,
        "only_first": sum(d < 0 for d in diffs),
        "only_second": sum(d > 0 for d in diffs),
    }
