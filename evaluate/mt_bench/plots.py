"""MT-Bench plots (matplotlib, Agg backend): the original notebooks' win-rate bar chart and a
per-category chart, each written atomically."""

from __future__ import annotations

from pathlib import Path

from tunebench.runs.atomic_io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    return path


def _title(res: dict, what: str) -> str:
    t = f"MT-Bench {what} — judge {res['judge']}"
    if res.get("baseline"):
        t += f" vs {res['baseline']}"
    return ("SMOKE RUN: " if res["smoke"] else "") + t


def make_plots(res: dict, out_dir: Path) -> list[Path]:
    models = res["models"]
    if not models:
        return []
    plt = _plt()
    pairwise = res["mode"] != "single"
    metric, ci_key = ("win_rate_adjusted", "ci95_win_rate_adjusted") if pairwise else ("score", "ci95_score")
    names = sorted(models, key=lambda m: -(models[m].get(metric) or -1))
    paths = []

    # 1. overall bars with the 95% bootstrap interval (pairwise: stacked win / tie / loss too)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.6 * len(names)))
    # A model without a result (no judged pair, every game errored) is "-" in results.md: no marker at 0.00.
    values = [models[m].get(metric) for m in names]
    if pairwise:
        left = [0.0] * len(names)
        for part, color in (("win", "#2a9d8f"), ("tie", "#e9c46a"), ("loss", "#e76f51")):
            n = [max(1, models[m]["win"] + models[m]["tie"] + models[m]["loss"]) for m in names]
            width = [models[m][part] / k for m, k in zip(names, n, strict=True)]
            ax.barh(names, width, left=left, color=color, label=part, alpha=0.85)
            left = [a + b for a, b in zip(left, width, strict=True)]
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of judged pairs (marker: win_rate_adjusted, 95% CI)")
    else:
        ax.barh(names, [v or 0 for v in values], color="#2a9d8f")
        ax.set_xlim(0, 10)
        ax.set_xlabel("average score (95% CI)")
    known = [(m, v) for m, v in zip(names, values, strict=True) if v is not None]
    if known:
        lo_hi = [models[m].get(ci_key) or [v, v] for m, v in known]
        err = [[v - lh[0] for (_, v), lh in zip(known, lo_hi, strict=True)],
               [lh[1] - v for (_, v), lh in zip(known, lo_hi, strict=True)]]  # fmt: skip
        ax.errorbar([v for _, v in known], [m for m, _ in known], xerr=err, fmt="o", color="black",
                    capsize=4, label=metric)  # fmt: skip
    for v, m in zip(values, names, strict=True):
        label = f"{v:.2f}" if v is not None else "- (no judged result)"
        ax.annotate(label, (v or 0, m), textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_title(_title(res, "win rate" if pairwise else "score"), fontsize=10)
    paths.append(_save(fig, Path(out_dir) / ("win_rate.png" if pairwise else "score.png")))
    plt.close(fig)

    # 2. per category, one bar per model
    cats = sorted({c for m in names for c in models[m]["by_category"]})
    if cats:
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(cats)), 3.8))
        width = 0.8 / len(names)
        for i, m in enumerate(names):
            ys = [models[m]["by_category"].get(c, {}).get(metric) or 0 for c in cats]
            xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(cats))]
            ax.bar(xs, ys, width=width, label=m)
        ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right")
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1 if pairwise else 10)
        if pairwise:
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.legend(fontsize=8)
        ax.set_title(_title(res, f"{metric} per category"), fontsize=10)
        paths.append(_save(fig, Path(out_dir) / "per_category.png"))
        plt.close(fig)
    return paths
