"""The held-out split, written once: training holds these rows out, evaluation scores exactly them.

Both steps (sub-sample, then split) depend only on the number of rows and `sample_seed`, so applying the
same call to the raw rows (evaluation) and to the converted `messages` rows (training) selects the
same examples.
"""

from __future__ import annotations


def split_heldout(ds, *, max_samples: int | None, eval_fraction: float, sample_seed: int):
    """(train, held-out or None) of a `datasets.Dataset`: a seeded sub-sample of `max_samples` rows,
    then a seeded `train_test_split` of `eval_fraction` (none when it is 0)."""
    if max_samples is not None and max_samples < len(ds):
        ds = ds.shuffle(seed=sample_seed).select(range(max_samples))
    if not eval_fraction or eval_fraction <= 0:
        return ds, None
    parts = ds.train_test_split(test_size=eval_fraction, seed=sample_seed)
    return parts["train"], parts["test"]
