"""Length and position beside FastChat's win rates (which stay the headline): mean answer length per
model, position consistency (the share of games whose two orders agree), and a length-controlled win
rate, each with a 95% bootstrap interval.

The length-controlled win rate follows AlpacaEval 2's idea in its simplest form: a logistic
regression of the pair's outcome (1 win, 0.5 tie, 0 loss, as in win_rate_adjusted) on the length
difference of the two answers (tanh of the difference over its standard deviation, as AlpacaEval
does), read at zero difference: the win rate the model would have against an opponent whose answers
are as long as its own. A judge that favours long answers shows up as a gap between the two rates.

Two cases get no number, and the results say why:
- the outcomes separate (only wins and losses, and a length threshold puts every win on one side and
  every loss on the other; all wins or all losses included): the fit has no finite maximum and its
  estimate runs to 0 or 1 (six games all won once read 1.0 [1.0, 1.0]);
- fewer than MIN_GAMES_FOR_INTERVAL games: the estimate is given, its interval is not. In simulation
  (outcomes drawn from a known logistic length effect) the percentile-bootstrap interval of this fit
  covered the truth in 86-89% of runs at 40 games and 91-96% at 160; a full MT-Bench pairing (80
  questions, 2 turns) has 160 games.
"""

from __future__ import annotations

import numpy as np

from tunebench.stats import bootstrap_ci, bootstrap_indices, percentile_interval, proportion_ci

MIN_GAMES_FOR_INTERVAL = 100


def answer_length(answers: dict[str, dict[int, dict]], model: str, question_id: int, turn: int) -> int | None:
    """Characters of the answer the judge focuses on (turn 2's for a multi-turn game)."""
    row = answers.get(model, {}).get(question_id)
    if row is None:
        return None
    turns = row["choices"][0]["turns"]
    return len(turns[turn - 1]) if turn - 1 < len(turns) else None


def _fit_at_zero(x: np.ndarray, y: np.ndarray, iterations: int = 25) -> float:
    """sigmoid(a) for the logistic fit y ~ sigmoid(a + b x) (fractional y allowed), by Newton's method
    with a small ridge on b so a sample without length variation still has an answer."""
    features = np.stack([np.ones_like(x), x], axis=1)
    w = np.zeros(2)
    ridge = np.diag([0.0, 1e-3])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(features @ w)))
        grad = features.T @ (p - y) + ridge @ w
        hess = (features * (p * (1 - p))[:, None]).T @ features + ridge + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(1 / (1 + np.exp(-w[0])))


def separates(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether length alone predicts every outcome (complete or quasi-complete separation)."""
    if np.any((y > 0) & (y < 1)):  # a tie is half a win and half a loss: the fit stays finite
        return False
    wins, losses = x[y == 1], x[y == 0]
    if len(wins) == 0 or len(losses) == 0:
        return True
    return bool(wins.min() >= losses.max() or wins.max() <= losses.min())


def length_controlled(
    diffs: list[float], outcomes: list[float], seed: int = 0
) -> tuple[float | None, list[float] | None, str | None]:
    """(length-controlled win rate, its 95% bootstrap interval, why either is missing)."""
    d, y = np.asarray(diffs, dtype=float), np.asarray(outcomes, dtype=float)
    scale = d.std() or 1.0
    x = np.tanh(d / scale)
    if separates(x, y):
        return None, None, "separated: length alone predicts every outcome, so the fit has no finite value"
    estimate = round(_fit_at_zero(x, y), 4)
    if len(y) < MIN_GAMES_FOR_INTERVAL:
        return estimate, None, f"no interval under {MIN_GAMES_FOR_INTERVAL} games ({len(y)})"
    fits = [_fit_at_zero(x[i], y[i]) for i in bootstrap_indices(len(y), seed=seed)]
    return estimate, percentile_interval(fits), None


def length_and_position(rows: list[dict], answers: dict[str, dict[int, dict]], baseline: str | None) -> dict:
    """Per model (the baseline left out, as the win rates): the extra columns of results.md."""
    per: dict[str, dict[str, list]] = {}
    for r in rows:
        g1, g2 = r["g1_winner"], r["g2_winner"]
        if g1 == "error" or g2 == "error":
            continue  # dropped, as FastChat drops them from the win rates
        consistent = float(g1 == g2)
        tie = g1 == "tie" or g1 != g2
        m1, m2, q, t = r["model_1"], r["model_2"], r["question_id"], r["turn"]
        for me, other, won in ((m1, m2, g1 == "model_1"), (m2, m1, g1 == "model_2")):
            b = per.setdefault(me, {"consistent": [], "length": [], "diff": [], "outcome": []})
            b["consistent"].append(consistent)
            mine, theirs = answer_length(answers, me, q, t), answer_length(answers, other, q, t)
            if mine is not None:
                b["length"].append(mine)
            if mine is not None and theirs is not None:
                b["diff"].append(mine - theirs)
                b["outcome"].append(0.5 if tie else float(won))
    out = {}
    for model, b in sorted(per.items()):
        if model == baseline:
            continue
        entry = {
            "position_consistency": round(float(np.mean(b["consistent"])), 4),
            "ci95_position_consistency": proportion_ci(b["consistent"]),
            "mean_length_chars": round(float(np.mean(b["length"])), 1) if b["length"] else None,
            "ci95_mean_length_chars": bootstrap_ci(b["length"]),
            "length_controlled_win_rate": None,
            "ci95_length_controlled_win_rate": None,
            "length_controlled_note": "fewer than 2 games with both answers' lengths",
        }
        if len(b["diff"]) >= 2:
            lc, ci, note = length_controlled(b["diff"], b["outcome"])
            entry.update(
                length_controlled_win_rate=lc, ci95_length_controlled_win_rate=ci, length_controlled_note=note
            )
        out[model] = entry
    return out


def opponent_lengths(rows: list[dict], answers: dict[str, dict[int, dict]]) -> dict[str, float]:
    """Mean answer length of every model in the judged rows (the baseline's too)."""
    lengths: dict[str, list[int]] = {}
    for r in rows:
        for m in (r["model_1"], r["model_2"]):
            n = answer_length(answers, m, r["question_id"], r["turn"])
            if n is not None:
                lengths.setdefault(m, []).append(n)
    return {m: round(float(np.mean(v)), 1) for m, v in sorted(lengths.items())}
