"""The commands of docs/mt-bench.md, exactly as written there, run as a user runs them (through
`make`, expanded with `make -n`) against the stand-in judge. Only what a shell would hold is set
around them: the keys, the server URLs (pointed at the stand-in), `<run>` filled in, the questions
folder (tunebench's sample questions with GPT-4 reference answers, as FastChat's folder has), and a
hub cache in which `mistralai/Mistral-7B-Instruct-v0.2` is the tiny base model (no network here)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from argparse import Namespace

import pytest

from tests.conftest import HANG_S
from tests.evaluate.mt_bench.judge_standin import REPO, SECRET, results_of
from tunebench.data.jsonl import read_jsonl
from tunebench.evaluate.mt_bench import write_sample_questions

pytestmark = pytest.mark.slow
DOC = REPO / "docs" / "mt-bench.md"
BASELINE_HUB_ID = "mistralai/Mistral-7B-Instruct-v0.2"


def doc_commands() -> list[str]:
    """The first bash block's commands, continuation lines joined, comments dropped."""
    block = DOC.read_text().split("```bash\n", 1)[1].split("```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def fake_hub_cache(root, model_dir, repo_id: str):
    snapshot = root / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "0123abcd"
    shutil.copytree(model_dir, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abcd")
    return root


def run_documented(command: str, env: dict, workdir) -> subprocess.CompletedProcess:
    """`[VAR=value ...] make TARGET ARGS`: expanded by make, then run from `workdir` (its models/)."""
    words = shlex.split(command)
    env = dict(env)
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == "make", command
    dry = subprocess.run(
        ["make", "-n", *words[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=HANG_S
    )
    assert dry.returncode == 0, dry.stderr
    (line,) = [x for x in dry.stdout.replace("\\\n", " ").splitlines() if "tunebench.evaluate.mt_bench" in x]
    argv = shlex.split(line)
    assert argv[0].endswith("python")
    return subprocess.run(
        [sys.executable, *argv[1:]], cwd=workdir, env=env, capture_output=True, text=True, timeout=HANG_S
    )


def test_documented_commands_work_as_written(trained_run, embedded, standin, tmp_path, monkeypatch):
    workdir = tmp_path / "work"
    run = workdir / "models" / "tiny-run"
    shutil.copytree(trained_run.merged, run / "merged")
    shutil.copy(trained_run.manifest, run / "manifest.json")
    shutil.copytree(trained_run.merged, workdir / "models" / "tiny-text-to-sql" / "merged")
    shutil.copytree(embedded.base_dir, workdir / "models" / "tiny-base")
    questions = write_sample_questions(tmp_path / "questions", reference_judges=("gpt-4",))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JUDGE_BASE_URL", "JUDGE_MODEL", "JUDGE_API_KEY_ENV", "OPENAI_API_KEY", "MODEL")
    }
    env.update(
        HF_HUB_CACHE=str(fake_hub_cache(tmp_path / "hub", embedded.base_dir, BASELINE_HUB_ID)),
        HF_HUB_OFFLINE="1",
        QUESTIONS_DIR=str(questions),
        OPENAI_BASE_URL=standin.url,  # the openai client's own setting: "OpenAI" is the stand-in
        ANTHROPIC_API_KEY="sk-ant-test-secret",
        PYTHONPATH=str(REPO),
    )
    out = run / "eval" / "mt_bench"
    outputs = []
    for command in doc_commands():
        command = re.sub(r"https?://[^\s]+/v1", standin.url, command).replace("<run>", "tiny-run")
        if command.startswith("export "):
            name, value = command.removeprefix("export ").split("=", 1)
            env[name] = SECRET if value == "..." else value.split()[0]
            continue
        proc = run_documented(command, env, workdir)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        outputs.append((command, proc.stdout))
    assert len(outputs) == 5

    # 1. gpt-4-turbo on "OpenAI", FastChat's GPT-4 reference answers (the judge has none of its own).
    assert f"Bearer {SECRET}" in standin.auth
    lines = read_jsonl(out / "model_judgment" / "gpt-4-turbo_pair.jsonl")
    assert len(lines) == 16 and {r["judge"][0] for r in lines} == {"gpt-4-turbo"}
    math = next(r for r in lines if r["question_id"] == 4 and r["turn"] == 1)
    assert "12 * 7 = 84." in math["g1_user_prompt"]  # the gpt-4 reference of the sample questions
    assert {(r["model_1"], r["model_2"]) for r in lines} == {("tiny-run", "Mistral-7B-Instruct-v0.2")}
    # 2. an org/model judge: FastChat's layout, its name in `judge`, its own references, no new answers.
    judge = "meta-llama/Llama-3.1-70B-Instruct"
    path = out / "model_judgment" / "meta-llama" / "Llama-3.1-70B-Instruct_pair.jsonl"
    assert {r["judge"][0] for r in read_jsonl(path)} == {judge}
    assert (out / "reference_answer" / "meta-llama" / "Llama-3.1-70B-Instruct.jsonl").exists()
    assert "answers tiny-run: 0 written, 8 already on disk" in outputs[1][1]
    # 3. Claude through its OpenAI-compatible endpoint: the key from the variable the command names.
    assert "Bearer sk-ant-test-secret" in standin.auth
    assert (out / "model_judgment" / "claude-sonnet-4-5_pair.jsonl").exists()
    # 4. the dry run: everything is already judged by gpt-4-turbo, nothing to spend.
    estimate = json.loads(outputs[3][1].split("nothing spent:\n", 1)[1])
    assert estimate["calls"] == 0 and estimate["matches_already_judged"] == 16
    # 5. the smoke run, labelled as such.
    smoke_dir = workdir / "models" / "tiny-text-to-sql" / "eval" / "mt_bench" / "smoke"
    (smoke,) = (smoke_dir / "results").rglob("results.md")
    assert "SMOKE RUN" in smoke.read_text()

    # FastChat's show_result.py finds the org/model judge's file where it looks for it and agrees.
    from fastchat.llm_judge import show_result

    (tmp_path / "fastchat" / "data").mkdir(parents=True)
    (tmp_path / "fastchat" / "data" / "mt_bench").symlink_to(out)
    monkeypatch.chdir(tmp_path / "fastchat")
    printed = []
    monkeypatch.setattr(show_result, "print", printed.append, raising=False)
    show_result.display_result_pairwise(
        Namespace(
            input_file=None,
            bench_name="mt_bench",
            judge_model=judge,
            baseline_model="Mistral-7B-Instruct-v0.2",
            model_list=None,
        )
    )
    df = printed[-1]
    assert list(df.index) == ["tiny-run"]
    from tunebench.evaluate.mt_bench import cli as mt_bench

    claude = json.loads((results_of(out, "claude-sonnet-4-5") / "results.json").read_text())
    assert claude["judge"] == "claude-sonnet-4-5"  # each judge's results in their own folder
    monkeypatch.setenv("JUDGE_MODEL", judge)  # `results` reads the judge as `judge` does
    args = [
        "results",
        "--out",
        str(out),
        "--questions-dir",
        str(questions),
        "--baseline",
        "Mistral-7B-Instruct-v0.2",
    ]
    assert mt_bench.main(args) == 0
    ours = json.loads((results_of(out, judge) / "results.json").read_text())
    assert ours["judge"] == judge
    tiny = ours["models"]["tiny-run"]
    assert [tiny["win"], tiny["loss"], tiny["tie"]] == [
        int(df.loc["tiny-run", k]) for k in ("win", "loss", "tie")
    ]
