"""Assemble the trainer a recipe asks for, once for every trainer: data (validated before the model
loads), model and tokenizer with ChatML, the LoRA config, and TRL's SFT, DPO, ORPO or KTO trainer.

On CPU the SFT trainer projects only the labelled positions through the LM head
(train/labelled_loss.py). bench/ builds its tunebench arm with `build_trainer`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tunebench.train.recipe import Recipe, trainer_class

log = logging.getLogger(__name__)


@dataclass
class Built:
    """What `build_trainer` returns: the trainer and what the run record says about its parts."""

    trainer: Any
    tokenizer: Any
    peft_config: Any  # None for full fine-tuning
    model_info: dict  # attention, dtype, quantization, device, new token ids, parameters
    train_dataset: Any
    preference: Any = None  # PreferenceRecord of a DPO / ORPO / KTO run


def warn_about_length_grouping(config) -> bool:
    """`train_sampling_strategy=group_by_length` is a trap on templated data: length follows the template,
    so a batch holds one or two templates and the model learns to ignore the question (0% execution
    accuracy on the embedded set where the random sampler reached 78.5%: docs/bench.md). Say so."""
    if str(getattr(config, "train_sampling_strategy", "random")) != "group_by_length":
        return False
    log.warning(
        "train_sampling_strategy=group_by_length puts examples of equal length in one batch; where length "
        "follows a template (text-to-SQL sets, the embedded set) a batch is then one template and the model "
        "learned to ignore the question (0%% execution accuracy, docs/bench.md). Prefer the random sampler."
    )
    return True


def build_trainer(recipe: Recipe, *, trainer_cls=None, callbacks=None) -> Built:
    """Everything `train` does up to `trainer.train()`, for any of the recipe's trainers."""
    from tunebench.train.model_setup import load_model_and_tokenizer, lora_config

    args, config, kind = recipe.args, recipe.config, recipe.trainer
    if recipe.cpu_changes:
        log.info("no CUDA: running on the CPU with %s", ", ".join(recipe.cpu_changes))
    preference = None
    if kind == "sft":
        from tunebench.train.data import load_train_eval

        warn_about_length_grouping(config)
        train_ds, eval_ds = load_train_eval(args)
        stats = None
    else:
        from tunebench.train.preference import load_preference_train_eval

        train_ds, eval_ds, stats = load_preference_train_eval(args, kind)
    model, tokenizer, model_info = load_model_and_tokenizer(recipe.model, config)
    peft_config = lora_config(recipe.model, args, model, model_info["new_token_ids"])
    if trainer_cls is None:
        if kind == "sft":
            from tunebench.train.labelled_loss import LabelledLossSFTTrainer as trainer_cls
        else:
            trainer_cls = trainer_class(kind)
    trainer = trainer_cls(
        model=model,
        args=config,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    if stats is not None:
        from tunebench.train.preference import preference_record

        preference = preference_record(recipe, stats, peft_config is not None, eval_ds)
    return Built(trainer, tokenizer, peft_config, model_info, train_ds, preference)
