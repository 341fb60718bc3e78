"""The MT-Bench front doors: `make eval-mt-bench-smoke MODEL=…` never trains, and `results` never
replaces a results table when there is nothing to read."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import HANG_S
from tests.evaluate.mt_bench.judge_standin import REPO, judge_args, results_args, results_of
from tunebench.evaluate.mt_bench import cli as mt_bench


def make_dry(*args: str) -> str:
    proc = subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.replace("\\\n", " ")  # one line per command


def test_smoke_target_never_trains_and_names_a_missing_model(tmp_path):
    missing = tmp_path / "not-trained" / "merged"
    commands = make_dry("eval-mt-bench-smoke", f"MODEL={missing}", "MT_BENCH_ARGS=--dry-run")
    assert "tunebench.train" not in commands and "make train" not in commands
    (smoke,) = [c for c in commands.splitlines() if "tunebench.evaluate.mt_bench smoke" in c]
    assert (
        f"--model_name_or_path {missing}" in smoke and "--dry-run" not in smoke
    )  # run's flags stay with `run`
    proc = subprocess.run(
        [sys.executable, *smoke.split()[1:]], cwd=REPO, capture_output=True, text=True, timeout=HANG_S
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert str(missing) in line and "make train" in line
    assert not missing.exists()


def test_eval_target_passes_run_flags_and_the_questions_folder():
    commands = make_dry(
        "eval-mt-bench", "MODEL=models/x/merged", "QUESTIONS_DIR=q", "MT_BENCH_ARGS=--dry-run"
    )
    (run,) = [c for c in commands.splitlines() if "tunebench.evaluate.mt_bench run" in c]
    assert "--questions_dir q" in run and run.rstrip().endswith("--dry-run")
    legacy = make_dry("eval-mt-bench", "MODEL=models/x/merged", "BENCH_DIR=old")  # the deprecated name
    assert "--questions_dir old" in legacy


def test_results_without_judgments_changes_nothing(standin, run_dir, monkeypatch, capsys):
    questions, out = run_dir
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 0
    assert mt_bench.main(results_args(questions, out, "--baseline", "base")) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {p.name for p in results_of(out).iterdir()} >= {"results.json", "results.md", "win_rate.png"}
    capsys.readouterr()

    # Another judge (the flag, else JUDGE_MODEL, as `judge` resolves it) has no file here.
    monkeypatch.setenv("JUDGE_MODEL", "someone-else")
    args = ["results", "--out", str(out), "--questions-dir", str(questions), "--baseline", "base"]
    assert mt_bench.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "someone-else_pair.jsonl" in err and "left as they were" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    monkeypatch.setenv("JUDGE_MODEL", "standin")
    assert mt_bench.main(args) == 0  # JUDGE_MODEL names the judge whose file is read
    assert json.loads((results_of(out) / "results.json").read_text())["judge"] == "standin"
