"""MT-Bench defects a hostile tester found (issue 25, items 8-15): set-aside answers judged as models,
a journal emptied of other matches' games, Ctrl-C that kept spending, results reported on answers that
have changed, an answer file with a missing turn copied in, judgments set aside and paid for again, an
empty reply taken as final, and results of one judge or mode overwritten by another's."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

from tests.conftest import HANG_S
from tests.evaluate.mt_bench.judge_standin import (
    REPO,
    StandInJudge,
    judge_args,
    results_args,
    results_of,
    serving_sample,
    write_answers,
)
from tunebench.chat.openai_compat import Endpoint
from tunebench.data.jsonl import read_jsonl, write_jsonl
from tunebench.evaluate.mt_bench import cli as mt_bench
from tunebench.evaluate.mt_bench.config import JudgeConfig
from tunebench.evaluate.mt_bench.data import load_answers, load_question_set
from tunebench.evaluate.mt_bench.judge import match_inputs, render_game
from tunebench.evaluate.mt_bench.matches import make_matches
from tunebench.evaluate.mt_bench.results import pairwise_results


def _pair_rows(out) -> list[dict]:
    return read_jsonl(out / "model_judgment" / "standin_pair.jsonl")


def test_set_aside_answers_are_no_model(standin, run_dir):
    """Item 8: `judge` without --models searched model_answer/ recursively and judged stale/ files."""
    questions, out = run_dir
    stale = out / "model_answer" / "stale"
    stale.mkdir()
    (out / "model_answer" / "tuned.jsonl").rename(stale / "tuned.20250101-000000.jsonl")
    write_answers(out, "tuned", 0)
    args = judge_args(questions, out, standin.url, "--mode", "pairwise-all")
    del args[args.index("--models") : args.index("--models") + 2]
    assert mt_bench.main(args) == 0
    assert {(r["model_1"], r["model_2"]) for r in _pair_rows(out)} == {("base", "tuned")}
    assert mt_bench.main(results_args(questions, out, "--mode", "pairwise-all")) == 0
    res = json.loads((results_of(out, mode="pairwise-all") / "results.json").read_text())
    assert set(res["models"]) == {"base", "tuned"}


def _journal_game(questions, out, model: str) -> tuple[dict, str]:
    """A finished game of `model` vs base as the journal holds it, and the prompt it showed."""
    qs = load_question_set(questions)
    answers = {m: load_answers(out / "model_answer" / f"{m}.jsonl") for m in (model, "base")}
    refs = load_answers(questions / "reference_answer" / "standin.jsonl")
    match = make_matches("pairwise-baseline", qs.questions, [model], answers, qs.prompts, refs, "base")[0]
    cfg = JudgeConfig(endpoint=Endpoint("http://unused/v1", "standin"))
    user, _ = render_game(match, 1, cfg)
    game = {
        "key": list(match.key),
        "game": 1,
        "prompt_name": match.prompt["name"],
        "user_prompt": user,
        "judgment": "[[A]]",
        "error": None,
        "usage": None,
        "inputs": match_inputs([match], cfg)[match.key],
        "winner": "model_1",
    }
    return game, user


def test_the_journal_keeps_games_of_matches_outside_the_run(standin, run_dir):
    """Item 9: the end of a run deleted the whole journal, so a finished game of another model's match
    (an interrupted run) was paid for again."""
    questions, out = run_dir
    write_answers(out, "other", 1, flags=False)
    game, prompt = _journal_game(questions, out, "other")
    journal = out / "model_judgment" / "journal" / "standin_pair.jsonl"
    write_jsonl(journal, [game])
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 0  # judges tuned only
    assert read_jsonl(journal) == [game]
    standin.reset()
    args = judge_args(questions, out, standin.url)
    args[args.index("--models") + 1] = "other"
    assert mt_bench.main(args) == 0
    assert standin.calls[prompt] == 0 and len(standin.answered) == 31
    assert not journal.exists()  # every game of both runs is in the FastChat file now


def test_ctrl_c_stops_sending_keeps_what_finished_and_exits_130(tmp_path):
    """Item 10: Ctrl-C kept spending until the queue was empty (the pool's exit waited for every
    submitted game), then printed a traceback."""
    judge = StandInJudge(hold_after=6)
    with serving_sample(tmp_path, judge) as (url, questions, out):
        cmd = [sys.executable, "-m", "tunebench.evaluate.mt_bench", *judge_args(questions, out, url)]
        cmd += ["--judge-concurrency", "2"]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said, lines = threading.Event(), []

        def read_stderr():
            for line in proc.stderr:
                lines.append(line)
                if "interrupted:" in line:
                    said.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        while not (judge.received == 8 and judge.inflight == 2):  # 6 answered, 2 held in flight
            assert proc.poll() is None, "".join(lines)
            judge.release.wait(0.05)
        proc.send_signal(signal.SIGINT)
        assert said.wait(HANG_S), "".join(lines)
        judge.release.set()  # the two calls in flight finish now
        assert proc.wait(HANG_S) == 130
        reader.join(HANG_S)
        text = "".join(lines)
        assert "Traceback" not in text and judge.received == 8  # nothing new was sent
        said_lines = [ln for ln in lines if "interrupted:" in ln]
        assert len(said_lines) == 1 and "2 judge call(s) in flight finish" in said_lines[0]
        journal = read_jsonl(out / "model_judgment" / "journal" / "standin_pair.jsonl")
        finished = {(tuple(r["key"]), r["game"]) for r in journal}
        for r in read_jsonl(out / "model_judgment" / "standin_pair.jsonl"):
            key = (r["question_id"], r["model_1"], r["model_2"], r["turn"])
            finished |= {(key, 1), (key, 2)}
        assert len(finished) == 8  # every answered game kept, the two in flight included
        judge.hold_after = None
        with judge.lock:
            judge.received = 0
        assert subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=HANG_S).returncode == 0
        assert judge.received == 32 - 8  # the rerun pays only for what was never judged


def test_results_leave_out_judgments_of_answers_that_changed(standin, run_dir, capsys):
    """Item 11: after the baseline's answers changed, rows judged on the old ones were reported."""
    questions, out = run_dir
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 0
    base = read_jsonl(out / "model_answer" / "base.jsonl")
    for row in base:
        if row["question_id"] in (1, 2):
            row["choices"][0]["turns"] = [t + " (regenerated)" for t in row["choices"][0]["turns"]]
    write_jsonl(out / "model_answer" / "base.jsonl", base)
    capsys.readouterr()
    assert mt_bench.main(results_args(questions, out, "--baseline", "base")) == 0
    res = json.loads((results_of(out) / "results.json").read_text())
    assert res["stale_rows"] == 4 and res["stale_models"] == ["base"] and res["rows"] == 12
    err = capsys.readouterr().err
    assert "4 judgment(s) left out, made on answers of base that have changed since" in err
    assert "**4 judgment(s) left out**" in (results_of(out) / "results.md").read_text()
    # Judged again, the same results are whole.
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 0
    assert mt_bench.main(results_args(questions, out, "--baseline", "base")) == 0
    assert json.loads((results_of(out) / "results.json").read_text())["stale_rows"] == 0


def test_an_answer_file_with_a_missing_turn_is_refused_before_it_is_copied(
    standin, run_dir, capsys, tmp_path
):
    """Item 12: the file was written into model_answer/ first, and `judge` then died with IndexError."""
    questions, out = run_dir
    rows = read_jsonl(out / "model_answer" / "tuned.jsonl")
    rows[2]["choices"][0]["turns"] = rows[2]["choices"][0]["turns"][:1]
    short = tmp_path / "short.jsonl"
    write_jsonl(short, rows)
    args = ["answers", "--model", str(short), "--model-id", "short", "--out", str(out)]
    args += ["--questions-dir", str(questions)]
    assert mt_bench.main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert (
        line
        == f"error: {short}, row 3, field 'choices[0].turns': 1 answer turn(s) to question 3, which has 2"
    )
    assert not (out / "model_answer" / "short.jsonl").exists()
    # A file already in model_answer/ with a missing turn: one line from `judge`, no traceback.
    write_jsonl(out / "model_answer" / "tuned.jsonl", rows)
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "model_answer/tuned.jsonl: fewer answer turns than the question has, question(s) [3]" in line
    assert sum(standin.calls.values()) == 0


def test_an_empty_reply_is_tried_again(tmp_path, capsys):
    """Item 15: an empty judge reply was final (an unparseable verdict, never retried)."""
    judge = StandInJudge(empty_replies=1)
    with serving_sample(tmp_path, judge) as (url, questions, out):
        assert mt_bench.main(judge_args(questions, out, url)) == 0
        rows = _pair_rows(out)
        assert all("error" not in (r["g1_winner"], r["g2_winner"]) for r in rows)
        assert (
            judge.received == 33
            and "32 games played in 33 HTTP requests, 0 API errors" in capsys.readouterr().out
        )


def test_results_of_each_judge_and_mode_keep_their_own_files(standin, run_dir):
    """Item 15: results.json / results.md of one mode were overwritten by another's in the same folder."""
    questions, out = run_dir
    assert mt_bench.main(judge_args(questions, out, standin.url)) == 0
    single = judge_args(questions, out, standin.url, "--mode", "single")
    single[single.index("--models") + 1 : single.index("--models") + 2] = ["tuned", "base"]
    assert mt_bench.main(single) == 0
    assert mt_bench.main(results_args(questions, out, "--baseline", "base")) == 0
    assert mt_bench.main(results_args(questions, out, "--mode", "single")) == 0
    pair = json.loads((results_of(out) / "results.json").read_text())
    one = json.loads((results_of(out, mode="single") / "results.json").read_text())
    assert (pair["mode"], one["mode"]) == ("pairwise-baseline", "single")
    assert (results_of(out) / "win_rate.png").exists() and (
        results_of(out, mode="single") / "results.md"
    ).exists()


def test_a_perfect_record_over_few_games_is_not_certainty():
    """Item 14: six games all won read 1.0 [1.0, 1.0]."""
    rows = [
        {
            "question_id": q,
            "turn": 1,
            "model_1": "tuned",
            "model_2": "base",
            "g1_winner": "model_1",
            "g2_winner": "model_1",
        }
        for q in range(1, 7)
    ]
    tuned = pairwise_results(rows, {}, baseline="base")["models"]["tuned"]
    low, high = tuned["ci95_win_rate_adjusted"]
    assert tuned["win_rate_adjusted"] == 1.0 and high == 1.0 and low < 0.65
