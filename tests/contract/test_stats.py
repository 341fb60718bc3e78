"""One bootstrap for every reported interval (`tunebench.stats`): SQL accuracy and its paired
difference, MT-Bench win rates, scores and shares; intervals of bounded outcomes never collapse."""

from __future__ import annotations

import numpy as np

from tunebench.stats import (
    RESAMPLES,
    bootstrap_ci,
    paired_bootstrap_ci,
    proportion_ci,
    wilson_interval,
)


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_n():
    small = bootstrap_ci([True] * 6 + [False] * 4)
    large = bootstrap_ci([True] * 600 + [False] * 400)
    assert small[0] < 0.6 < small[1] and large[0] < 0.6 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 5
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([True, False] * 20) == bootstrap_ci([True, False] * 20)  # seeded


def test_the_paired_interval_resamples_both_sides_together():
    rng = np.random.default_rng(0)
    hard = rng.random(300) < 0.5  # what makes a question hard for both models
    first = (hard & (rng.random(300) < 0.9)).astype(float)
    second = np.maximum(first, (rng.random(300) < 0.1)).astype(float)
    paired = paired_bootstrap_ci(first, second)
    separate = [bootstrap_ci(first), bootstrap_ci(second)]
    delta = second.mean() - first.mean()
    assert paired[0] <= delta <= paired[1] and paired[0] > 0
    # Unpaired, the two intervals overlap: the paired one sees the difference.
    assert separate[0][1] > separate[1][0]


def test_all_wins_over_six_games_is_not_certainty():
    """The percentile bootstrap reads six wins in six games as [1.0, 1.0]; the reported interval
    does not (Wilson's score interval is its floor)."""
    assert bootstrap_ci([1.0] * 6) == [1.0, 1.0]
    low, high = proportion_ci([1.0] * 6)
    assert high == 1.0 and low < 0.65
    assert [round(x, 4) for x in wilson_interval(1.0, 6)] == [low, high]
    # At large n the two agree and the bootstrap's interval stands.
    outcomes = [1.0] * 120 + [0.5] * 40 + [0.0] * 40
    boot, reported = bootstrap_ci(outcomes), proportion_ci(outcomes)
    assert abs(boot[0] - reported[0]) < 0.02 and abs(boot[1] - reported[1]) < 0.02
    # Scores on 1..10 are rescaled for the floor.
    low, high = proportion_ci([10.0] * 4, low=1.0, high=10.0)
    assert high == 10.0 and low < 7.5


def test_the_resample_count_keeps_endpoints_steady_across_seeds():
    """2,000 resamples: the endpoints of a 200-question accuracy move less from seed to seed than the
    0.5-point step between two such accuracies."""
    hits = [1.0] * 120 + [0.0] * 80
    ends = np.array([bootstrap_ci(hits, seed=s) for s in range(20)])
    assert RESAMPLES == 2000
    assert ends[:, 0].std() < 0.005 and ends[:, 1].std() < 0.005
