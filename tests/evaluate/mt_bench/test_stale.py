"""Stale answers and verdicts: when the model (or the answer file) behind a run changes, a rerun
answers again, sets the old rows aside, re-judges only the matches whose inputs changed and reports
the new model's numbers; a rerun with nothing changed makes no call."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.evaluate.mt_bench.judge_standin import TABLE, StandInJudge, results_of
from tunebench.data.jsonl import read_jsonl, write_jsonl
from tunebench.evaluate.mt_bench import cli as mt_bench
from tunebench.evaluate.mt_bench import sample_questions, write_sample_questions


def answer_rows(model: str, quality) -> list[dict]:
    return [
        {
            "question_id": q["question_id"],
            "answer_id": f"{model}-{q['question_id']}",
            "model_id": model,
            "choices": [
                {
                    "index": 0,
                    "turns": [
                        f"Answer by {model} to q{q['question_id']} turn {t}. QUALITY={quality(q['question_id'], t)}"
                        for t in (1, 2)
                    ],
                }
            ],
            "tstamp": 0.0,
        }
        for q in sample_questions()
    ]


def expected_win_rate_adjusted(tuned_quality) -> float:
    """The stand-in judge prefers the higher QUALITY, in both orders: win / loss / tie per turn."""
    points = [
        1.0
        if tuned_quality(q, t) > TABLE[(q, t)][1]
        else 0.0
        if tuned_quality(q, t) < TABLE[(q, t)][1]
        else 0.5
        for q, t in TABLE
    ]
    return round(sum(points) / len(points), 4)


def run_args(model, baseline, questions, out, url) -> list[str]:
    return [
        "run",
        "--model",
        str(model),
        "--model-id",
        "tuned",
        "--baseline",
        str(baseline),
        "--baseline-id",
        "base",
        "--questions-dir",
        str(questions),
        "--judge",
        "standin",
        "--judge-base-url",
        url,
        "--out",
        str(out),
    ]


def test_swapped_answer_file_is_rejudged_only_where_answers_changed(tmp_path, capsys):
    standin = StandInJudge()
    server, url = standin.serve()
    try:
        questions = write_sample_questions(tmp_path / "questions", reference_judges=("standin",))
        out = tmp_path / "out"
        v1 = lambda q, t: TABLE[(q, t)][0]  # noqa: E731
        changed = {1, 5}  # two questions get new answers in the second file
        v2 = lambda q, t: 10 if q in changed else v1(q, t)  # noqa: E731
        write_jsonl(tmp_path / "tuned.jsonl", answer_rows("tuned", v1))
        write_jsonl(tmp_path / "base.jsonl", answer_rows("base", lambda q, t: TABLE[(q, t)][1]))
        args = run_args(tmp_path / "tuned.jsonl", tmp_path / "base.jsonl", questions, out, url)

        assert mt_bench.main(args) == 0
        assert sum(standin.answered.values()) == 32  # 16 matches, both orders
        res = json.loads((results_of(out) / "results.json").read_text())
        assert res["models"]["tuned"]["win_rate_adjusted"] == expected_win_rate_adjusted(v1)

        write_jsonl(tmp_path / "tuned.jsonl", answer_rows("tuned", v2))  # the same name, other answers
        standin.reset()
        capsys.readouterr()
        assert mt_bench.main(args) == 0
        printed = capsys.readouterr().out
        assert "answers tuned: 8 stale" in printed and "judgments: 4 stale" in printed
        assert sum(standin.answered.values()) == 8  # only the 4 changed matches, both orders
        res = json.loads((results_of(out) / "results.json").read_text())
        assert res["models"]["tuned"]["win_rate_adjusted"] == expected_win_rate_adjusted(v2)
        assert expected_win_rate_adjusted(v2) != expected_win_rate_adjusted(v1)
        (old_answers,) = (out / "model_answer" / "stale").glob("tuned.*.jsonl")
        assert len(read_jsonl(old_answers)) == 8  # kept aside, not deleted
        (old_verdicts,) = (out / "model_judgment" / "stale").glob("standin_pair.*.jsonl")
        assert sorted((r["question_id"], r["turn"]) for r in read_jsonl(old_verdicts)) == [
            (1, 1),
            (1, 2),
            (5, 1),
            (5, 2),
        ]
        lines = read_jsonl(out / "model_judgment" / "standin_pair.jsonl")
        assert len(lines) == 16 and all(r["inputs"] for r in lines)

        standin.reset()
        capsys.readouterr()
        assert mt_bench.main(args) == 0
        assert sum(standin.calls.values()) == 0 and "stale" not in capsys.readouterr().out

        # Back to the first file (going back to earlier weights): its judgments come back from stale/,
        # the same inputs are never paid for twice (issue 25, item 13).
        write_jsonl(tmp_path / "tuned.jsonl", answer_rows("tuned", v1))
        standin.reset()
        assert mt_bench.main(args) == 0
        printed = capsys.readouterr().out
        assert sum(standin.calls.values()) == 0, standin.calls
        assert "judgments: 4 brought back from" in printed
        res = json.loads((results_of(out) / "results.json").read_text())
        assert res["models"]["tuned"]["win_rate_adjusted"] == expected_win_rate_adjusted(v1)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_replaced_model_behind_a_run_answers_again(embedded, trained_run, tmp_path, capsys, monkeypatch):
    """The folder first holds the tiny base, then the fine-tune is trained into its place."""
    standin = StandInJudge()
    server, url = standin.serve()
    try:
        questions = write_sample_questions(tmp_path / "questions", reference_judges=("standin",))
        out = tmp_path / "out"
        folder = tmp_path / "run" / "merged"
        shutil.copytree(embedded.base_dir, folder)
        baseline = tmp_path / "base.jsonl"
        write_jsonl(baseline, answer_rows("base", lambda q, t: "unmarked"))
        for row in read_jsonl(baseline):
            row["choices"][0]["turns"] = ["A fixed baseline answer.", "Another fixed answer."]
        args = run_args(folder, baseline, questions, out, url) + ["--first-n", "3", "--max-new-tokens", "8"]

        assert mt_bench.main(args) == 0
        first = {r["question_id"]: r for r in read_jsonl(out / "model_answer" / "tuned.jsonl")}
        assert sum(standin.answered.values()) == 12  # 6 matches, both orders

        shutil.rmtree(folder)  # "retrain into the same folder"
        shutil.copytree(trained_run.merged, folder)
        standin.reset()
        capsys.readouterr()
        assert mt_bench.main(args) == 0
        printed = capsys.readouterr().out
        now = {r["question_id"]: r for r in read_jsonl(out / "model_answer" / "tuned.jsonl")}
        assert "answers tuned: 3 stale" in printed and "3 written" in printed
        assert all(now[q]["fingerprint"] != first[q]["fingerprint"] for q in now)
        changed_turns = sum(
            a != b
            for q in now
            for a, b in zip(now[q]["choices"][0]["turns"], first[q]["choices"][0]["turns"], strict=True)
        )
        assert changed_turns > 0 and sum(standin.answered.values()) == 2 * changed_turns
        # Every verdict on disk was given on the new model's answers.
        for line in read_jsonl(out / "model_judgment" / "standin_pair.jsonl"):
            answer = now[line["question_id"]]["choices"][0]["turns"][line["turn"] - 1]
            assert answer in line["g1_user_prompt"]
        assert len(list((out / "model_answer" / "stale").glob("tuned.*.jsonl"))) == 1

        standin.reset()
        capsys.readouterr()
        from tunebench.evaluate.mt_bench import pipeline

        opened = []
        real_open = pipeline.open_chat_model
        monkeypatch.setattr(
            pipeline, "open_chat_model", lambda *a, **k: opened.append(a) or real_open(*a, **k)
        )
        assert mt_bench.main(args) == 0
        printed = capsys.readouterr().out
        assert sum(standin.calls.values()) == 0 and "0 written, 3 already on disk" in printed
        assert opened == []  # every answer current: the model was not even loaded

        # Back to the first weights: their answers and verdicts come back from stale/, nothing is
        # generated or paid for again (issue 25, item 13).
        shutil.rmtree(folder)
        shutil.copytree(embedded.base_dir, folder)
        standin.reset()
        capsys.readouterr()
        assert mt_bench.main(args) == 0
        printed = capsys.readouterr().out
        assert "0 written, 0 already on disk, 3 brought back from stale/" in printed
        assert sum(standin.calls.values()) == 0 and opened == []
        back = {r["question_id"]: r for r in read_jsonl(out / "model_answer" / "tuned.jsonl")}
        assert {q: r["choices"] for q, r in back.items()} == {q: r["choices"] for q, r in first.items()}
    finally:
        server.shutdown()
        server.server_close()
