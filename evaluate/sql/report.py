"""Summaries, report.md and plots for text-to-SQL evaluation, one model or base vs fine-tuned."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

DIFFICULTY_ORDER = ("easy", "medium", "hard")


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def _group(records: list[dict], key) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[str(key(r))].append(r)
    return {
        k: {
            "n": len(v),
            "exec_accuracy": _rate(sum(r["exec_match"] for r in v), len(v)),
            "exact_match": _rate(sum(r["exact_match"] for r in v), len(v)),
        }
        for k, v in sorted(groups.items())
    }


def summarize(records: list[dict]) -> dict:
    """Overall and per-group scores; execution accuracy counts only examples whose gold runs."""
    scored = [r for r in records if r["exec_outcome"] != "gold_error"]
    nonempty = [r for r in scored if not r["gold_empty"]]
    outcomes: dict[str, int] = defaultdict(int)
    for r in records:
        outcomes[r["exec_outcome"]] += 1
    summary = {
        "n": len(records),
        "n_scored": len(scored),
        "exec_accuracy": _rate(sum(r["exec_match"] for r in scored), len(scored)),
        "exact_match": _rate(sum(r["exact_match"] for r in records), len(records)),
        "raw_match": _rate(sum(r["raw_match"] for r in records), len(records)),
        "exec_accuracy_nonempty_gold": _rate(sum(r["exec_match"] for r in nonempty), len(nonempty)),
        "gold_errors": outcomes.get("gold_error", 0),
        "gold_empty": sum(r["gold_empty"] for r in records),
        "outcomes": dict(sorted(outcomes.items())),
        "by_difficulty": _group(scored, lambda r: r["difficulty"]),
        "by_query_type": _group(scored, lambda r: r["template"]),
    }
    if any(r.get("seen_combo") is not None for r in scored):
        summary["by_seen_combo"] = _group(
            scored,
            lambda r: "seen" if r.get("seen_combo") else "unseen" if r.get("seen_combo") is False else "n/a",
        )
    return summary


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _group_keys(summaries: dict[str, dict], field: str) -> list[str]:
    keys = {k for s in summaries.values() for k in s.get(field, {})}
    ordered = [d for d in DIFFICULTY_ORDER if d in keys]
    return ordered + sorted(keys - set(ordered))


def plot_by_group(summaries: dict[str, dict], field: str, path: Path, title: str) -> Path:
    """Grouped bars: one group per difficulty (or query type) plus "overall", one bar per model.

    Few groups stand as columns; many (query types) lie as rows so their names stay readable.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(summaries.values()))
    groups = _group_keys(summaries, field) + ["overall"]
    counts = [
        first["n_scored"] if g == "overall" else (first[field].get(g) or {}).get("n", 0) for g in groups
    ]
    names = [f"{g} (n={c})" for g, c in zip(groups, counts, strict=True)]
    labels = list(summaries)
    width = 0.8 / max(1, len(labels))
    horizontal = len(groups) > 6
    size = (8.0, 1.2 + 0.3 * len(groups) * len(labels)) if horizontal else (max(6.0, 1.6 * len(groups)), 4.2)
    fig, ax = plt.subplots(figsize=size)
    for i, label in enumerate(labels):
        s = summaries[label]
        values = [
            100
            * (
                (s["exec_accuracy"] if g == "overall" else (s[field].get(g) or {}).get("exec_accuracy"))
                or 0.0
            )
            for g in groups
        ]
        offsets = [x + (i - (len(labels) - 1) / 2) * width for x in range(len(groups))]
        bars = (ax.barh if horizontal else ax.bar)(offsets, values, width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=1)
    if horizontal:
        ax.set_yticks(range(len(groups)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("execution accuracy (%)")
        ax.set_xlim(0, 105)
    else:
        ax.set_xticks(range(len(groups)), [n.replace(" (", "\n(") for n in names], fontsize=8)
        ax.set_ylabel("execution accuracy (%)")
        ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _table(summaries: dict[str, dict], field: str, header: str) -> list[str]:
    labels = list(summaries)
    lines = [
        f"| {header} | n | " + " | ".join(f"{lb} exec." for lb in labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    first = next(iter(summaries.values()))
    for g in _group_keys(summaries, field):
        n = (first[field].get(g) or {}).get("n", "–")
        cells = [_pct((summaries[lb][field].get(g) or {}).get("exec_accuracy")) for lb in labels]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return lines


def _examples(records: list[dict], label: str, k: int = 5) -> list[str]:
    """A few of the model's misses, so a reader sees what goes wrong, not only how often."""
    misses = [r for r in records if not r["exec_match"] and r["exec_outcome"] != "gold_error"][:k]
    if not misses:
        return []
    lines = [
        "",
        f"## Some misses of {label}",
        "",
        "| question | gold | prediction | outcome |",
        "|---|---|---|---|",
    ]
    for r in misses:
        cells = [r["question"], f"`{r['gold']}`", f"`{r['prediction']}`" if r["prediction"] else "(nothing)"]
        outcome = r["exec_outcome"] + (
            f": {r['pred_result']['error']}" if r["pred_result"].get("error") else ""
        )
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in [*cells, outcome]) + " |")
    return lines


def render_report(
    meta: dict,
    summaries: dict[str, dict],
    models: dict[str, dict],
    plots: list[str],
    records: dict[str, list[dict]] | None = None,
) -> str:
    """report.md: what was measured, on what, how; headline; breakdowns; what the models are."""
    labels = list(summaries)
    lines = [
        "# Text-to-SQL evaluation",
        "",
        f"Dataset: **{meta['dataset']['name']}** ({meta['dataset']['description']}), "
        f"{next(iter(summaries.values()))['n']} questions. Generation: "
        + (
            "greedy"
            if meta["generation"]["temperature"] == 0
            else f"temperature {meta['generation']['temperature']}"
        )
        + f", seed {meta['generation']['seed']}, at most {meta['generation']['max_new_tokens']} new tokens, "
        "stop at `<|im_end|>`; the prompt is tunebench's text-to-SQL prompt in each model's own chat template "
        "(served models: the server's).",
        "",
        "## Headline",
        "",
        "| model | execution accuracy | exact match (normalized) | raw string match (seed's metric) | "
        "pred. errors | timeouts |",
        "|---|---|---|---|---|---|",
    ]
    for lb in labels:
        s = summaries[lb]
        lines.append(
            f"| {lb} | **{_pct(s['exec_accuracy'])}** | {_pct(s['exact_match'])} | {_pct(s['raw_match'])} | "
            f"{s['outcomes'].get('pred_error', 0)} | {s['outcomes'].get('pred_timeout', 0)} |"
        )
    if len(labels) == 2:
        a, b = (summaries[lb]["exec_accuracy"] or 0.0 for lb in labels)
        lines += ["", f"Execution accuracy, {labels[1]} minus {labels[0]}: **{100 * (b - a):+.1f} points**."]
    lines += ["", "## The models", ""]
    for lb in labels:
        template = models[lb].get("chat_template", "the model's own")
        note = "" if template == "the model's own" else f" Prompted with {template}."
        lines.append(f"- **{lb}**: `{models[lb]['path']}` — {models[lb]['description']}{note}")
    first = next(iter(summaries.values()))
    lines += ["", "## Gold queries", ""]
    lines.append(
        f"- {first['gold_errors']} gold queries failed to execute (left out of execution accuracy)."
        if first["gold_errors"]
        else "- Every gold query executed."
    )
    if first["gold_empty"]:
        lines.append(
            f"- **{first['gold_empty']} gold queries return an empty result**: any prediction that returns "
            "nothing matches them. Execution accuracy on the non-empty ones: "
            + ", ".join(f"{lb} {_pct(summaries[lb]['exec_accuracy_nonempty_gold'])}" for lb in labels)
            + "."
        )
    else:
        lines.append("- No gold query returns an empty result.")
    lines += ["", "## By difficulty", "", *_table(summaries, "by_difficulty", "difficulty")]
    if "by_seen_combo" in first:
        lines += [
            "",
            "## Seen vs unseen template x table combinations",
            "",
            "`unseen`: the question's template was never paired with that table in training.",
            "",
            *_table(summaries, "by_seen_combo", "combination"),
        ]
    lines += ["", "## By query type", "", *_table(summaries, "by_query_type", "query type")]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if records:
        last = labels[-1]
        lines += _examples(records[last], last)
    lines += [
        "",
        "## How it is measured",
        "",
        "- **Execution accuracy** (Spider test-suite semantics): gold and predicted SQL run read-only on the "
        "populated database (time and size limits, in a sandbox process); results are compared as multisets of "
        "rows, in order only when the gold's outermost query has ORDER BY; column names are ignored and one "
        "column permutation may apply to all rows; floats agree to 10 significant digits; NULL equals NULL. "
        "Any execution error or timeout of the prediction scores 0.",
        "- **Exact match (normalized)**: both queries parsed with sqlglot (SQLite dialect) and printed "
        "canonically: keyword/identifier case, whitespace, quoting, `AS` aliases of tables and output "
        "columns, `INNER JOIN`/`JOIN`; string literals keep their case.",
        "- **Raw string match**: the model's whole stripped answer equals the gold string, as the seed measured "
        "(the seed also sampled at temperature 0.7 on an unseeded split: 76.6% on 1,000 rows).",
        "",
        "Predictions with both results: `predictions.jsonl` (one folder per model). Settings: `summary.json`.",
    ]
    return "\n".join(lines) + "\n"
