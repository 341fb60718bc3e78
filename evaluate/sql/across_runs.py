"""One table over several two-model evaluations: the same comparison (say SFT vs DPO) repeated with
other seeds, each folder written by `python -m tunebench.evaluate.sql --model M --baseline B --out DIR`.

    python -m tunebench.evaluate.sql across artifacts/dpo-seeds/seed0 artifacts/dpo-seeds/seed1 … [--out F.md]

A row per folder (both accuracies with their intervals, the paired difference with its interval, the
questions only one model gets right), then the mean and the sample standard deviation over folders:
the spread a reader should expect from one more seed. A second table breaks both models down by
difficulty and, on the embedded set, by template x table combinations seen or unseen in training: each
run's figure, then the mean and standard deviation.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from tunebench.data.formats import DataFormatError


def read_pair(folder: Path) -> dict:
    """The two-model summary.json of one evaluation folder, checked."""
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataFormatError(
            str(path), None, None, "no such file: evaluate two models into this folder"
        ) from None
    except json.JSONDecodeError as err:
        raise DataFormatError(str(path), None, None, f"not valid JSON ({err.msg})") from err
    if len(summary.get("models", {})) != 2 or "paired" not in summary:
        raise DataFormatError(str(path), None, "models", "expected an evaluation of two models (--baseline)")
    return summary


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _interval(ci: list[float] | None, signed: bool = False) -> str:
    if not ci:
        return "–"
    fmt = "{:+.1f}" if signed else "{:.1f}"
    return f"{fmt.format(100 * ci[0])} to {fmt.format(100 * ci[1])}"


def _spread(values: list[float], signed: bool = False) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:+.1f} ± {100 * sd:.1f}" if signed else f"{100 * mean:.1f}% ± {100 * sd:.1f}"


def across_table(folders: list[Path], labels: tuple[str, str] | None = None) -> tuple[str, dict]:
    """(markdown, figures) over the folders; the two models must carry the same labels in each.
    `labels` names them in the table (say SFT and DPO, where the evaluation called them base and
    fine-tuned)."""
    summaries = [read_pair(f) for f in folders]
    first, second = summaries[0]["paired"]["first"], summaries[0]["paired"]["second"]
    for folder, s in zip(folders, summaries, strict=True):
        if (s["paired"]["first"], s["paired"]["second"]) != (first, second):
            raise DataFormatError(str(folder / "summary.json"), None, "paired", f"not {first} vs {second}")
    shown = dict(zip((first, second), labels or (first, second), strict=True))
    one, two = shown[first], shown[second]
    lines = [
        f"| run | {shown[first]} | 95% CI | {shown[second]} | 95% CI | {shown[second]} − {shown[first]} (points) "
        f"| paired 95% CI | only {shown[first]} right | only {shown[second]} right | questions |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for folder, s in zip(folders, summaries, strict=True):
        a, b, p = s["models"][first], s["models"][second], s["paired"]
        rows.append(
            {"run": folder.name, one: a["exec_accuracy"], two: b["exec_accuracy"], "delta": p["delta"]}
        )
        lines.append(
            f"| {folder.name} | {_pct(a['exec_accuracy'])} | {_interval(a['exec_accuracy_ci95'])} "
            f"| {_pct(b['exec_accuracy'])} | {_interval(b['exec_accuracy_ci95'])} | {100 * p['delta']:+.1f} "
            f"| {_interval(p['delta_ci95'], signed=True)} | {p['only_first']} | {p['only_second']} | {p['n']} |"
        )
    lines.append(
        f"| mean ± sd over {len(rows)} | {_spread([r[one] for r in rows])} | | "
        f"{_spread([r[two] for r in rows])} | | {_spread([r['delta'] for r in rows], signed=True)} | | | | |"
    )
    breakdown_lines, breakdown = group_table(summaries, first, second, (one, two))
    lines += ["", *breakdown_lines]
    figures = {
        "first": one,
        "second": two,
        "runs": rows,
        "mean": {k: statistics.fmean(r[k] for r in rows) for k in (one, two, "delta")},
        "sd": {
            k: statistics.stdev(r[k] for r in rows) if len(rows) > 1 else 0.0 for k in (one, two, "delta")
        },
        "groups": breakdown,
    }
    return "\n".join(lines) + "\n", figures


GROUPINGS = (("by_difficulty", ("easy", "medium", "hard")), ("by_seen_combo", ("seen", "unseen")))


def _runs_and_spread(values: list[float | None]) -> str:
    shown = " / ".join(_pct(v).rstrip("%") for v in values) + "%"
    known = [v for v in values if v is not None]
    return f"{shown} ({_spread(known)})" if len(known) > 1 else shown


def group_table(summaries: list[dict], first: str, second: str, shown: tuple[str, str]):
    """(markdown lines, figures): each model's accuracy by difficulty and by seen / unseen combination,
    run by run, with the mean and standard deviation over runs (a group a run lacks is left out)."""
    one, two = shown
    lines = [
        f"| group | questions | {one}, each run (mean ± sd) | {two}, each run (mean ± sd) "
        f"| {two} − {one}, mean ± sd (points) |",
        "|---|---|---|---|---|",
    ]
    figures: dict[str, dict] = {}
    for grouping, order in GROUPINGS:
        names = {g for s in summaries for g in s["models"][first].get(grouping, {})}
        for group in [g for g in order if g in names] + sorted(names - set(order)):
            cells = [
                (s["models"][first].get(grouping, {}), s["models"][second].get(grouping, {}))
                for s in summaries
            ]
            a = [c[0].get(group, {}).get("exec_accuracy") for c in cells]
            b = [c[1].get(group, {}).get("exec_accuracy") for c in cells]
            deltas = [y - x for x, y in zip(a, b, strict=True) if x is not None and y is not None]
            n = sorted({c[0][group]["n"] for c in cells if group in c[0]})
            label = group if grouping == "by_difficulty" else f"{group} combinations"
            delta = _spread(deltas, signed=True) if deltas else "–"
            lines.append(
                f"| {label} | {'/'.join(map(str, n))} | {_runs_and_spread(a)} | {_runs_and_spread(b)} | {delta} |"
            )
            figures[label] = {one: a, two: b, "delta": deltas}
    return lines, figures
