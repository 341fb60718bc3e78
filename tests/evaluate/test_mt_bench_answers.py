"""MT-Bench answers: from a real `transformers serve` of the fine-tuned tiny model and in-process,
in FastChat's format, in the model's own training format (ChatML), resumable."""

from __future__ import annotations

import json

import pytest

from tunebench.chat_template import CHATML_TEMPLATE
from tunebench.evaluate.mt_bench import cli as mt_bench
from tunebench.evaluate.mt_bench.answers import ModelSource, generate_answers, resolve_model
from tunebench.evaluate.mt_bench.data import TEMPERATURE_CONFIG, load_answers, read_jsonl
from tunebench.evaluate.mt_bench.sample import sample_questions, write_sample_bench

from .test_mt_bench_judge import StandInJudge

pytestmark = pytest.mark.slow


def assert_fastchat_answers(path, model_id: str, question_ids: list[int]) -> None:
    rows = read_jsonl(path)
    assert [r["question_id"] for r in rows] == sorted(question_ids)  # sorted, one line each
    for r in rows:
        assert set(r) == {"question_id", "answer_id", "model_id", "choices", "tstamp"}
        assert (
            r["model_id"] == model_id and isinstance(r["answer_id"], str) and isinstance(r["tstamp"], float)
        )
        assert len(r["choices"]) == 1 and r["choices"][0]["index"] == 0
        turns = r["choices"][0]["turns"]
        assert len(turns) == 2 and all(isinstance(t, str) for t in turns)


def test_answers_from_a_real_transformers_serve(tiny_server, tmp_path):
    bench = write_sample_bench(tmp_path / "bench")
    out = tmp_path / "out"
    spec = f"{tiny_server.base_url}#{tiny_server.model}"  # URL#served-name
    args = [
        "answers",
        "--model",
        spec,
        "--model-id",
        "tiny-served",
        "--out",
        str(out),
        "--bench-dir",
        str(bench),
        "--first-n",
        "3",
        "--max-new-tokens",
        "32",
        "--concurrency",
        "2",
    ]
    assert mt_bench.main(args) == 0
    path = out / "model_answer" / "tiny-served.jsonl"
    assert_fastchat_answers(path, "tiny-served", [1, 2, 3])
    first = load_answers(path)

    # Resumable: a question lost from the file is the only one answered again.
    rows = read_jsonl(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    args[args.index("--first-n") + 1] = "4"
    assert mt_bench.main(args) == 0
    again = load_answers(path)
    assert sorted(again) == [1, 2, 3, 4]
    assert again[1]["answer_id"] == first[1]["answer_id"] and again[2]["answer_id"] == first[2]["answer_id"]
    assert again[3]["answer_id"] != first[3]["answer_id"]
    meta = json.loads((out / "answer_meta" / "tiny-served.json").read_text())
    assert (
        meta["kind"] == "endpoint" and meta["last_run"]["written"] == 2 and meta["last_run"]["skipped"] == 2
    )


def test_answers_in_process_in_the_training_format(trained_run, tmp_path):
    from fastchat.model import get_conversation_template

    from tunebench.generation import HFGenerator

    gen = HFGenerator(trained_run.merged)
    assert gen.tokenizer.chat_template == CHATML_TEMPLATE  # the template the model was trained with
    rendered: list[tuple[list[dict], str]] = []
    render = gen.render
    gen.render = lambda messages: rendered.append((messages, render(messages))) or rendered[-1][1]

    source = resolve_model(str(trained_run.merged), tmp_path / "model_answer")
    assert source.kind == "local" and source.model_id == trained_run.root.name
    questions = sample_questions()[:3]
    stats = generate_answers(questions, source, tmp_path / "model_answer", max_new_tokens=32, generator=gen)
    assert stats.written == 3 and stats.failed == 0
    path = tmp_path / "model_answer" / f"{source.model_id}.jsonl"
    assert_fastchat_answers(path, source.model_id, [1, 2, 3])

    # Turn 2 is prompted in ChatML with the model's own first answer, exactly as in training.
    answers = load_answers(path)
    q = questions[2]
    a1 = answers[q["question_id"]]["choices"][0]["turns"][0]
    expected = (
        f"<|im_start|>user\n{q['turns'][0]}<|im_end|>\n<|im_start|>assistant\n{a1}<|im_end|>\n"
        f"<|im_start|>user\n{q['turns'][1]}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert expected in [text for _, text in rendered]
    # What the seed did: FastChat picks a template by the model's name, which is not ChatML here.
    conv = get_conversation_template(source.model_id)
    conv.append_message(conv.roles[0], q["turns"][0])
    conv.append_message(conv.roles[1], None)
    assert "<|im_start|>" not in conv.get_prompt()

    # A rerun finds everything on disk and generates nothing.
    again = generate_answers(questions, source, tmp_path / "model_answer", max_new_tokens=32, generator=gen)
    assert (again.written, again.skipped) == (0, 3)


def test_endpoint_answers_use_fastchat_temperatures_and_turns(tmp_path):
    """Each category's temperature, the token limit and the two-turn conversation, as sent."""
    standin = StandInJudge()
    server, url = standin.serve()
    try:
        out = tmp_path / "model_answer"
        src = ModelSource("endpoint", url, "remote", "served-name")
        stats = generate_answers(sample_questions(), src, out, concurrency=4, progress=False)
        assert stats.written == 8
        by_question = {}
        for body in standin.bodies:
            by_question.setdefault(body["messages"][0]["content"], []).append(body)
        for q in sample_questions():
            first, second = sorted(by_question[q["turns"][0]], key=lambda b: len(b["messages"]))
            assert first["temperature"] == second["temperature"] == TEMPERATURE_CONFIG[q["category"]]
            assert first["max_tokens"] == 1024 and first["model"] == "served-name"
            assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
            assert second["messages"][2]["content"] == q["turns"][1]
        assert_fastchat_answers(out / "remote.jsonl", "remote", list(range(1, 9)))
    finally:
        server.shutdown()
        server.server_close()


def test_smoke_chain_on_the_tiny_model(tiny_server, embedded, tmp_path):
    """`make eval-mt-bench-smoke`'s chain: the served fine-tune answers and judges, the base answers
    in-process; whatever the tiny judge writes is recorded, and the results say SMOKE RUN."""
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
    (model,) = res["models"]
    m = res["models"][model]
    assert m["win"] + m["loss"] + m["tie"] + m["errors"] == 6
