"""The time-to-accuracy benchmark's probe schedule, ratios and one real arm (train, save, score via the CLI)."""

from __future__ import annotations

import json

import pytest
from transformers import TrainerControl, TrainerState


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _drive(probe, clock, step_s: float, max_steps: int) -> TrainerControl:
    """Steps of `step_s` seconds through the callback, as Trainer calls it, until it says stop."""
    state, control = TrainerState(max_steps=max_steps), TrainerControl()
    probe.on_train_begin(None, state, control)
    for step in range(1, max_steps + 1):
        clock.now += step_s
        state.global_step = step
        probe.on_step_end(None, state, control)
        if control.should_training_stop:
            break
    return control


def test_probe_scores_on_schedule_stops_at_target_and_excludes_scoring_time():
    from bench.accuracy_probe import AccuracyProbe

    clock, accuracies, seen_steps = FakeClock(), iter([0.1, 0.5, 0.72, 0.9]), []

    def score(model, tokenizer, step):
        seen_steps.append(step)
        clock.now += 30.0  # scoring takes 30 s of wall time: not training time
        return next(accuracies)

    probe = AccuracyProbe(score, every_s=10.0, target=0.7, budget_s=1000.0, clock=clock)
    control = _drive(probe, clock, step_s=1.0, max_steps=100)
    assert control.should_training_stop
    assert seen_steps == [10, 20, 30]  # every 10 training seconds, scoring time not counted
    s = probe.summary()
    assert s["reached"] and s["time_to_target_s"] == 30.0 and s["step_at_target"] == 30
    assert [p["accuracy"] for p in s["probes"]] == [0.1, 0.5, 0.72]
    assert all(p["eval_s"] == 30.0 for p in s["probes"])


def test_probe_reports_not_reached_at_budget_and_scores_the_last_step():
    from bench.accuracy_probe import AccuracyProbe

    clock = FakeClock()
    probe = AccuracyProbe(lambda m, t, s: 0.2, every_s=25.0, target=0.7, budget_s=60.0, clock=clock)
    _drive(probe, clock, step_s=2.0, max_steps=1000)
    s = probe.summary()
    assert not s["reached"] and s["time_to_target_s"] is None
    assert [p["step"] for p in s["probes"]] == [13, 26, 30]  # 26 s, 52 s, then the budget (60 s)
    assert s["best_accuracy"] == 0.2

    clock = FakeClock()
    short = AccuracyProbe(lambda m, t, s: 0.3, every_s=100.0, target=0.7, budget_s=1000.0, clock=clock)
    _drive(short, clock, step_s=1.0, max_steps=7)
    assert [p["step"] for p in short.summary()["probes"]] == [7]  # the schedule's end is always scored


def test_exec_accuracy_reads_the_sql_stage_summary():
    from bench.accuracy_probe import ScoreFailed, exec_accuracy

    assert exec_accuracy({"models": {"model": {"exec_accuracy": 0.735, "n": 200}}}) == 0.735
    assert exec_accuracy({"models": {"model": {"exec_accuracy": None}}}) == 0.0
    with pytest.raises(ScoreFailed):
        exec_accuracy({"models": {"base": {}, "fine-tuned": {}}})


def test_time_ratios_pair_repeats_bound_an_unreached_baseline_and_say_so():
    from bench.time_to_accuracy import comparisons, ratio_text, summary_rows

    def arm(t, tps, reached=True):
        return {"reached": reached, "time_to_target_s": t if reached else None, "tokens_per_s": tps,
                "train_s": t, "best_accuracy": 0.75 if reached else 0.4, "best_at_s": t, "step_at_target": 5,
                "status": "done", "settings": {}}  # fmt: skip

    runs = {
        "trl_plain": [arm(300, 1000), arm(400, 1000), arm(500, 1000), arm(600, 1000, reached=False)],
        "fast": [arm(100, 1500), arm(200, 2000), arm(900, 1500, reached=False), arm(200, 1500)],
    }
    (c,) = comparisons(runs)
    assert c["time_to_target_ratios"] == [3.0, 2.0] and c["time_to_target_ratio"] == 2.5
    # repeat 4: plain trained 600 s without reaching it, the arm took 200 s: the ratio is above 3
    assert c["time_to_target_lower_bounds"] == [3.0]
    assert c["repeats_without_both_reaching"] == 2
    assert c["tokens_per_s_ratio"] == 1.5 and c["tokens_per_s_ratios"] == [1.5, 2.0, 1.5, 1.5]
    listed = summary_rows(runs, [c], 0.7)
    rows = {r["figure"]: r for r in listed}
    ratio = rows["tiny fast / trl_plain time to 70% (baseline / arm)"]
    assert ratio["value"] == (
        "2.50x (repeats 2.00-3.00x); above 3.00x in 1 repeat(s) where trl_plain never reached the target"
    )
    assert ratio["note"] == "tokens/s ratio 1.5x (repeats 1.50-2.00x)"
    assert any(r["value"].startswith("not reached in 900 s (best 40.0%") for r in listed)
    # a second baseline, plain TRL with the recipe's examples, is compared too; arms are never baselines
    # a baseline whose schedule ended before the arm's time gives no ratio, and says where it stopped
    early = {"trl_plain": [arm(100, 1000, reached=False)], "fast": [arm(200, 1500)]}
    (e,) = comparisons(early)
    assert e["time_to_target_lower_bounds"] == [0.5] and e["baseline_unreached"] == [[100, 0.4]]
    assert (
        ratio_text(e)
        == "no ratio: trl_plain never reached the target in 1 repeat(s), its training ended at 100 s, best 40.0%"
    )
    runs["trl_plain_recipe_examples"] = [arm(150, 1000)]
    pairs = [(c["arm"], c["baseline"]) for c in comparisons(runs)]
    assert pairs == [("fast", "trl_plain"), ("fast", "trl_plain_recipe_examples")]


def test_crossing_time_is_interpolated_between_probes_and_ratios_recomputed_from_the_file(
    tmp_path, monkeypatch
):
    import bench.common
    import bench.time_to_accuracy as tta

    def arm(probes, tps=1000.0):
        reached = next((p for p in probes if p[1] >= 0.7), None)
        return {"reached": reached is not None, "time_to_target_s": reached[0] if reached else None,
                "step_at_target": 1, "train_s": probes[-1][0], "tokens_per_s": tps, "status": "done",
                "settings": {}, "best_accuracy": max(a for _, a in probes), "best_at_s": probes[-1][0],
                "probes": [{"step": i, "train_s": t, "accuracy": a} for i, (t, a) in enumerate(probes)]}  # fmt: skip

    fast = arm([(90.0, 0.04), (180.0, 0.57), (270.0, 0.78)], tps=1500.0)
    slow = arm([(90.0, 0.0), (450.0, 0.535), (540.0, 0.81)])
    assert tta.interpolated_time(fast, 0.7) == pytest.approx(180 + 90 * 0.13 / 0.21, abs=0.1)
    assert tta.interpolated_time(slow, 0.7) == pytest.approx(450 + 90 * 0.165 / 0.275, abs=0.1)
    assert tta.interpolated_time(arm([(60.0, 0.9)]), 0.7) == pytest.approx(60 * 0.7 / 0.9, abs=0.1)
    assert tta.interpolated_time(arm([(60.0, 0.3)]), 0.7) is None
    runs = {"trl_plain_recipe_examples": [slow], "tunebench": [fast]}
    (c,) = tta.comparisons(runs)
    assert c["time_to_target_ratios"] == [2.0]
    assert c["interpolated_ratios"] == [pytest.approx((450 + 54) / (180 + 55.71), abs=1e-3)]
    assert tta.ratio_text(c) == "2.00x (1 repeat), interpolated between probes 2.14x"

    monkeypatch.setattr(tta, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(bench.common, "RESULTS_DIR", tmp_path)
    with pytest.raises(SystemExit, match="no results"):
        tta.report_only("tta")
    (tmp_path / "tta.json").write_text(
        json.dumps(
            {
                "date": "2026-12-03 19:30 UTC",
                "command": "python -m bench.time_to_accuracy",
                "target": 0.7,
                "runs": runs,
                "comparisons": [],
                "summary_rows": [],
            }
        )  # fmt: skip
    )
    assert tta.report_only("tta") == 0
    again = json.loads((tmp_path / "tta.json").read_text())
    assert again["date"] == "2026-12-03 19:30 UTC" and again["command"] == "python -m bench.time_to_accuracy"
    assert again["comparisons"][0]["interpolated_ratios"] == c["interpolated_ratios"]
    assert "2.14x" in (tmp_path / "summary.md").read_text()


def test_plain_trl_with_the_recipes_examples_keeps_trls_defaults_but_its_length(embedded, tmp_path):
    """`trl_plain_recipe_examples`: batch 8, linear decay, TRL's defaults, for 800 x 32 / 8 steps."""
    from bench.arm_runner import REPO
    from bench.time_to_accuracy import ARMS
    from bench.train_arms import plain_trainer, recipe_overrides
    from tunebench.train.recipe import parse_recipe

    spec = {
        **ARMS["trl_plain_recipe_examples"], "name": "p", "schedule": "own",
        "recipe": str(REPO / "recipes" / "tiny-text-to-sql.yaml"), "model": str(embedded.base_dir),
        "dataset": str(embedded.data_dir / "train.jsonl"), "dataset_format": "text2sql",
        "output_dir": str(tmp_path),
    }  # fmt: skip
    recipe = parse_recipe(recipe_overrides(spec))
    tb, sft, margs = recipe.args, recipe.config, recipe.model
    assert (sft.max_steps, sft.per_device_train_batch_size, sft.gradient_accumulation_steps) == (800, 8, 4)
    trainer, _ = plain_trainer(spec, tb, sft, margs, [])
    a = trainer.args
    assert a.max_steps == 3200 and a.per_device_train_batch_size == 8 and a.gradient_accumulation_steps == 1
    assert str(getattr(a.lr_scheduler_type, "value", a.lr_scheduler_type)) == "linear"
    assert not a.packing and not a.gradient_checkpointing


def test_the_smollm2_suite_runs_the_real_recipe_against_plain_trl_for_its_examples(
    smollm2_base, embedded, tmp_path
):
    """`--suite smollm2`: the shipped SmolLM2 recipe, its base, a target of 80%, probes scored in bf16;
    plain TRL with the recipe's examples is 100 steps of 8 (the recipe trains 100 of 8 too)."""
    import bench.time_to_accuracy as tta
    from bench.train_arms import plain_trainer, recipe_overrides
    from tunebench.train.recipe import parse_recipe

    args = tta.parse_args(["--suite", "smollm2"])
    assert (args.target, args.every_s, args.budget_s) == (0.80, 60.0, 2400.0)
    assert args.name == "time_to_accuracy_smollm2" and args.arms == ["trl_plain", "tunebench"]
    assert tta.parse_args([]).arms == ["trl_plain", "tunebench", "trl_plain_recipe_examples"]  # tiny
    args = tta.parse_args(["--suite", "smollm2", "--arms", "trl_plain,tunebench,trl_plain_recipe_examples"])
    specs = {s["name"]: s for s in tta.arm_specs(args, tmp_path, embedded.data_dir, smollm2_base)}
    for spec in specs.values():
        assert spec["recipe"].endswith("recipes/smollm2-135m-text-to-sql.yaml")
        assert spec["model"] == str(smollm2_base) and spec["eval_args"][:2] == ["--dtype", "bfloat16"]
    spec = {**specs["trl_plain_recipe_examples"], "schedule": "own"}
    recipe = parse_recipe(recipe_overrides(spec))
    assert recipe.args.lora_top_layers == 8 and recipe.config.max_steps == 100
    trainer, _ = plain_trainer(spec, recipe.args, recipe.config, recipe.model, [])
    a = trainer.args
    assert (a.max_steps, a.per_device_train_batch_size, a.gradient_accumulation_steps) == (100, 8, 1)
    assert str(getattr(a.lr_scheduler_type, "value", a.lr_scheduler_type)) == "linear"
    assert a.learning_rate == recipe.config.learning_rate and not a.bf16
    # plain TRL puts LoRA on every layer (what the TRL/PEFT docs show), the recipe on the top 8 only
    layers = {
        n.split(".layers.")[1].split(".")[0] for n, _ in trainer.model.named_parameters() if "lora_A" in n
    }
    assert len(layers) == 30


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tunebench", "plain"])
def test_one_arm_trains_is_scored_through_the_cli_and_keeps_its_probes(embedded, tmp_path, kind):
    """The real arm: a few seconds of training, scored on 4 held-out questions by evaluate.sql. The
    tunebench arm ends its (shortened) schedule; plain TRL's 3 epochs are cut by the 1 s budget."""
    from bench.accuracy_arm import run_arm
    from bench.arm_runner import REPO

    spec = {
        "name": kind, "kind": kind, "recipe": str(REPO / "recipes" / "tiny-text-to-sql.yaml"),
        "model": str(embedded.base_dir), "dataset": str(embedded.data_dir / "train.jsonl"),
        "dataset_format": "text2sql", "data_dir": str(embedded.data_dir), "output_dir": str(tmp_path / "arm"),
        "threads": 1, "target": 0.99, "every_s": 1000.0, "budget_s": 1000.0 if kind == "tunebench" else 1.0,
        "limit": 4, "plain_batch": [8, 1], "gradient_checkpointing": False,
        "overrides": ["--max_steps=3", "--packing=false", "--per_device_train_batch_size=2",
                      "--gradient_accumulation_steps=1"],
    }  # fmt: skip
    out = tmp_path / "result.json"
    result = run_arm(spec, out)
    assert result["status"] == "done" and not result["reached"]
    (probe,) = result["probes"]  # the schedule's last step, or the first step past the budget
    assert probe["step"] == result["steps"] and 0.0 <= probe["accuracy"] <= 1.0 and probe["eval_s"] > 0
    if kind == "tunebench":
        assert result["steps"] == 3 and result["settings"]["packing"] is False
    else:  # TRL's own schedule: 3 epochs of batch 8, stopped early
        assert result["settings"]["max_steps"] == -1 and result["settings"]["num_train_epochs"] == 3
        assert result["steps"] < 750 and result["settings"]["per_device_train_batch_size"] == 8
    assert result["tokens_per_s"] > 0
    assert json.loads(out.read_text())["probes"] == result["probes"]
    assert (tmp_path / "arm" / "probe" / f"eval-{result['steps']}" / "summary.json").exists()


def test_gpu_preflight_says_what_it_found_on_this_machine(capsys):
    """On a machine without CUDA (CI) every GPU part is reported missing in one line each, not raised."""
    import torch

    from bench.gpu_preflight import CHECKS, preflight

    found = preflight()["found"]
    printed = capsys.readouterr().out.splitlines()
    assert set(found) == set(CHECKS) == {"cuda", "flash_attn", "bitsandbytes", "liger"}
    assert len([line for line in printed if line.startswith("preflight ")]) == len(CHECKS) + 1
    assert found["cuda"]["ok"] is torch.cuda.is_available()
    assert torch.__version__ in found["cuda"]["detail"]
    if not torch.cuda.is_available():
        assert not found["bitsandbytes"]["ok"] and not found["flash_attn"]["ok"]
        assert all("\n" not in v["detail"] for v in found.values())


def test_an_unknown_arm_is_one_line_and_exit_2_before_anything_is_built(tmp_path):
    import subprocess
    import sys

    from bench.arm_runner import REPO

    done = subprocess.run(
        [sys.executable, "-m", "bench.time_to_accuracy", "--suite", "smollm2", "--arms", "trl_plain,bogus"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert "--arms: unknown arm(s) bogus; choose from" in last and "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing was built or trained
