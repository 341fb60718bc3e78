"""Training data: load, convert to `messages` (validated before any training starts), split."""

from __future__ import annotations

import logging

from tunebench.data.spider_folder import is_spider_folder
from tunebench.data.splits import split_heldout
from tunebench.train.sources import load_messages

log = logging.getLogger(__name__)

_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv")


def load_train_eval(tb_args):
    """(train, eval or None) datasets of `messages`.

    The held-out rows come from `tunebench.data.splits.split_heldout`, the call evaluation makes on the raw
    rows, so the model is scored on exactly the rows it never trained on.
    """
    rows = load_messages(
        tb_args.dataset_name,
        split=tb_args.dataset_train_split,
        config=tb_args.dataset_config,
        fmt=tb_args.dataset_format,
    )
    test_split = tb_args.dataset_test_split
    train, evaluation = split_heldout(
        rows,
        max_samples=tb_args.max_train_samples,
        eval_fraction=0.0 if test_split else tb_args.eval_fraction,
        sample_seed=tb_args.sample_seed,
    )
    if test_split:
        evaluation = load_messages(
            # a file of its own, except a Spider folder's: there `dev.json` names a file in the folder
            test_split
            if test_split.endswith(_FILE_SUFFIXES) and not is_spider_folder(tb_args.dataset_name)
            else tb_args.dataset_name,
            split=test_split,
            config=tb_args.dataset_config,
            fmt=tb_args.dataset_format,
        )
    log.info("training rows: %d, eval rows: %s", len(train), len(evaluation) if evaluation is not None else 0)
    return train, evaluation
