"""The training run: recipe → data → model → SFTTrainer → adapter → merged model + card + manifest."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import yaml

from tunebench.runs.atomic_io import atomic_write_text
from tunebench.runs.paths import RunPaths, models_root, tiny_base_build
from tunebench.runs.record import ModelInfo, RunManifest, TrainingStats
from tunebench.train.assemble import build_trainer
from tunebench.train.manifest import environment, peak_memory
from tunebench.train.model_card import render_model_card
from tunebench.train.recipe import Recipe, check_inputs

log = logging.getLogger("tunebench.train")


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


class RunFolderError(ValueError):
    """The run folder holds another run (or something else) and the command did not say what to do."""


class Interrupted(Exception):
    """Training stopped by Ctrl-C; the message says where the last checkpoint is and how to resume."""


# What a tunebench run leaves in its folder (RunPaths): a folder holding any of these is a run.
RUN_ENTRIES = ("manifest.json", "recipe.yaml", "checkpoints", "logs", "adapter", "merged", "eval")


def prepare_run_folder(run: RunPaths, args, main_process: bool = True) -> None:
    """Refuse a used run folder unless the recipe says resume or overwrite: two runs in one folder mix
    their checkpoints, logs and merge. `--overwrite=true` deletes the old run (only a run: a folder with
    anything else in it is never deleted)."""
    if not run.root.is_dir() or not any(run.root.iterdir()):
        return
    entries = sorted(p.name for p in run.root.iterdir())
    foreign = [e for e in entries if e not in RUN_ENTRIES]
    if args.resume:
        return
    if foreign:
        raise RunFolderError(
            f"{run.root}: output_dir holds files that are not a tunebench run ({', '.join(foreign[:3])}): "
            "choose another --output_dir"
        )
    if not args.overwrite:
        raise RunFolderError(
            f"{run.root} already holds a run ({', '.join(entries)}): continue it with --resume=true, "
            "replace it with --overwrite=true, or choose another --output_dir"
        )
    if main_process:
        log.warning("--overwrite=true: deleting the earlier run in %s", run.root)
        for name in entries:
            path = run.root / name
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def resume_checkpoint(run: RunPaths, config) -> str | None:
    """The checkpoint `--resume=true` continues from, or None (a fresh start). A checkpoint already at or
    past max_steps has nothing left to train: refused, where the trainer would run one more step."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoint = get_last_checkpoint(str(run.checkpoints)) if run.checkpoints.is_dir() else None
    if checkpoint is None:
        log.info("--resume=true: no checkpoint in %s, starting from scratch", run.checkpoints)
        return None
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    done, planned = state.get("global_step", 0), state.get("max_steps")
    limit = config.max_steps if config.max_steps and config.max_steps > 0 else None
    if limit is not None and done >= limit:
        raise RunFolderError(
            f"{run.root}: the last checkpoint is at step {done} and max_steps is {limit}: nothing left to "
            f"train (give a larger --max_steps to continue, or --overwrite=true to start again)"
        )
    if (
        limit is None
        and planned
        and done >= planned
        and config.num_train_epochs <= state.get("num_train_epochs", 0)
    ):
        raise RunFolderError(
            f"{run.root}: the last checkpoint finished the run ({done} of {planned} steps): nothing left to "
            "train (give more --num_train_epochs or --max_steps to continue)"
        )
    log.info("resuming from %s (step %d)", checkpoint, done)
    return checkpoint


def interrupted_message(run: RunPaths, trainer, command: str) -> str:
    from transformers.trainer_utils import get_last_checkpoint

    step = trainer.state.global_step if trainer is not None else 0
    last = get_last_checkpoint(str(run.checkpoints)) if run.checkpoints.is_dir() else None
    if last is None:
        return f"interrupted at step {step}, before the first checkpoint: run the same command to start again"
    return (
        f"interrupted at step {step}; the last checkpoint is {last}. Continue with: {command} --resume=true"
    )


def prepare_base(recipe: Recipe) -> dict | None:
    """A base that is built, not downloaded: a packaged model's folder (models/smollm2-135m-instruct) is
    built from its pip package the first time, and a `.gguf` model_name_or_path becomes the folder
    converted from it (once, models/gguf/), which the run then trains on, records and merges into.
    Returns the GGUF file's record (sha256, tensor types), or None for any other base."""
    from tunebench.bases import PACKAGED, build_packaged, from_gguf, is_gguf, read_record
    from tunebench.bases.packaged import default_folder

    name = recipe.model.model_name_or_path
    if not name:
        return None
    for key, entry in PACKAGED.items():
        if Path(name) == default_folder(entry) and not Path(name).is_dir():
            log.info("building %s from the pip package %s", name, key)
            build_packaged(key, name)
    if not is_gguf(name):
        return None
    folder = str(from_gguf(name))
    log.info("base %s: converted from the GGUF file %s", folder, name)
    recipe.model.model_name_or_path = recipe.record["model_name_or_path"] = folder
    return {"file": name, **(read_record(folder) or {}).get("source", {})}


def train(recipe: Recipe, command: str = "python -m tunebench.train") -> RunPaths:
    """Train the recipe's run to its merged model; `command` is how the user ran it (for messages)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args, config = recipe.args, recipe.config
    gguf_source = prepare_base(recipe)
    check_inputs(recipe)
    run = _run_dir(config)
    prepare_run_folder(run, args, main_process=int(os.environ.get("RANK", "0")) == 0)
    checkpoint = resume_checkpoint(run, config) if args.resume else None
    if args.embedded:
        from tunebench.embedded import build_embedded

        build_embedded(seed=args.embedded_seed)
    # Read before the model loads: a rebuild of the tiny base while this run trains is caught at merge.
    base_build = tiny_base_build(recipe.model.model_name_or_path)
    run.root.mkdir(parents=True, exist_ok=True)
    config.run_name = config.run_name or run.root.name
    config.output_dir = str(run.checkpoints)
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(run.logs))
    built = build_trainer(recipe)
    trainer = built.trainer
    main_process = trainer.is_world_process_zero()
    if main_process:
        atomic_write_text(run.recipe, yaml.safe_dump(recipe.resolved, sort_keys=False))
    start = time.time()
    try:
        result = trainer.train(resume_from_checkpoint=checkpoint)
    except KeyboardInterrupt:
        raise Interrupted(interrupted_message(run, trainer, command)) from None
    wall = time.time() - start
    final_dir = run.adapter if built.peft_config is not None else run.merged
    if trainer.is_fsdp_enabled:
        # SHARDED_STATE_DICT (what fsdp.yaml checkpoints with) makes save_model write nothing.
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(final_dir))
    if not main_process:
        return run
    built.tokenizer.save_pretrained(str(final_dir))
    manifest = run_manifest(recipe, built, result, run, checkpoint, wall)
    if base_build is not None:
        manifest.extra["tiny_base"] = base_build
    if gguf_source is not None:
        manifest.extra["base_gguf"] = gguf_source
    if built.preference is not None:  # trainer, beta, reference model, pairs/ties/dropped rows
        manifest.extra["preference"] = built.preference.to_dict()
    if built.peft_config is None:
        atomic_write_text(run.merged / "README.md", render_model_card(manifest))
    else:
        atomic_write_text(run.adapter / "README.md", render_model_card(manifest, merged=False))
    # The record is on disk before the merge: a failed merge leaves a complete, re-mergeable run.
    manifest.save(run.manifest)
    if built.peft_config is not None and args.merge:
        from tunebench.train.merging import merge_run

        del trainer, built  # free the trained model before loading the base again to merge
        merge_run(run, manifest=manifest)
    merged = args.merge or manifest.method == "full"
    log.info("run folder: %s (merged model: %s)", run.root, run.merged if merged else "-")
    return run


def run_manifest(recipe: Recipe, built, result, run: RunPaths, checkpoint, wall) -> RunManifest:
    """The typed run record of a finished training run (before any merge)."""
    trainer, config, model_args = built.trainer, recipe.config, recipe.model
    summary = _loss_summary(trainer.state.log_history)
    peft = model_args.use_peft
    return RunManifest(
        run_name=config.run_name,
        method=("qlora" if model_args.load_in_4bit else "lora") if peft else "full",
        recipe=recipe.record,
        recipe_complete=True,
        seed=config.seed,
        datasets=[recipe.args.dataset_name],
        model=ModelInfo(**built.model_info),
        training=TrainingStats(
            global_step=trainer.state.global_step,
            resumed_from=checkpoint,
            train_rows=len(built.train_dataset),
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
