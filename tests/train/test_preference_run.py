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
from types import SimpleNamespace

import pytest

from tests.conftest import HANG_S
from tests.train.test_preference_training import _pairs
from tunebench.data.jsonl import read_jsonl, write_jsonl
from tunebench.runs.record import RunManifest

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


@pytest.fixture(scope="module")
def dpo_run(trained_run, embedded, tmp_path_factory):
    """A DPO run from the SFT run's merged model: killed after its first checkpoint, resumed, merged."""
    tmp = tmp_path_factory.mktemp("dpo")
    rows = read_jsonl(embedded.data_dir / "train.jsonl")[:60]
    pairs = _pairs(rows)
    pairs.append({**pairs[0], "rejected": pairs[0]["chosen"]})  # a tie: dropped and counted
    write_jsonl(tmp / "pairs.jsonl", pairs)
    out = tmp / "dpo"
    cmd = _cmd(trained_run.merged, tmp / "pairs.jsonl", out, "--merge=false")
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
    killed_without_manifest = not (out / "manifest.json").exists()
    done = subprocess.run(
        _cmd(trained_run.merged, tmp / "pairs.jsonl", out, "--resume=true"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return SimpleNamespace(
        out=out, rows=rows, sft=trained_run.merged, killed_without_manifest=killed_without_manifest
    )


def test_dpo_run_trains_resumes_after_a_kill_and_merges(dpo_run):
    out, sft = dpo_run.out, dpo_run.sft
    assert dpo_run.killed_without_manifest
    manifest = RunManifest.load(out / "manifest.json")
    assert manifest.training.resumed_from.endswith("checkpoint-4") and manifest.training.global_step == 8
    assert [s for s, _ in manifest.training.loss_curve] == list(range(1, 9))
    assert manifest.recipe["trainer"] == "dpo" and manifest.base_model == str(sft)
    pref = manifest.extra["preference"]
    assert pref["trainer"] == "dpo" and pref["beta"] == 0.1
    assert pref["reference_model"] == f"{sft} (adapter disabled)"
    assert pref["data"] == {
        "rows": 61,
        "pairs": 60,
        "ties": 1,
        "dropped": {"tie: chosen and rejected are the same text": 1},
    }
    assert pref["eval_pairs"] == 6  # eval_fraction 0.1 of the 60 pairs left after the tie
    assert json.loads((out / "manifest.json").read_text())["preference"]["trainer"] == "dpo"
    assert (out / "merged" / "config.json").exists() and (out / "adapter" / "README.md").exists()
    # merge fidelity, on the prompts of the held-out pairs: the merged model answers as the adapter did
    fidelity = manifest.extra["merge"]["fidelity"]
    assert fidelity["prompts"] in range(1, 7) and fidelity["identical_answers"] == fidelity["prompts"], (
        fidelity
    )

    from tunebench.chat import GenerationSettings, open_chat_model
    from tunebench.sql.prompt import sql_messages

    rows = dpo_run.rows
    model = open_chat_model(out / "merged", GenerationSettings(max_new_tokens=48))
    try:
        (answer,) = model.generate([sql_messages(rows[0]["schema"], rows[0]["question"])])
    finally:
        model.close()
    assert isinstance(answer, str) and "<|im_start|>" not in answer


def test_the_merged_dpo_model_serves_in_the_app(dpo_run, embedded):
    """The Gradio app, on 127.0.0.1, with the DPO run's merged folder as its model, asked through its API."""
    from gradio_client import Client

    from tests.serve.apps import running_app
    from tunebench.serve.config import AppConfig

    config = AppConfig(data_dir=embedded.data_dir, max_new_tokens=64)
    spec = str(dpo_run.out / "merged")
    with running_app(spec, config) as url:
        client = Client(url, verbose=False)
        answer = client.predict(question="How many students are there?", database="school", api_name="/ask")
    # the DPO model (named by its run) wrote SQL, and the app ran it
    assert answer["model"] == dpo_run.out.name and answer["sql"], answer
    assert answer["ok"] or answer["failure"] == "sql", answer


def test_make_eval_compares_the_dpo_run_with_its_sft_run_on_mt_bench(dpo_run, tmp_path):
    """`make eval MODEL=<dpo run> BASELINE=<sft run>`: both answer MT-Bench questions in process, and a
    judge (the stand-in for the paid API, over HTTP) compares them pairwise, FastChat's way."""
    from tests.evaluate.mt_bench.judge_standin import SECRET, StandInJudge, results_of
    from tunebench.evaluate.mt_bench import write_sample_questions

    judge = StandInJudge()
    server, url = judge.serve()
    questions = write_sample_questions(tmp_path / "questions")
    out = tmp_path / "mt_bench"
    env = {**os.environ, "JUDGE_API_KEY": SECRET}
    env.pop("OPENAI_API_KEY", None)
    args = f"--out {out} --judge-base-url {url} --first-n 2 --max-new-tokens 24 --judge-max-retries 1"
    try:
        proc = subprocess.run(
            ["make", "--no-print-directory", "-o", "setup", "eval", f"MODEL={dpo_run.out / 'merged'}",
             f"BASELINE={dpo_run.sft}", "JUDGE=standin", f"QUESTIONS_DIR={questions}", f"MT_BENCH_ARGS={args}",
             f"BIN={Path(sys.executable).parent}"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=HANG_S,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    answers = sorted(p.name for p in (out / "model_answer").glob("*.jsonl"))
    assert len(answers) == 2, answers  # the DPO run's answers and the SFT run's
    for path in (out / "model_answer").glob("*.jsonl"):
        rows = read_jsonl(path)
        assert [r["question_id"] for r in rows] == [1, 2] and all(
            len(r["choices"][0]["turns"]) == 2 for r in rows
        )
    (judgments,) = (out / "model_judgment").glob("standin_pair.jsonl")
    verdicts = read_jsonl(judgments)
    assert len(verdicts) == 4  # 2 questions x 2 turns, each judged in both orders inside one row
    results = json.loads((results_of(out) / "results.json").read_text())  # one folder per judge and mode
    assert results["judge"] == "standin"
    assert SECRET not in proc.stdout + proc.stderr
    assert all(SECRET not in p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())


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
        _cmd(trained_run.merged, bad, out), cwd=REPO, capture_output=True, text=True, timeout=HANG_S
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"error: {bad}, row 2, field 'rejected': missing column" in proc.stderr
    assert not (out / "checkpoints").exists()
