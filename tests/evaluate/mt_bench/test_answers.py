"""MT-Bench answers through `tunebench.chat`: the CLI as a user runs it (a folder and a real
`transformers serve` URL in one `run`), in FastChat's format, in the model's own training format
(ChatML), FastChat's temperatures and turns over HTTP, resumable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import HANG_S
from tests.evaluate.mt_bench.judge_standin import REPO, StandInJudge, results_of
from tunebench.chat import open_chat_model
from tunebench.chat.template import CHATML_TEMPLATE
from tunebench.data.jsonl import read_jsonl
from tunebench.evaluate.mt_bench import AnswerConfig, sample_questions, write_sample_questions
from tunebench.evaluate.mt_bench.answers import generate_answers, resolve_source
from tunebench.evaluate.mt_bench.data import TEMPERATURE_CONFIG, load_answers


def assert_fastchat_answers(path, model_id: str, question_ids: list[int]) -> None:
    rows = read_jsonl(path)
    assert [r["question_id"] for r in rows] == sorted(question_ids)  # sorted, one line each
    for r in rows:
        assert {"question_id", "answer_id", "model_id", "choices", "tstamp"} <= set(r)
        assert (
            r["model_id"] == model_id and isinstance(r["answer_id"], str) and isinstance(r["tstamp"], float)
        )
        assert len(r["choices"]) == 1 and r["choices"][0]["index"] == 0
        turns = r["choices"][0]["turns"]
        assert len(turns) == 2 and all(isinstance(t, str) for t in turns)


@pytest.mark.slow
def test_cli_run_with_a_served_url_and_a_folder(tiny_server, embedded, standin, tmp_path):
    """`python -m tunebench.evaluate.mt_bench run`: the fine-tune behind a real `transformers serve`
    URL, the tiny base as a folder (in process), judged by the stand-in judge."""
    questions = write_sample_questions(tmp_path / "questions", reference_judges=("standin",))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "tunebench.evaluate.mt_bench",
        "run",
        "--model",
        f"{tiny_server.base_url}#{tiny_server.model}",
        "--baseline",
        str(embedded.base_dir),
        "--questions-dir",
        str(questions),
        "--first-n",
        "3",
        "--max-new-tokens",
        "16",
        "--judge",
        "standin",
        "--judge-base-url",
        standin.url,
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    served_id = resolve_source(f"{tiny_server.base_url}#{tiny_server.model}", out).model_id
    assert_fastchat_answers(out / "model_answer" / f"{served_id}.jsonl", served_id, [1, 2, 3])
    assert_fastchat_answers(out / "model_answer" / "tiny-base.jsonl", "tiny-base", [1, 2, 3])
    lines = read_jsonl(out / "model_judgment" / "standin_pair.jsonl")
    assert len(lines) == 6 and {(r["model_1"], r["model_2"]) for r in lines} == {(served_id, "tiny-base")}
    res = json.loads((results_of(out) / "results.json").read_text())
    assert res["judge"] == "standin" and res["baseline"] == "tiny-base"
    assert res["models"][served_id]["tie"] == 6  # the stand-in calls every real pair a tie
    assert "| " + served_id + " | 0 | 0 | 6 |" in proc.stdout


@pytest.mark.slow
def test_answers_in_process_in_the_training_format(trained_run, tmp_path, monkeypatch):
    from fastchat.model import get_conversation_template

    source = resolve_source(str(trained_run.merged), tmp_path / "model_answer")
    assert source.kind == "local" and source.model_id == trained_run.root.name
    model = open_chat_model(source.spec)
    assert model.tokenizer.chat_template == CHATML_TEMPLATE  # the template the model was trained with
    rendered: list[str] = []
    render = model.render
    monkeypatch.setattr(model, "render", lambda messages: rendered.append(render(messages)) or rendered[-1])

    questions = sample_questions()[:3]
    cfg = AnswerConfig(max_new_tokens=32)
    stats = generate_answers(questions, model, source.model_id, tmp_path / "model_answer", cfg)
    assert stats.written == 3
    path = tmp_path / "model_answer" / f"{source.model_id}.jsonl"
    assert_fastchat_answers(path, source.model_id, [1, 2, 3])

    # Turn 2 is prompted in ChatML with the model's own first answer, exactly as in training, and
    # without a system message (a local model keeps its own template).
    q = questions[2]
    a1 = load_answers(path)[q["question_id"]]["choices"][0]["turns"][0]
    expected = (
        f"<|im_start|>user\n{q['turns'][0]}<|im_end|>\n<|im_start|>assistant\n{a1}<|im_end|>\n"
        f"<|im_start|>user\n{q['turns'][1]}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert expected in rendered
    # What the original notebooks did: FastChat picks a template by the model's name, not ChatML here.
    conv = get_conversation_template(source.model_id)
    conv.append_message(conv.roles[0], q["turns"][0])
    conv.append_message(conv.roles[1], None)
    assert "<|im_start|>" not in conv.get_prompt()

    # A rerun finds everything on disk and generates nothing.
    rendered.clear()
    again = generate_answers(questions, model, source.model_id, tmp_path / "model_answer", cfg)
    assert (again.written, again.skipped) == (0, 3) and rendered == []


def test_server_answers_use_fastchat_temperatures_turns_and_resume(tmp_path):
    """Each category's temperature, the token limit, FastChat's API system message and the two-turn
    conversation, as sent; a question lost from the file is the only one asked again."""
    standin = StandInJudge()
    server, url = standin.serve()
    try:
        out = tmp_path / "model_answer"
        model = open_chat_model(f"{url}#served-name", concurrency=4)
        stats = generate_answers(sample_questions(), model, "remote", out, progress=False)
        assert stats.written == 8
        by_question = {}
        for body in standin.bodies:
            by_question.setdefault(body["messages"][1]["content"], []).append(body)
        for q in sample_questions():
            first, second = sorted(by_question[q["turns"][0]], key=lambda b: len(b["messages"]))
            assert first["temperature"] == second["temperature"] == TEMPERATURE_CONFIG[q["category"]]
            assert first["max_tokens"] == 1024 and first["model"] == "served-name"
            assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
            assert second["messages"][0]["content"] == "You are a helpful assistant."
            assert second["messages"][3]["content"] == q["turns"][1]
        path = out / "remote.jsonl"
        assert_fastchat_answers(path, "remote", list(range(1, 9)))

        first_ids = {r["question_id"]: r["answer_id"] for r in read_jsonl(path)}
        rows = read_jsonl(path)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows[:6]) + '{"question_id": 7, "cho')
        standin.reset()
        again = generate_answers(sample_questions(), model, "remote", out, progress=False)
        assert (again.written, again.skipped) == (2, 6) and len(standin.bodies) == 4
        now = {r["question_id"]: r["answer_id"] for r in read_jsonl(path)}
        assert sorted(now) == list(range(1, 9))
        assert all(now[i] == first_ids[i] for i in range(1, 7)) and now[7] != first_ids[7]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_smoke_chain_on_the_tiny_model(tiny_server, embedded, tmp_path):
    """`make eval-mt-bench-smoke`'s chain: the served fine-tune answers and judges, the base answers
    in process; whatever the tiny judge writes is recorded, and the results say SMOKE RUN."""
    from tunebench.evaluate.mt_bench.smoke import SMOKE_JUDGE_ID, run_smoke

    out = tmp_path / "smoke"
    files = run_smoke(
        tiny_server.model,
        embedded.base_dir,
        out,
        max_new_tokens=16,
        judge_max_tokens=16,
        endpoint=tiny_server,
    )
    res = json.loads(files["json"].read_text())
    assert res["smoke"] is True and "SMOKE RUN" in files["md"].read_text()
    lines = read_jsonl(out / "model_judgment" / f"{SMOKE_JUDGE_ID}_pair.jsonl")
    assert len(lines) == 6  # 3 questions x 2 turns, each judged in both orders
    assert all(r["g1_judgment"] != "$ERROR$" and r["g2_judgment"] != "$ERROR$" for r in lines)
    refs = load_answers(out / "reference_answer" / f"{SMOKE_JUDGE_ID}.jsonl")
    assert sorted(refs) == [3]  # the judge wrote the reasoning question's reference itself
    # ... no longer than the answers: a 1,024-token reference filled the tiny judge's context and its
    # second turn, which repeats the first, could not fit (make demo stopped there)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_server.model)
    for turn in refs[3]["choices"][0]["turns"]:
        assert len(tok(turn, add_special_tokens=False)["input_ids"]) <= 16 + 2, turn
    (model,) = res["models"]
    m = res["models"][model]
    assert m["win"] + m["loss"] + m["tie"] + m["errors"] == 6


def test_api_answerer_key_from_the_variable_a_flag_names(tmp_path, monkeypatch):
    """`answers --model URL#name --api-key-env VAR`: the key goes to the server from VAR, never to a
    file; the API model gets FastChat's system message."""
    from tunebench.evaluate.mt_bench import cli as mt_bench

    monkeypatch.setenv("ANSWERER_KEY", "sk-answerer-secret-91")
    standin = StandInJudge()
    server, url = standin.serve()
    try:
        questions = write_sample_questions(tmp_path / "questions")
        out = tmp_path / "out"
        args = ["answers", "--model", f"{url}#gpt-4o-mini", "--api-key-env", "ANSWERER_KEY"]
        args += ["--questions-dir", str(questions), "--out", str(out), "--first-n", "2"]
        assert mt_bench.main(args) == 0
        assert standin.auth == {"Bearer sk-answerer-secret-91"}
        assert {b["messages"][0]["content"] for b in standin.bodies} == {"You are a helpful assistant."}
        assert_fastchat_answers(out / "model_answer" / "gpt-4o-mini.jsonl", "gpt-4o-mini", [1, 2])
        assert not any(b"sk-answerer-secret-91" in f.read_bytes() for f in out.rglob("*") if f.is_file())
    finally:
        server.shutdown()
        server.server_close()
