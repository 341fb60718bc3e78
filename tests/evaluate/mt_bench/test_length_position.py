"""Length and position beside FastChat's win rates: the length-controlled win rate recovers a judge's
preference for long answers, and results.json / results.md carry the extra columns without touching
FastChat's."""

from __future__ import annotations

import json

import numpy as np

from tests.evaluate.mt_bench.judge_standin import judge_args, results_args, results_of
from tunebench.evaluate.mt_bench import cli as mt_bench
from tunebench.evaluate.mt_bench.data import load_answers
from tunebench.evaluate.mt_bench.length_position import length_controlled


def test_without_length_differences_it_is_the_plain_rate():
    outcomes = [1, 1, 0.5, 0, 1, 0.5, 0, 1] * 13
    lc, (lo, hi), note = length_controlled([0.0] * len(outcomes), outcomes)
    assert abs(lc - np.mean(outcomes)) < 1e-6 and lo <= lc <= hi and note is None


def test_a_separated_fit_says_so_instead_of_one():
    """Issue 25, item 14: six games, one model always wins; the fit used to read 1.0 [1.0, 1.0]."""
    lc, ci, note = length_controlled([120.0, -40.0, 300.0, 15.0, 80.0, -5.0], [1.0] * 6)
    assert lc is None and ci is None and note.startswith("separated")
    # Wins exactly where the answer is longer: length alone predicts every outcome.
    diffs = [-300.0, -200.0, -100.0, 100.0, 200.0, 300.0] * 20
    lc, ci, note = length_controlled(diffs, [float(d > 0) for d in diffs])
    assert lc is None and note.startswith("separated")
    # One tie is enough to keep the fit finite.
    lc, _, note = length_controlled(diffs + [0.0], [float(d > 0) for d in diffs] + [0.5])
    assert lc is not None and not (note or "").startswith("separated")


def test_small_samples_get_an_estimate_but_no_interval():
    rng = np.random.default_rng(1)
    diffs = list(rng.normal(0, 300, 40))
    outcomes = [1.0, 0.0, 0.5, 1.0] * 10
    lc, ci, note = length_controlled(diffs, outcomes)
    assert 0 < lc < 1 and ci is None and note == "no interval under 100 games (40)"


def test_a_judge_that_favours_length_is_corrected():
    """Outcomes drawn from a judge with no preference between equally long answers (intercept 0) but
    a strong one for the longer answer; the model's answers are usually longer."""
    rng = np.random.default_rng(0)
    diffs = rng.normal(300, 250, size=600)
    x = np.tanh(diffs / diffs.std())
    outcomes = (rng.random(600) < 1 / (1 + np.exp(-3 * x))).astype(float)
    lc, (lo, hi), _ = length_controlled(list(diffs), list(outcomes))
    assert outcomes.mean() > 0.75  # what the plain win rate reports
    assert lo <= 0.5 <= hi and abs(lc - 0.5) < 0.1  # what the judge thinks of equally long answers


def test_results_carry_length_and_position_beside_fastchat(standin, run_dir):
    questions, out = run_dir
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 0
    assert mt_bench.main(results_args(questions, out, "--baseline", "base")) == 0
    res = json.loads((results_of(out) / "results.json").read_text())
    tuned = res["models"]["tuned"]
    extra = tuned["length_position"]
    assert tuned["win_rate_adjusted"] == round(8 / 14, 4)  # FastChat's number is unchanged
    assert extra["position_consistency"] == tuned["position_consistency"] == round(13 / 14, 4)
    lo, hi = extra["ci95_position_consistency"]
    assert lo <= 13 / 14 <= hi
    # Mean length over the judged (non-error) rows, by hand from the answer file.
    answers = load_answers(out / "model_answer" / "tuned.jsonl")
    errors = {(3, 1), (6, 1)}  # unparseable verdict and API error (see test_judge)
    lengths = [
        len(answers[q]["choices"][0]["turns"][t - 1])
        for q in range(1, 9)
        for t in (1, 2)
        if (q, t) not in errors
    ]
    assert extra["mean_length_chars"] == round(float(np.mean(lengths)), 1)
    assert 0 <= extra["length_controlled_win_rate"] <= 1
    assert extra["ci95_length_controlled_win_rate"] is None  # 14 games: too few for an interval
    assert extra["length_controlled_note"] == "no interval under 100 games (14)"
    assert set(res["mean_length_chars"]) == {"tuned", "base"}
    md = (results_of(out) / "results.md").read_text()
    assert "| tuned | 6 | 4 | 4 | 0.429 | 0.571 |" in md and "length-controlled win rate" in md
    assert "tuned: no interval under 100 games (14)" in md
