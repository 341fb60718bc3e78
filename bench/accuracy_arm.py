"""One arm of the time-to-accuracy benchmark, in its own process: `python -m bench.accuracy_arm SPEC OUT`.

The arm is built exactly as in the throughput benchmark (`bench.train_arms`: plain TRL, or the recipe
through tunebench's own code), but it runs its own schedule (TRL's 3 epochs, or the recipe's
max_steps) and an `AccuracyProbe` scores it along the way. OUT is rewritten after every probe, so
a run stopped by a timeout keeps what it measured.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from bench.accuracy_probe import AccuracyProbe, save_for_scoring, score_folder
from bench.arm_timing import new_counts
from bench.train_arms import plain_trainer, recipe_overrides, tunebench_trainer
from tunebench.runs.atomic_io import atomic_write_json


def run_arm(spec: dict, out_path: Path) -> dict:
    from tunebench.train.recipe import parse_recipe

    started = time.perf_counter()
    spec = {**spec, "schedule": "own"}  # the arm's own schedule: TRL's 3 epochs, or the recipe's max_steps
    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(spec.get("seed", 0))
    recipe = parse_recipe(recipe_overrides(spec))
    tb, sft, margs = recipe.args, recipe.config, recipe.model
    work = Path(spec["output_dir"])
    result: dict = {"arm": spec["name"], "kind": spec["kind"], "status": "running"}

    def score(model, tokenizer, step: int) -> float:
        folder = save_for_scoring(model, tokenizer, work / "probe" / "model")
        return score_folder(
            folder, Path(spec["data_dir"]), work / "probe" / f"eval-{step}",
            threads=int(spec["threads"]), limit=spec.get("limit"), extra=spec.get("eval_args", []),
        )  # fmt: skip

    def on_probe(probe: dict) -> None:
        print(f"[{spec['name']}] probe {json.dumps(probe)}", flush=True)
        result["probes"] = probe_cb.probes
        atomic_write_json(out_path, result)

    probe_cb = AccuracyProbe(
        score, every_s=spec["every_s"], target=spec["target"], budget_s=spec["budget_s"], on_probe=on_probe
    )
    build = tunebench_trainer if spec["kind"] == "tunebench" else plain_trainer
    trainer, info = build(spec, tb, sft, margs, [probe_cb])
    counts = trainer.bench_counts = new_counts()
    a = trainer.args
    result.update(
        setup_s=round(time.perf_counter() - started, 2),
        settings={
            **info,
            "packing": bool(getattr(a, "packing", False)),
            "per_device_train_batch_size": a.per_device_train_batch_size,
            "gradient_accumulation_steps": a.gradient_accumulation_steps,
            "learning_rate": a.learning_rate,
            "lr_scheduler_type": str(getattr(a.lr_scheduler_type, "value", a.lr_scheduler_type)),
            "max_steps": a.max_steps,
            "num_train_epochs": a.num_train_epochs,
            "train_sampling_strategy": getattr(a, "train_sampling_strategy", None),
            "torch_compile": bool(a.torch_compile),
            "torch_threads": torch.get_num_threads(),
        },
    )
    atomic_write_json(out_path, result)
    trainer.train()
    train_s = probe_cb.train_seconds()
    result.update(
        status="done",
        **probe_cb.summary(),
        steps=trainer.state.global_step,
        train_s=round(train_s, 2),
        trained_tokens=counts["real"],
        # tokens/s over training time only (probes excluded), beside the time-to-accuracy figure
        tokens_per_s=round(counts["real"] / train_s, 1) if train_s > 0 else None,
    )
    atomic_write_json(out_path, result)
    return result


def main(argv: list[str] | None = None) -> None:
    spec_path, out_path = (argv if argv is not None else sys.argv[1:])[:2]
    run_arm(json.loads(Path(spec_path).read_text()), Path(out_path))


if __name__ == "__main__":
    main()
