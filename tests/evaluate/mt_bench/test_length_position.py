"""Length and position beside FastChat's win rates: the length-controlled win rate recovers a judge's
preference for long answers, and results.json / results.md carry the extra columns without touching
FastChat's."""

from __future__ import annotations

import json

import numpy as np

from tests.evaluate.mt_bench.judge_standin import judge_args, results_args
from tunebench.evaluate.mt_bench import cli as mt_bench
from tunebench.evaluate.mt_bench.data import load_answers
from tunebench.evaluate.mt_bench.length_position import length_controlled


def test_without_length_differences_it_is_the_plain_rate():
    outcomes = [1, 1, 0.5, 0, 1, 0.5, 0, 1]
    lc, (lo, hi) = length_controlled([0.0] * len(outcomes), outcomes)
    assert abs(lc - np.mean(outcomes)) < 1e-6 and lo <= lc <= hi


def test_a_judge_that_favours_length_is_corrected():
    """Outcomes drawn from a judge with no preference between equally long answers (intercept 0) but
    a strong one for the longer answer; the model's answers are usually longer."""
    rng = np.random.default_rng(0)
    diffs = rng.normal(300, 250, size=600)
    x = np.tanh(diffs / diffs.std())
    outcomes = (rng.random(600) < 1 / (1 + np.exp(-3 * x))).astype(float)
    lc, (lo, hi) = length_controlled(list(diffs), list(outcomes))
    assert outcomes.mean() > 0.75  # what the plain win rate reports
    assert lo <= 0.5 <= hi and abs(lc - 0.5) < 0.1  # what the judge thinks of equally long answers


def test_results_carry_length_and_position_beside_fastchat(standin, run_dir):
    questions, out = run_dir
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 0
    assert mt_bench.main(results_args(questions, out, "--baseline", "base")) == 0
    res = json.loads((out / "results.json").read_text())
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
    lo, hi = extra["ci95_length_controlled_win_rate"]
    assert lo <= extra["length_controlled_win_rate"] <= hi
    assert set(res["mean_length_chars"]) == {"tuned", "base"}
    md = (out / "results.md").read_text()
    assert "| tuned | 6 | 4 | 4 | 0.429 | 0.571 |" in md and "length-controlled win rate" in md
