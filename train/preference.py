"""Preference training (DPO, ORPO, KTO) with the model setup SFT uses.

A recipe's `trainer` key picks the TRL trainer; everything else (QLoRA, ChatML, attention, CPU settings,
run folder, resume, merge, card, run record) is the SFT run's. TRL 1.x ships `DPOTrainer` and
`KTOTrainer` in `trl`; `ORPOTrainer` moved to `trl.experimental.orpo`.

A DPO run starts from an SFT run's merged model (`model_name_or_path: models/<sft run>/merged`) and trains
a new LoRA adapter on it. The reference policy is that same model with the adapter disabled, which is
what TRL does when it is given a PEFT model and no `ref_model`: no second copy of the weights in memory.
ORPO needs no reference at all; KTO uses the adapter-disabled model too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tunebench.data.splits import split_heldout
from tunebench.train.preference_formats import PreferenceStats, load_preference_rows, to_unpaired

log = logging.getLogger(__name__)

_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv")


@dataclass
class PreferenceRecord:
    """What the run record keeps about a preference run (`RunManifest.extra["preference"]`)."""

    trainer: str
    beta: float | None
    reference_model: str | None
    data: dict  # PreferenceStats.to_dict() of the training rows
    eval_pairs: int | None = None

    def to_dict(self) -> dict:
        return {
            "trainer": self.trainer,
            "beta": self.beta,
            "reference_model": self.reference_model,
            "data": self.data,
            "eval_pairs": self.eval_pairs,
        }


def load_preference_train_eval(tb, kind: str):
    """(train, eval or None, stats) datasets in TRL's conversational preference format.

    KTO gets unpaired rows (each pair becomes a desirable and an undesirable completion). The held-out
    pairs come from `split_heldout`, like SFT's held-out rows.
    """
    from datasets import Dataset

    fmt = tb.dataset_format
    on_bad = tb.preference_bad_rows
    ratio = tb.shp_min_score_ratio
    rows, stats = load_preference_rows(
        tb.dataset_name,
        split=tb.dataset_train_split,
        config=tb.dataset_config,
        fmt=fmt,
        on_bad=on_bad,
        shp_min_score_ratio=ratio,
        trainer=kind,
    )
    if not rows:
        raise ValueError(f"{tb.dataset_name}: no preference pairs left ({stats.to_dict()})")
    test_split = tb.dataset_test_split
    train, evaluation = split_heldout(
        Dataset.from_list(rows),
        max_samples=tb.max_train_samples,
        eval_fraction=0.0 if test_split else tb.eval_fraction,
        sample_seed=tb.sample_seed,
    )
    if test_split:
        source = test_split if test_split.endswith(_FILE_SUFFIXES) else tb.dataset_name
        test_rows, _ = load_preference_rows(
            source,
            split=test_split,
            config=tb.dataset_config,
            fmt=fmt,
            on_bad=on_bad,
            shp_min_score_ratio=ratio,
            trainer=kind,
        )
        evaluation = Dataset.from_list(test_rows)
    if kind == "kto" and "chosen" in train.column_names:
        train = Dataset.from_list(to_unpaired(train))
        evaluation = Dataset.from_list(to_unpaired(evaluation)) if evaluation is not None else None
    log.info(
        "preference rows: %d train, %s eval; %s",
        len(train),
        len(evaluation) if evaluation is not None else 0,
        stats.to_dict(),
    )
    return train, evaluation, stats


def reference_description(kind: str, model_args, peft: bool) -> str | None:
    """Which model the loss compares against, as the run record states it."""
    if kind == "orpo":
        return None  # odds-ratio loss: no reference policy
    base = model_args.model_name_or_path
    return f"{base} (adapter disabled)" if peft else f"{base} (frozen copy)"


def preference_record(recipe, stats: PreferenceStats, peft: bool, eval_ds) -> PreferenceRecord:
    """What the run record keeps about a preference run's trainer, reference and data."""
    kind = recipe.trainer
    return PreferenceRecord(
        trainer=kind,
        beta=getattr(recipe.config, "beta", None),
        reference_model=reference_description(kind, recipe.model, peft),
        data=stats.to_dict(),
        eval_pairs=len(eval_ds) if eval_ds is not None else None,
    )
