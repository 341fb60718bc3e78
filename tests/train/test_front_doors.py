"""The training front door's mistakes, as a user makes them: each is one line on stderr naming the file
and key (or the flag), exit code 2, no traceback, and nothing trained, loaded or overwritten.

Every case runs the real command (`python -m tunebench.train`) in a process of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import HANG_S, REPO, TINY_RECIPE, train_cmd

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def train(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tunebench.train", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env={**os.environ, **OFFLINE, **(env or {})},
    )


def one_error(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a refused command (exit 2, no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]


def recipe_with(tmp_path: Path, text: str) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return str(path)


# --- the recipe and the command line (parsed before anything loads) ------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_step: 5\n", "unknown key 'max_step' (did you mean 'max_steps'?)"),
        ("max_steps: lots\n", "max_steps: expected an integer, got 'lots'"),
        ("learning_rate: fast\n", "learning_rate: expected a number, got 'fast'"),
        ("packing: maybe\n", "packing: expected true or false, got 'maybe'"),
        ("lr_scheduler_type: sideways\n", "lr_scheduler_type: 'sideways' is not one of"),
        ("trainer: ppo\n", "trainer: 'ppo' is not one of ['sft', 'dpo', 'kto', 'orpo']"),
        ("max_steps: [1, 2]\n", "max_steps: expected one value, got a list"),
        ("- just\n- a list\n", "a recipe is a mapping of key: value, not a list"),
        ("max_steps: 5\n  bad: indent\n", ", line 2: not valid YAML"),
    ],
)
def test_a_recipe_mistake_names_the_file_and_key(tmp_path, text, expected):
    from tunebench.train.recipe import RecipeError, parse_recipe

    recipe = recipe_with(tmp_path, text)
    with pytest.raises(RecipeError) as err:
        parse_recipe(["--config", recipe])
    assert str(err.value).startswith(recipe) and expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--max_step=3"], "command line: unknown option --max_step (did you mean --max_steps?)"),
        (["--max_steps=lots"], "command line: argument --max_steps/--max-steps: invalid int value: 'lots'"),
        (["--lora_r", "4", "stray"], "command line: unexpected argument 'stray' (options are --key=value)"),
    ],
)
def test_a_command_line_mistake_names_the_flag(args, expected):
    """argparse would print a 163-line usage, and read `--max_step` as an abbreviation of `--max_steps`."""
    from tunebench.train.recipe import RecipeError, parse_recipe

    with pytest.raises(RecipeError) as err:
        parse_recipe(["--config", str(TINY_RECIPE), *args])
    assert str(err.value) == expected


def test_the_command_says_a_mistake_in_one_line_and_exits_2(tmp_path):
    recipe = recipe_with(tmp_path, "max_step: 5\n")
    proc = train("--config", recipe)
    assert one_error(proc) == f"error: {recipe}: unknown key 'max_step' (did you mean 'max_steps'?)"
    assert proc.stderr.strip().splitlines() == [one_error(proc)]  # nothing else: no usage screen, no warning
    proc = train("--config", str(TINY_RECIPE), "--max_step=3")
    assert proc.stderr.strip().splitlines() == [
        "error: command line: unknown option --max_step (did you mean --max_steps?)"
    ]


def test_a_missing_recipe_file_is_one_line(tmp_path):
    missing = tmp_path / "recipes" / "nope.yaml"
    assert one_error(train("--config", str(missing))) == f"error: {missing}: no such recipe file"


# --- inputs: local paths that do not exist, hub ids that cannot be fetched -----------------------------


def test_a_mistyped_local_model_is_not_a_hub_download(embedded, tmp_path):
    """`models/tiny-bse` has the shape of a hub id; its first folder exists here, so it is a typo."""
    typo = embedded.base_dir.parent / "tiny-bse"
    args = train_cmd(embedded, tmp_path / "run")[3:]
    line = one_error(train(*args, f"--model_name_or_path={typo}"))
    assert line == (
        f"error: command line: --model_name_or_path: {typo}: no such file or folder "
        f"(did you mean '{embedded.base_dir}'?)"
    )
    assert not (tmp_path / "run").exists()


def test_a_missing_dataset_file_is_one_line(embedded, tmp_path):
    typo = embedded.data_dir / "trian.jsonl"
    line = one_error(train(*train_cmd(embedded, tmp_path / "run")[3:], f"--dataset_name={typo}"))
    train_file = embedded.data_dir / "train.jsonl"
    assert (
        line
        == f"error: command line: --dataset_name: {typo}: no such file or folder (did you mean '{train_file}'?)"
    )


def test_an_offline_hub_model_says_what_to_do(embedded, tmp_path):
    args = train_cmd(embedded, tmp_path / "run")[3:]
    line = one_error(train(*args, "--model_name_or_path=nobody/no-such-model"))
    assert line.startswith(
        "error: command line: --model_name_or_path: nobody/no-such-model: not a local folder"
    )
    assert "HF_HUB_OFFLINE" in line and "hf download nobody/no-such-model" in line


def test_an_offline_hub_dataset_says_what_to_do(embedded, tmp_path):
    args = train_cmd(embedded, tmp_path / "run")[3:]
    line = one_error(train(*args, "--dataset_name=nobody/no-such-data"))
    assert line.startswith("error: dataset_name: nobody/no-such-data: not a local file or folder")
    assert "hf download --repo-type dataset nobody/no-such-data" in line


def test_a_gpu_recipe_parses_on_a_cpu_with_its_gpu_settings_switched_off(monkeypatch):
    """transformers refuses tf32 (and bf16 without use_cpu) on a CPU: the recipe is adjusted first."""
    from tunebench.train.recipe import parse_recipe

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    recipe = parse_recipe(["--config", str(REPO / "recipes" / "codellama-7b-text-to-sql.yaml")])
    assert recipe.config.use_cpu and recipe.config.tf32 is None and not recipe.config.bf16
    assert "tf32=None" in recipe.cpu_changes and recipe.resolved["bf16"] is False  # recorded as it ran


# --- the run folder ------------------------------------------------------------------------------------


def _used_run(root: Path, step: int = 10) -> Path:
    """A run folder as training leaves it: a record and a checkpoint at `step` (trainer_state.json is
    what transformers writes there and what resume reads)."""
    checkpoint = root / "checkpoints" / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": step}))
    (root / "manifest.json").write_text("{}")
    return root


def test_a_used_run_folder_is_refused_without_resume_or_overwrite(embedded, tmp_path):
    run = _used_run(tmp_path / "run")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    line = one_error(train(*train_cmd(embedded, run)[3:]))
    assert line == (
        f"error: {run} already holds a run (checkpoints, manifest.json): continue it with --resume=true, "
        "replace it with --overwrite=true, or choose another --output_dir"
    )
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_a_folder_that_is_not_a_run_is_never_overwritten(embedded, tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    line = one_error(train(*train_cmd(embedded, tmp_path)[3:], "--overwrite=true"))
    assert "not a tunebench run (thesis.tex)" in line and (tmp_path / "thesis.tex").exists()


def test_resuming_a_finished_run_with_fewer_steps_is_refused(embedded, tmp_path):
    run = _used_run(tmp_path / "run", step=10)
    line = one_error(train(*train_cmd(embedded, run)[3:], "--resume=true", "--max_steps=5"))
    assert line == (
        f"error: {run}: the last checkpoint is at step 10 and max_steps is 5: nothing left to train "
        "(give a larger --max_steps to continue, or --overwrite=true to start again)"
    )


@pytest.mark.slow
def test_overwrite_replaces_the_earlier_run(embedded, tmp_path):
    run = _used_run(tmp_path / "run", step=999)
    proc = subprocess.run(
        train_cmd(embedded, run, "--overwrite=true", "--max_steps=2", "--save_steps=1000", "--fidelity_samples=0"),
        cwd=REPO, capture_output=True, text=True, timeout=HANG_S,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (run / "checkpoints" / "checkpoint-999").exists()
    assert json.loads((run / "manifest.json").read_text())["training"]["global_step"] == 2


# --- Ctrl-C --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_says_where_the_checkpoint_is_and_how_to_resume(embedded, tmp_path):
    run = tmp_path / "run"
    cmd = train_cmd(embedded, run, "--max_steps=100000", "--save_steps=2", "--logging_steps=1")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + HANG_S
    while not list((run / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before a checkpoint"
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if line.startswith("interrupted at step ")]
    assert len(said) == 1, err[-3000:]  # one line (the progress bar may still print its last state)
    last = said[0]
    assert "; the last checkpoint is " in last
    checkpoint = Path(last.split("; the last checkpoint is ")[1].split(". Continue with:")[0])
    assert checkpoint.parent == run / "checkpoints" and (checkpoint / "trainer_state.json").exists()
    assert last.endswith("--resume=true") and f"--output_dir={run}" in last


def test_zero3_without_deepspeed_is_one_line():
    """`make train NPROC=2 ACCELERATE=recipes/accelerate/zero3.yaml` where DeepSpeed is not installed (this
    machine, CI): accelerate's launcher would end in an ImportError traceback."""
    import importlib.util

    if importlib.util.find_spec("deepspeed") is not None:
        pytest.fail("DeepSpeed is installed here: this test checks a machine without it (CI, make setup)")
    proc = subprocess.run(
        ["make", "--no-print-directory", "train", "NPROC=2", "ACCELERATE=recipes/accelerate/zero3.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=HANG_S,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        "error: recipes/accelerate/zero3.yaml trains with DeepSpeed, which is not installed here: pip install "
        "'tunebench[deepspeed]' (the train image has it), or use recipes/accelerate/ddp.yaml or fsdp.yaml"
    )
    assert "Traceback" not in proc.stderr


def test_a_setting_asked_for_on_the_command_line_is_kept_on_a_cpu(monkeypatch):
    """The recipe's GPU bf16 is switched off on a CPU; `--bf16=true` typed for this run is kept (CPUs with
    AMX train in bf16), and so is a recipe's `cpu_bf16: true`."""
    from tunebench.train.recipe import parse_recipe

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    gpu_recipe = ["--config", str(REPO / "recipes" / "codellama-7b-text-to-sql.yaml")]
    assert not parse_recipe(gpu_recipe).config.bf16
    asked = parse_recipe([*gpu_recipe, "--bf16=true"])
    assert asked.config.bf16 and "bf16=False" not in asked.cpu_changes
    assert parse_recipe([*gpu_recipe, "--cpu_bf16=true"]).config.bf16
