"""report.md and plots for text-to-SQL evaluation, one model or base vs fine-tuned."""

from __future__ import annotations

from pathlib import Path

from tunebench.evaluate.sql.summary import ERROR_CLASSES
from tunebench.runs.atomic_io import atomic_path

DIFFICULTY_ORDER = ("easy", "medium", "hard")


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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
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


def _ci(s: dict) -> str:
    ci = s.get("exec_accuracy_ci95")
    return f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}" if ci else "–"


def paired_line(paired: dict) -> str:
    """One sentence: the difference, its paired interval, and the questions only one model gets right."""
    ci = paired["delta_ci95"]
    interval = f" (paired 95% CI {100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})" if ci else ""
    return (
        f"Execution accuracy, {paired['second']} minus {paired['first']}: **{100 * paired['delta']:+.1f} points**"
        f"{interval}; {paired['only_second']} questions only {paired['second']} gets right, "
        f"{paired['only_first']} only {paired['first']}."
    )


def _headline(summaries: dict[str, dict], paired: dict | None = None) -> list[str]:
    labels = list(summaries)
    lines = [
        "## Headline",
        "",
        "| model | execution accuracy (`spider`, test suite) | 95% CI | `strict` | `spider`, one database | "
        "exact match (normalized) | raw string match (the original notebooks' metric) |",
        "|---|---|---|---|---|---|---|",
    ]
    for lb in labels:
        s = summaries[lb]
        lines.append(
            f"| {lb} | **{_pct(s['exec_accuracy'])}** | {_ci(s)} | {_pct(s['strict_accuracy'])} | "
            f"{_pct(s['single_db_accuracy'])} | {_pct(s['exact_match'])} | {_pct(s['raw_match'])} |"
        )
    if paired and paired.get("delta") is not None:
        lines += ["", paired_line(paired)]
    elif len(labels) == 2:
        a, b = (summaries[lb]["exec_accuracy"] or 0.0 for lb in labels)
        lines += ["", f"Execution accuracy, {labels[1]} minus {labels[0]}: **{100 * (b - a):+.1f} points**."]
    lines += [
        "",
        f"Each question is scored on a test suite of {summaries[labels[0]]['databases_per_question']} "
        "database(s): a prediction counts only if it matches on every one. The headline is the official "
        "Spider decision's rules applied on that suite, which is stricter than the official script on "
        "the question's own database alone; that single-database official decision is the `one database` "
        "column. 95% CI: percentile bootstrap over the questions (2,000 resamples, seeded), never "
        "narrower than Wilson's score interval.",
        "",
        "## Why predictions miss",
        "",
        "| model | " + " | ".join(ERROR_CLASSES) + " |",
        "|---|" + "---|" * len(ERROR_CLASSES),
    ]
    for lb in labels:
        errors = summaries[lb]["errors"]
        lines.append(f"| {lb} | " + " | ".join(str(errors[c]) for c in ERROR_CLASSES) + " |")
    return lines


def _gold_notes(summaries: dict[str, dict]) -> list[str]:
    first = next(iter(summaries.values()))
    lines = ["## Gold queries", ""]
    lines.append(
        f"- {first['gold_errors']} gold queries failed to execute (left out of execution accuracy)."
        if first["gold_errors"]
        else "- Every gold query executed."
    )
    if first.get("undecided"):
        lines.append(
            f"- {first['undecided']} undecided: gold and prediction both reached `--max_rows`, so their "
            "results could not be compared whole (left out of execution accuracy; without `--max_rows` "
            "whole results are compared)."
        )
    if first["gold_empty_all"]:
        lines.append(
            f"- **{first['gold_empty_all']} gold queries return an empty result on every database of their "
            "suite**: any prediction that returns nothing matches them. Execution accuracy on the others: "
            + ", ".join(f"{lb} {_pct(summaries[lb]['exec_accuracy_nonempty_gold'])}" for lb in summaries)
            + "."
        )
    else:
        lines.append("- No gold query returns an empty result on every database of its suite.")
    return lines


HOW_MEASURED = [
    "## How it is measured",
    "",
    "- **Execution accuracy, `spider`** (the headline: the rules of the decision published Spider numbers "
    "use, `eval_exec_match` of test-suite-sql-eval with keep_distinct and plug_value off, applied on "
    "tunebench's test suite of databases; `one database` is that decision on the question's own "
    "database, what the official script gives with Spider's one database): both queries post-processed (`> =` "
    "becomes `>=`), the keyword DISTINCT removed from both, only the first statement read; gold and "
    "prediction run read-only on the populated database (time and size limits, in a sandbox process); "
    "results compared as multisets of rows, in order when the gold's text contains `order by` anywhere; "
    "column names ignored, one column permutation for all rows; values compared exactly (3 = 3.0, NULL = "
    "NULL); whole results, text with bytes that are not UTF-8 read with them dropped, as the official "
    "script reads it. Any execution error or timeout of the prediction scores 0.",
    "- **Test suite**: each question runs on its own database and on variants of it (sql-create-context: "
    "rows violating each condition one at a time, values planted around every literal and HAVING count; "
    "populated databases: a row subset and a copy with values planted around the gold's literals); a "
    "prediction must match on every database (Zhong, Yu and Klein, 2020), so it cannot pass by luck.",
    "- **Execution accuracy, `strict`**: the same comparison without the DISTINCT removal or the "
    "post-processing; order counts only when the gold's outermost query has ORDER BY; floats agree to 10 "
    "significant digits.",
    "- **Exact match (normalized)**: both queries parsed with sqlglot (SQLite dialect) and printed "
    "canonically: keyword/identifier case, whitespace, quoting, `AS` aliases of tables and output "
    "columns, `INNER JOIN`/`JOIN`; string literals keep their case.",
    "- **Raw string match**: the model's whole stripped answer equals the gold string, as the original "
    "notebooks measured (they also sampled at temperature 0.7 on an unseeded split: 76.6% on 1,000 rows).",
    "",
    "Predictions with both results: `predictions.jsonl` (one folder per model). Settings: `summary.json`.",
]


def render_report(
    meta: dict,
    summaries: dict[str, dict],
    models: dict[str, dict],
    plots: list[str],
    records: dict[str, list[dict]] | None = None,
    paired: dict | None = None,
) -> str:
    """report.md: what was measured, on what, how; headline; breakdowns; what the models are."""
    labels = list(summaries)
    generation = meta.get("generation")
    if generation is None:  # `score`: predictions made elsewhere
        made = f"Predictions made elsewhere, read from `{meta['predictions']}`."
    else:
        sampling = "greedy" if generation["temperature"] == 0 else f"temperature {generation['temperature']}"
        made = (
            f"Generation: {sampling}, seed {generation['seed']}, at most {generation['max_new_tokens']} new "
            "tokens, stop at `<|im_end|>`; the prompt is tunebench's text-to-SQL prompt in each model's own "
            "chat template (served models: the server's)."
        )
    lines = [
        "# Text-to-SQL evaluation",
        "",
        f"Dataset: **{meta['dataset']['name']}** ({meta['dataset']['description']}), "
        f"{next(iter(summaries.values()))['n']} questions. {made}",
        "",
        *_headline(summaries, paired),
        "",
        "## The models",
        "",
    ]
    for lb in labels:
        template = models[lb].get("chat_template", "the model's own")
        note = "" if template == "the model's own" else f" Prompted with {template}."
        lines.append(f"- **{lb}**: `{models[lb]['path']}` — {models[lb]['description']}{note}")
    lines += ["", *_gold_notes(summaries)]
    lines += ["", "## By difficulty", "", *_table(summaries, "by_difficulty", "difficulty")]
    if "by_seen_combo" in next(iter(summaries.values())):
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
        lines += _examples(records[labels[-1]], labels[-1])
    lines += ["", *HOW_MEASURED]
    return "\n".join(lines) + "\n"
