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
import sys
from dataclasses import dataclass

import yaml

from tunebench.data.splits import split_heldout
from tunebench.train.preference_formats import PreferenceStats, load_preference_rows, to_unpaired

log = logging.getLogger(__name__)

TRAINERS = ("sft", "dpo", "orpo", "kto")
# Which TRL class each trainer is and where TRL 1.x keeps it (module, config, trainer).
_TRL_CLASSES = {
    "sft": ("trl", "SFTConfig", "SFTTrainer"),
    "dpo": ("trl", "DPOConfig", "DPOTrainer"),
    "kto": ("trl", "KTOConfig", "KTOTrainer"),
    "orpo": ("trl.experimental.orpo", "ORPOConfig", "ORPOTrainer"),
}
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


def _trl(kind: str, which: int):
    import importlib

    if kind not in _TRL_CLASSES:
        raise ValueError(f"unknown trainer {kind!r}; expected one of {list(TRAINERS)}")
    module, *names = _TRL_CLASSES[kind]
    return getattr(importlib.import_module(module), names[which])


def config_class(kind: str):
    """The TRL config dataclass a recipe with `trainer: <kind>` fills."""
    return _trl(kind, 0)


def trainer_class(kind: str):
    return _trl(kind, 1)


def recipe_trainer(argv: list[str]) -> str:
    """The `trainer` a command line asks for: `--trainer` if given, else the recipe's key, else sft.

    Read before parsing because the trainer decides which config dataclass the recipe fills."""
    kind = None
    for i, arg in enumerate(argv):
        if arg.startswith("--trainer="):
            kind = arg.split("=", 1)[1]
        elif arg == "--trainer" and i + 1 < len(argv):
            kind = argv[i + 1]
    if kind is None and "--config" in argv:
        with open(argv[argv.index("--config") + 1]) as f:
            kind = (yaml.safe_load(f) or {}).get("trainer")
    kind = (kind or "sft").lower()
    if kind not in TRAINERS:
        raise ValueError(f"trainer: {kind!r} is not one of {list(TRAINERS)}")
    return kind


def load_preference_train_eval(tb, kind: str):
    """(train, eval or None, stats) datasets in TRL's conversational preference format.

    KTO gets unpaired rows (each pair becomes a desirable and an undesirable completion). The held-out
    pairs come from `split_heldout`, like SFT's held-out rows.
    """
    from datasets import Dataset

    fmt = tb.dataset_format
    on_bad = getattr(tb, "preference_bad_rows", "error")
    ratio = getattr(tb, "shp_min_score_ratio", 2.0)
    rows, stats = load_preference_rows(
        tb.dataset_name,
        split=tb.dataset_train_split,
        config=tb.dataset_config,
        fmt=fmt,
        on_bad=on_bad,
        shp_min_score_ratio=ratio,
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


def build_preference_trainer(tb, cfg, model_args, *, kind: str, callbacks=None):
    """Like `run.build_trainer`, for DPO/ORPO/KTO: CPU settings, data (validated before the model loads),
    model, ChatML, LoRA config and the TRL trainer.

    Returns (trainer, tokenizer, peft_config, model_info, train_dataset, PreferenceRecord).
    """
    import torch

    from tunebench.train.model_setup import load_model_and_tokenizer, lora_config
    from tunebench.train.run import cpu_overrides

    if not torch.cuda.is_available():
        changed = cpu_overrides(cfg)
        if changed:
            log.info("no CUDA: running on CPU with %s", ", ".join(changed))
    train_ds, eval_ds, stats = load_preference_train_eval(tb, kind)
    model, tokenizer, model_info = load_model_and_tokenizer(model_args, cfg)
    peft_config = lora_config(model_args, tb, model, model_info["new_token_ids"])
    trainer = trainer_class(kind)(
        model=model,
        args=cfg,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    record = PreferenceRecord(
        trainer=kind,
        beta=getattr(cfg, "beta", None),
        reference_model=reference_description(kind, model_args, peft_config is not None),
        data=stats.to_dict(),
        eval_pairs=len(eval_ds) if eval_ds is not None else None,
    )
    return trainer, tokenizer, peft_config, model_info, train_ds, record


def parse(argv: list[str] | None = None):
    """`--config recipe.yaml [--key=value …]` → (kind, tunebench args, trainer config, ModelConfig, resolved).

    The trainer config is TRL's own for the chosen trainer (DPOConfig for `trainer: dpo`, …), so every
    DPO option (beta, loss_type, max_length …) is a recipe key."""
    from trl import ModelConfig, TrlParser

    from tunebench.train.args import TunebenchArguments, resolved_recipe

    argv = list(sys.argv[1:] if argv is None else argv)
    kind = recipe_trainer(argv)
    parser = TrlParser((TunebenchArguments, PreferenceArguments, config_class(kind), ModelConfig))
    tb, pref, cfg, model = parser.parse_args_and_config(argv)
    for name in ("trainer", "preference_bad_rows", "shp_min_score_ratio"):
        setattr(tb, name, getattr(pref, name))  # one object carries the data settings
    return kind, tb, cfg, model, resolved_recipe(argv, (tb, pref, cfg, model))


def parse_recipe(argv: list[str] | None = None):
    """Any recipe → (tunebench args, trainer config, ModelConfig, resolved), what `python -m
    tunebench.train` runs: an SFT recipe without a `trainer` key goes through `args.parse` unchanged."""
    argv = list(sys.argv[1:] if argv is None else argv)
    names_trainer = any(a == "--trainer" or a.startswith("--trainer=") for a in argv)
    if not names_trainer and "--config" in argv:
        with open(argv[argv.index("--config") + 1]) as f:
            names_trainer = "trainer" in (yaml.safe_load(f) or {})
    if not names_trainer:
        from tunebench.train.args import parse as parse_sft

        return parse_sft(argv)
    _, tb, cfg, model, resolved = parse(argv)
    return tb, cfg, model, resolved


@dataclass
class PreferenceArguments:
    """The recipe keys preference training adds to SFT's."""

    trainer: str = "sft"  # sft | dpo | orpo | kto
    preference_bad_rows: str = "error"  # error: stop at the first malformed row | drop: count and skip it
    shp_min_score_ratio: float = (
        2.0  # SHP pairs below this score ratio are left out (the dataset card's advice)
    )


__all__ = [
    "TRAINERS",
    "PreferenceArguments",
    "PreferenceRecord",
    "PreferenceStats",
    "build_preference_trainer",
    "config_class",
    "load_preference_train_eval",
    "parse",
    "recipe_trainer",
    "trainer_class",
]
