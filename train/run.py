"""The training run: recipe → data → model → SFTTrainer → adapter → merged model + card + manifest."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import yaml

from tunebench.runs.atomic_io import atomic_write_text
from tunebench.runs.paths import RunPaths, models_root, tiny_base_build
from tunebench.runs.record import ModelInfo, RunManifest, TrainingStats
from tunebench.train.data import load_train_eval
from tunebench.train.manifest import environment, peak_memory
from tunebench.train.model_card import render_model_card
from tunebench.train.model_setup import load_model_and_tokenizer, lora_config

log = logging.getLogger("tunebench.train")


def cpu_overrides(sft) -> list[str]:
    """On CPU, TRL's defaults (bf16, gradient checkpointing) made steps 7x slower here: turn them off."""
    changed = []
    for name, value in (
        ("use_cpu", True),
        ("bf16", False),
        ("activation_checkpointing", False),
        ("gradient_checkpointing", False),
    ):
        if getattr(sft, name) != value:
            setattr(sft, name, value)
            changed.append(f"{name}={value}")
    return changed


def _run_dir(sft) -> RunPaths:
    out = sft.output_dir
    if out in (None, "", "trainer_output"):
        out = models_root() / (sft.run_name or "run")
    return RunPaths(Path(out))


def _loss_summary(history: list[dict]) -> dict:
    losses = [h["loss"] for h in history if "loss" in h]
    tokens = [h["num_tokens"] for h in history if "num_tokens" in h]
    return {
        "first_loss": round(losses[0], 4) if losses else None,
        "last_loss": round(losses[-1], 4) if losses else None,
        "train_tokens": int(tokens[-1]) if tokens else None,
        "loss_curve": [(h["step"], round(h["loss"], 4)) for h in history if "loss" in h],
    }


def warn_about_length_grouping(sft) -> bool:
    """`train_sampling_strategy=group_by_length` is a trap on templated data: length follows the template,
    so a batch holds one or two templates and the model learns to ignore the question (0% execution
    accuracy on the embedded set where the random sampler reached 78.5%: docs/bench.md). Say so."""
    if str(getattr(sft, "train_sampling_strategy", "random")) != "group_by_length":
        return False
    log.warning(
        "train_sampling_strategy=group_by_length puts examples of equal length in one batch; where length "
        "follows a template (text-to-SQL sets, the embedded set) a batch is then one template and the model "
        "learned to ignore the question (0%% execution accuracy, docs/bench.md). Prefer the random sampler."
    )
    return True


def build_trainer(tb, sft, model_args, *, trainer_cls=None, callbacks=None):
    """Everything `train` does up to `trainer.train()`: CPU settings, data (validated before the model
    loads), model, ChatML, LoRA config and the SFTTrainer (on CPU its loss projects only the labelled
    positions: train/labelled_loss.py). bench/ builds its tunebench arm with this.

    Returns (trainer, tokenizer, peft_config, model_info, train_dataset).
    """
    import torch

    from tunebench.train.labelled_loss import LabelledLossSFTTrainer

    if not torch.cuda.is_available():
        changed = cpu_overrides(sft)
        if changed:
            log.info("no CUDA: running on CPU with %s", ", ".join(changed))
    warn_about_length_grouping(sft)
    train_ds, eval_ds = load_train_eval(tb)
    model, tokenizer, model_info = load_model_and_tokenizer(model_args, sft)
    peft_config = lora_config(model_args, tb, model, model_info["new_token_ids"])
    trainer = (trainer_cls or LabelledLossSFTTrainer)(
        model=model,
        args=sft,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    return trainer, tokenizer, peft_config, model_info, train_ds


def train(tb, sft, model_args, resolved: dict) -> RunPaths:
    from transformers.trainer_utils import get_last_checkpoint

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if tb.embedded:
        from tunebench.embedded import build_embedded

        build_embedded(seed=tb.embedded_seed)
    # Read before the model loads: a rebuild of the tiny base while this run trains is caught at merge.
    base_build = tiny_base_build(model_args.model_name_or_path)
    run = _run_dir(sft)
    run.root.mkdir(parents=True, exist_ok=True)
    sft.run_name = sft.run_name or run.root.name
    sft.output_dir = str(run.checkpoints)
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(run.logs))
    kind = getattr(tb, "trainer", "sft")  # recipe key `trainer` (train/preference.py)
    preference = None
    if kind == "sft":
        trainer, tokenizer, peft_config, model_info, train_ds = build_trainer(tb, sft, model_args)
    else:
        from tunebench.train.preference import build_preference_trainer

        built = build_preference_trainer(tb, sft, model_args, kind=kind)
        trainer, tokenizer, peft_config, model_info, train_ds, preference = built
    main_process = trainer.is_world_process_zero()
    if main_process:
        atomic_write_text(run.recipe, yaml.safe_dump(resolved, sort_keys=False))
    checkpoint = get_last_checkpoint(str(run.checkpoints)) if tb.resume and run.checkpoints.exists() else None
    if tb.resume:
        log.info("resuming from %s", checkpoint or "scratch (no checkpoint found)")
    start = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.time() - start
    final_dir = run.adapter if peft_config is not None else run.merged
    if trainer.is_fsdp_enabled:
        # SHARDED_STATE_DICT (what fsdp.yaml checkpoints with) makes save_model write nothing.
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(final_dir))
    if not main_process:
        return run
    tokenizer.save_pretrained(str(final_dir))
    manifest = run_manifest(
        tb, sft, model_args, resolved, trainer, result, model_info, train_ds, run, checkpoint, wall
    )
    if base_build is not None:
        manifest.extra["tiny_base"] = base_build
    if preference is not None:  # trainer, beta, reference model, pairs/ties/dropped rows
        manifest.extra["preference"] = preference.to_dict()
    if peft_config is None:
        atomic_write_text(run.merged / "README.md", render_model_card(manifest))
    else:
        atomic_write_text(run.adapter / "README.md", render_model_card(manifest, merged=False))
    # The record is on disk before the merge: a failed merge leaves a complete, re-mergeable run.
    manifest.save(run.manifest)
    if peft_config is not None and tb.merge:
        from tunebench.train.merging import merge_run

        del trainer  # free the trained model before loading the base again to merge
        merge_run(run, manifest=manifest)
    log.info(
        "run folder: %s (merged model: %s)", run.root, run.merged if tb.merge or peft_config is None else "-"
    )
    return run


def run_manifest(
    tb, sft, model_args, resolved, trainer, result, model_info, train_ds, run, checkpoint, wall
) -> RunManifest:
    """The typed run record of a finished training run (before any merge)."""
    summary = _loss_summary(trainer.state.log_history)
    peft = model_args.use_peft
    return RunManifest(
        run_name=sft.run_name,
        method=("qlora" if model_args.load_in_4bit else "lora") if peft else "full",
        recipe=resolved,
        seed=sft.seed,
        datasets=[tb.dataset_name],
        model=ModelInfo(**model_info),
        training=TrainingStats(
            global_step=trainer.state.global_step,
            resumed_from=checkpoint,
            train_rows=len(train_ds),
            **summary,
            tokens_per_second=round(summary["train_tokens"] / result.metrics["train_runtime"], 1)
            if summary["train_tokens"]
            else None,
            wall_time_s=round(wall, 1),
            train_runtime_s=result.metrics.get("train_runtime"),
            peak_memory=peak_memory(),
            world_size=trainer.args.world_size,
        ),
        trainable_parameters=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        paths={"adapter": str(run.adapter) if peft else None, "merged": str(run.merged)},
        environment=environment(),
    )
