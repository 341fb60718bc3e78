"""Training data: load, convert to `messages` (validated before any training starts), split."""

from __future__ import annotations

import logging

from tunebench.sources import load_messages

log = logging.getLogger(__name__)


def load_train_eval(tb_args):
    """(train, eval or None) datasets of `messages`."""
    train = load_messages(
        tb_args.dataset_name,
        split=tb_args.dataset_train_split,
        config=tb_args.dataset_config,
        fmt=tb_args.dataset_format,
    )
    if tb_args.max_train_samples is not None and tb_args.max_train_samples < len(train):
        train = train.shuffle(seed=tb_args.sample_seed).select(range(tb_args.max_train_samples))
    evaluation = None
    if tb_args.dataset_test_split:
        evaluation = load_messages(
            tb_args.dataset_name
            if not tb_args.dataset_test_split.endswith((".json", ".jsonl", ".parquet", ".csv"))
            else tb_args.dataset_test_split,
            split=tb_args.dataset_test_split,
            config=tb_args.dataset_config,
            fmt=tb_args.dataset_format,
        )
    elif tb_args.eval_fraction > 0:
        parts = train.train_test_split(test_size=tb_args.eval_fraction, seed=tb_args.sample_seed)
        train, evaluation = parts["train"], parts["test"]
    log.info("training rows: %d, eval rows: %s", len(train), len(evaluation) if evaluation is not None else 0)
    return train, evaluation
