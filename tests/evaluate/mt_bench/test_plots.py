"""The win-rate plot says what the table says: a model without a judged result is "-" in results.md and
in the plot, never a marker at 0.00."""

from __future__ import annotations

from tunebench.evaluate.mt_bench import plots


def _model(win, tie, loss, rate, ci):
    return {"win": win, "tie": tie, "loss": loss, "win_rate_adjusted": rate, "ci95_win_rate_adjusted": ci,
            "by_category": {}}  # fmt: skip


def test_a_model_without_a_result_is_not_plotted_at_zero(tmp_path, monkeypatch):
    figures = []
    real_save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or real_save(fig, path))
    res = {
        "mode": "pairwise-baseline", "judge": "stand-in", "baseline": "base", "smoke": True,
        "models": {"tuned": _model(6, 2, 2, 0.7, [0.5, 0.9]), "errored": _model(0, 0, 0, None, None)},
    }  # fmt: skip
    paths = plots.make_plots(res, tmp_path)
    assert [p.name for p in paths] == ["win_rate.png"] and paths[0].stat().st_size > 0
    ax = figures[0].axes[0]
    labels = {t.get_text() for t in ax.texts}
    assert labels == {"0.70", "- (no judged result)"}
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    assert [list(line.get_xdata()) for line in markers] == [[0.7]]  # one marker, the model with a result
