"""The judging loop end to end over HTTP: the real `openai` client against a stand-in for the paid
judge (a real HTTP server on 127.0.0.1 speaking the chat-completions wire format), with malformed
verdicts, 429s and 500s; aggregates checked against a hand computation and FastChat's own
show_result.py; a run killed with SIGKILL and rerun pays for nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import HANG_S
from tests.evaluate.mt_bench.judge_standin import (
    MARK,
    REPO,
    SECRET,
    StandInJudge,
    judge_args,
    results_args,
    results_of,
    serving_sample,
)
from tunebench.data.jsonl import read_jsonl
from tunebench.evaluate.mt_bench import cli as mt_bench
from tunebench.evaluate.mt_bench import write_sample_questions
from tunebench.evaluate.mt_bench.data import load_answers


def test_pairwise_judging_matches_hand_computation_and_fastchat(standin, run_dir, monkeypatch, capsys):
    questions, out = run_dir
    monkeypatch.setenv("JUDGE_API_KEY", SECRET)
    assert mt_bench.main(judge_args(questions, out, standin.url, "--judge-concurrency", "4")) == 0
    assert f"Bearer {SECRET}" in standin.auth  # the key went to the server, from the environment

    lines = read_jsonl(out / "model_judgment" / "standin_pair.jsonl")
    assert len(lines) == 16 and len({(r["question_id"], r["turn"]) for r in lines}) == 16
    by = {(r["question_id"], r["turn"]): r for r in lines}
    assert by[(1, 1)]["g1_winner"] == by[(1, 1)]["g2_winner"] == "model_1"  # tuned won both orders
    assert (by[(2, 2)]["g1_winner"], by[(2, 2)]["g2_winner"]) == ("model_1", "model_2")  # position bias
    assert by[(3, 1)]["g1_winner"] == "error" and by[(3, 1)]["g1_judgment"].startswith("Both")  # malformed
    assert by[(6, 1)]["g1_judgment"] == "$ERROR$" and by[(6, 1)]["g1_error"]  # 500 for good: kept, counted
    assert by[(3, 2)]["g1_winner"] == "model_1"  # a 429 first, then judged
    assert by[(4, 2)]["g2_winner"] == "model_2"  # two 500s, then judged on the second round
    assert (
        by[(4, 1)]["judge"] == ["standin", "pair-math-v1"] and "12 * 7 = 84." in by[(4, 1)]["g1_user_prompt"]
    )
    assert by[(4, 2)]["judge"] == ["standin", "pair-math-v1-multi-turn"]
    assert by[(1, 2)]["judge"] == ["standin", "pair-v2-multi-turn"]
    # Both orders: game 2 shows base's answer as A.
    assert by[(1, 1)]["g2_user_prompt"].index("Answer by base") < by[(1, 1)]["g2_user_prompt"].index(
        "Answer by tuned"
    )

    assert mt_bench.main(results_args(questions, out, "--baseline", "base")) == 0
    res = json.loads((results_of(out) / "results.json").read_text())
    tuned = res["models"]["tuned"]
    # By hand from TABLE: wins 1.1 3.2 4.1 5.2 7.1 7.2; losses 1.2 4.2 5.1 8.1; ties 2.1 2.2(inconsistent)
    # 6.2 8.2; errors 3.1 (unparseable) and 6.1 (API).
    assert (tuned["win"], tuned["loss"], tuned["tie"], tuned["errors"]) == (6, 4, 4, 2)
    assert tuned["win_rate"] == round(6 / 14, 4) and tuned["win_rate_adjusted"] == round(8 / 14, 4)
    assert tuned["position_consistency"] == round(13 / 14, 4)
    assert tuned["by_turn"]["1"]["win_rate_adjusted"] == round(3.5 / 6, 4)
    assert tuned["by_turn"]["2"]["win_rate_adjusted"] == round(4.5 / 8, 4)
    cats = {c: s["win_rate_adjusted"] for c, s in tuned["by_category"].items()}
    assert cats == {
        "writing": 0.5,
        "roleplay": 0.5,
        "reasoning": 1.0,
        "math": 0.5,
        "coding": 0.5,
        "extraction": 0.5,
        "stem": 1.0,
        "humanities": 0.25,
    }
    lo, hi = tuned["ci95_win_rate_adjusted"]
    assert 0 <= lo < 8 / 14 < hi <= 1
    assert "base" not in res["models"] and res["error_rows"] == 2 and res["position_inconsistent_rows"] == 1
    md = (results_of(out) / "results.md").read_text()
    assert "| tuned | 6 | 4 | 4 | 0.429 | 0.571 |" in md and "SMOKE" not in md
    assert (results_of(out) / "win_rate.png").stat().st_size > 0
    assert (results_of(out) / "per_category.png").stat().st_size > 0
    for f in out.rglob("*"):  # the key never reaches a file
        assert not f.is_file() or SECRET.encode() not in f.read_bytes(), f

    # FastChat's own show_result.py reads the file (it imports without anthropic): same table.
    from argparse import Namespace

    from fastchat.llm_judge import show_result

    printed = []
    monkeypatch.setattr(show_result, "print", printed.append, raising=False)
    show_result.display_result_pairwise(
        Namespace(
            input_file=str(out / "model_judgment" / "standin_pair.jsonl"),
            bench_name="mt_bench",
            judge_model="standin",
            baseline_model="base",
            model_list=None,
        )
    )
    df = printed[-1]
    assert list(df.index) == ["tuned"]
    assert (int(df.loc["tuned", "win"]), int(df.loc["tuned", "loss"]), int(df.loc["tuned", "tie"])) == (
        6,
        4,
        4,
    )
    assert round(float(df.loc["tuned", "win_rate_adjusted"]), 4) == tuned["win_rate_adjusted"]

    # A rerun pays for nothing that is on disk; only the API error is tried again. Both of its games
    # fail again: the run judged nothing and says so (exit 1), counting HTTP requests, not games.
    standin.reset()
    capsys.readouterr()
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 1
    assert (
        set(standin.answered) == set() and sum(standin.calls.values()) == 8
    )  # 2 games x (1 + 1 retry) x 2 rounds
    captured = capsys.readouterr()
    assert "2 games played in 8 HTTP requests, 2 API errors" in captured.out
    assert captured.err.strip().splitlines()[-1].startswith("error: every one of the 2 judge calls failed")
    assert len(read_jsonl(out / "model_judgment" / "standin_pair.jsonl")) == 16


def test_single_mode_scores(standin, run_dir, monkeypatch):
    questions, out = run_dir
    args = judge_args(questions, out, standin.url, "--mode", "single")
    args[args.index("--models") + 1 : args.index("--models") + 2] = ["tuned", "base"]
    assert mt_bench.main(args) == 0
    rows = read_jsonl(out / "model_judgment" / "standin_single.jsonl")
    assert len(rows) == 32 and {r["judge"][1] for r in rows} == {
        "single-v1",
        "single-math-v1",
        "single-v1-multi-turn",
        "single-math-v1-multi-turn",
    }
    assert mt_bench.main(results_args(questions, out, "--mode", "single")) == 0
    res = json.loads((results_of(out, mode="single") / "results.json").read_text())["models"]
    # By hand: tuned turn 1 = 8 5 7 4 9 1 (q3 unparseable, q6 API error), turn 2 = 2 7 6 3 8 6 9 5;
    # base turn 1 = 3 5 1 3 8 6 2 9, turn 2 = 6 4 2 7 1 6 8 5.
    assert res["tuned"]["score"] == round(80 / 14, 4) and res["tuned"]["errors"] == 2
    assert res["tuned"]["by_turn"]["1"]["score"] == round(34 / 6, 4)
    assert res["tuned"]["by_turn"]["2"]["score"] == round(46 / 8, 4)
    assert res["base"]["score"] == round(76 / 16, 4) and res["base"]["errors"] == 0

    from argparse import Namespace

    from fastchat.llm_judge import show_result

    printed = []
    monkeypatch.setattr(show_result, "print", printed.append, raising=False)
    show_result.display_result_single(
        Namespace(
            input_file=str(out / "model_judgment" / "standin_single.jsonl"),
            bench_name="mt_bench",
            judge_model="standin",
            model_list=None,
        )
    )
    average = printed[-1]
    assert round(float(average.loc["tuned", "score"]), 4) == res["tuned"]["score"]
    assert round(float(average.loc["base", "score"]), 4) == res["base"]["score"]


def test_dry_run_spends_nothing_and_counts_calls(standin, run_dir, capsys):
    questions, out = run_dir
    assert mt_bench.main(judge_args(questions, out, standin.url, "--dry-run")) == 0
    est = json.loads(capsys.readouterr().out.split("nothing spent:\n", 1)[1])
    assert est["calls"] == 32 and est["reference_calls"] == 0 and est["est_prompt_tokens"] > 0
    assert est["max_completion_tokens"] == 32 * 2048
    assert sum(standin.calls.values()) == 0 and not (out / "model_judgment").exists()


def test_make_references_with_the_judge(standin, run_dir):
    questions, out = run_dir
    args = judge_args(questions, out, standin.url)
    args[args.index("--judge") + 1] = "other-judge"  # a judge without references, and no gpt-4 ones here
    assert mt_bench.main(args) == 2  # refuses before spending, says how to fix it
    assert sum(standin.calls.values()) == 0
    assert mt_bench.main([*args, "--make-references"]) == 0
    refs = load_answers(out / "reference_answer" / "other-judge.jsonl")
    assert sorted(refs) == [3, 4, 5]  # reasoning, math, coding
    assert all(len(r["choices"][0]["turns"]) == 2 for r in refs.values())
    math = [r for r in read_jsonl(out / "model_judgment" / "other-judge_pair.jsonl") if r["question_id"] == 4]
    assert all(refs[4]["choices"][0]["turns"][0] in r["g1_user_prompt"] for r in math)
    # the second reference turn was asked with the judge's own first answer in the conversation, after
    # FastChat's system message for API models
    ref_calls = [b for b in standin.bodies if not MARK.search(b["messages"][-1]["content"])]
    assert any(
        [m["role"] for m in b["messages"]] == ["system", "user", "assistant", "user"] for b in ref_calls
    )
    assert all(b["messages"][0]["content"] == "You are a helpful assistant." for b in ref_calls)


def test_no_judge_configured_stops_before_spending(tmp_path, monkeypatch, capsys):
    for var in ("OPENAI_API_KEY", "JUDGE_BASE_URL", "JUDGE_API_KEY_ENV", "JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    questions = write_sample_questions(tmp_path / "questions")
    out = tmp_path / "out"
    code = mt_bench.main(
        [
            "run",
            "--model",
            str(tmp_path / "nope"),
            "--baseline",
            "org/some-model",
            "--out",
            str(out),
            "--questions-dir",
            str(questions),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "OPENAI_API_KEY" in err and "JUDGE_BASE_URL" in err
    assert not out.exists()  # no answer generated, nothing spent


def test_killed_run_resumes_without_paying_twice(tmp_path):
    judge = StandInJudge(delay_s=0.12)
    with serving_sample(tmp_path, judge) as (url, questions, out):
        cmd = [
            sys.executable,
            "-m",
            "tunebench.evaluate.mt_bench",
            *judge_args(questions, out, url, "--judge-concurrency", "2"),
        ]
        journal = out / "model_judgment" / "journal" / "standin_pair.jsonl"
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and journal.read_text().count("\n") >= 10:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        on_disk = {r["user_prompt"]: r["judgment"] for r in read_jsonl(journal)}
        for r in read_jsonl(out / "model_judgment" / "standin_pair.jsonl"):
            on_disk.update({r["g1_user_prompt"]: r["g1_judgment"], r["g2_user_prompt"]: r["g2_judgment"]})
        assert 10 <= len(on_disk) < 32
        judge.wait_idle()
        first_run_calls = sum(judge.answered.values())

        judge.reset()
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=HANG_S)
        assert not any(judge.calls[p] for p in on_disk)  # nothing on disk was asked again
        assert sum(judge.answered.values()) == 32 - len(on_disk)
        assert first_run_calls >= len(on_disk)
        lines = read_jsonl(out / "model_judgment" / "standin_pair.jsonl")
        keys = [(r["question_id"], r["model_1"], r["model_2"], r["turn"]) for r in lines]
        assert len(keys) == 16 and len(set(keys)) == 16  # every judgment exactly once
        final = {r[f"g{g}_user_prompt"]: r[f"g{g}_judgment"] for r in lines for g in (1, 2)}
        assert len(final) == 32 and all(final[p] == j for p, j in on_disk.items())
        assert not journal.exists()
