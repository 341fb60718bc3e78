"""A tiny DPO run through `python -m tunebench.train` with the CPU recipe: it trains from the SFT run's
merged model, resumes after a hard kill, merges, records the preference data, and the merged model
answers through the chat layer the app uses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.train.test_preference_training import _pairs
from tunebench.jsonl import read_jsonl, write_jsonl
from tunebench.run_record import RunManifest

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "preference" / "tiny-text-to-sql-dpo.yaml"

pytestmark = pytest.mark.slow


def _cmd(sft_model, pairs, out, *extra):
    return [
        sys.executable,
        "-m",
        "tunebench.train",
        "--config",
        str(RECIPE),
        f"--model_name_or_path={sft_model}",
        f"--dataset_name={pairs}",
        f"--output_dir={out}",
        "--max_steps=8",
        "--save_steps=4",
        "--logging_steps=1",
        "--report_to=none",
        *extra,
    ]


def test_dpo_run_trains_resumes_after_a_kill_and_merges(trained_run, embedded, tmp_path):
    rows = read_jsonl(embedded.data_dir / "train.jsonl")[:60]
    pairs = _pairs(rows)
    pairs.append({**pairs[0], "rejected": pairs[0]["chosen"]})  # a tie: dropped and counted
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    out = tmp_path / "dpo"
    cmd = _cmd(trained_run.merged, tmp_path / "pairs.jsonl", out, "--merge=false")
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    first = out / "checkpoints" / "checkpoint-4" / "trainer_state.json"
    deadline = time.monotonic() + 600
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.exists(), (
        f"no first checkpoint: {proc.stderr.read()[-3000:] if proc.poll() is not None else ''}"
    )
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    done = subprocess.run(
        _cmd(trained_run.merged, tmp_path / "pairs.jsonl", out, "--resume=true"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    manifest = RunManifest.load(out / "manifest.json")
    assert manifest.training.resumed_from.endswith("checkpoint-4") and manifest.training.global_step == 8
    assert [s for s, _ in manifest.training.loss_curve] == list(range(1, 9))
    assert manifest.recipe["trainer"] == "dpo" and manifest.base_model == str(trained_run.merged)
    pref = manifest.extra["preference"]
    assert pref["trainer"] == "dpo" and pref["beta"] == 0.1
    assert pref["reference_model"] == f"{trained_run.merged} (adapter disabled)"
    assert pref["data"] == {
        "rows": 61,
        "pairs": 60,
        "ties": 1,
        "dropped": {"tie: chosen and rejected are the same text": 1},
    }
    assert pref["eval_pairs"] == 6  # eval_fraction 0.1 of the 60 pairs left after the tie
    assert json.loads((out / "manifest.json").read_text())["preference"]["trainer"] == "dpo"
    assert (out / "merged" / "config.json").exists() and (out / "adapter" / "README.md").exists()

    from tunebench.chat import GenerationSettings, open_chat_model
    from tunebench.prompts import sql_messages

    model = open_chat_model(out / "merged", GenerationSettings(max_new_tokens=48))
    try:
        (answer,) = model.generate([sql_messages(rows[0]["schema"], rows[0]["question"])])
    finally:
        model.close()
    assert isinstance(answer, str) and "<|im_start|>" not in answer


def test_a_bad_preference_row_stops_the_run_before_the_model_loads(trained_run, tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(
        json.dumps({"prompt": "q", "chosen": "SELECT 1", "rejected": "SELECT 2"})
        + "\n"
        + json.dumps({"prompt": "q", "chosen": "SELECT 1"})
        + "\n"
    )
    out = tmp_path / "bad"
    proc = subprocess.run(
        _cmd(trained_run.merged, bad, out), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0
    assert f"{bad}, row 2, field 'rejected': missing column" in proc.stderr
    assert not (out / "checkpoints").exists()
