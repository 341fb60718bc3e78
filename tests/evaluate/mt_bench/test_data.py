"""MT-Bench files and FastChat's rules: constants and prompt selection compared with fschat's source,
the real files from ../shared when present, the pinned download, and clear errors for bad input."""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import http.server
import string
import threading
from pathlib import Path

import pytest

import tunebench.evaluate.mt_bench.data as data
from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import JsonlAppender
from tunebench.evaluate.mt_bench import cli as mt_bench
from tunebench.evaluate.mt_bench import matches as mm
from tunebench.evaluate.mt_bench.answers import resolve_source
from tunebench.evaluate.mt_bench.data import load_question_set
from tunebench.evaluate.mt_bench.sample import write_sample_questions
from tunebench.runs.paths import models_root


def fastchat_source(name: str) -> ast.Module:
    import fastchat

    return ast.parse((Path(fastchat.__file__).parent / "llm_judge" / name).read_text())


def module_constants(tree: ast.Module) -> dict:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
            if isinstance(value, ast.Call) and getattr(value.func, "attr", "") == "compile":
                out[name] = ast.literal_eval(value.args[0])  # a regex: its pattern text
            else:
                with contextlib.suppress(ValueError):  # not a literal: not a constant we compare
                    out[name] = ast.literal_eval(value)
    return out


def test_constants_match_fastchat_source():
    c = module_constants(fastchat_source("common.py"))
    assert c["temperature_config"] == data.TEMPERATURE_CONFIG
    assert tuple(c["NEED_REF_CATS"]) == data.NEED_REF_CATS
    assert c["API_ERROR_OUTPUT"] == data.API_ERROR_OUTPUT and c["TIE_DELTA"] == mm.TIE_DELTA
    for name in (
        "one_score_pattern",
        "one_score_pattern_backup",
        "two_score_pattern",
        "two_score_pattern_backup",
    ):
        assert c[name] == getattr(mm, name).pattern


def test_prompt_selection_matches_gen_judgment():
    """judges["default" | "math" | "default-mt" | "math-mt"] = Judge(model, judge_prompts[NAME], ...)"""
    tree = fastchat_source("gen_judgment.py")
    for func, kind in (("make_judge_pairwise", "pairwise"), ("make_judge_single", "single")):
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func)
        chosen = {
            a.targets[0].slice.value: a.value.args[1].slice.value
            for a in ast.walk(fn)
            if isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Subscript)
        }
        assert chosen == {
            "default": mm.prompt_name(kind, "writing", False),
            "math": mm.prompt_name(kind, "math", False),
            "default-mt": mm.prompt_name(kind, "stem", True),
            "math-mt": mm.prompt_name(kind, "coding", True),
        }


def test_verdict_parsing_as_fastchat():
    assert mm.parse_pair_verdict("so [[B]] wins") == "B"
    assert mm.parse_pair_verdict("[[A]] ... or [[B]]") == "A"  # FastChat checks [[A]] first
    assert mm.parse_pair_verdict("a tie: [[C]]") == "tie"
    assert mm.parse_pair_verdict("A is better") == "error"
    assert mm.parse_pair_verdict("[[7, 7.05]]", "[[rating_a,rating_b]]") == "tie"
    assert mm.parse_rating("Rating: [[8]]") == 8 and mm.parse_rating("Rating: [7.5]") == 7.5
    assert mm.parse_rating("seven out of ten") == -1
    assert [mm.game_winner(v, 2) for v in ("A", "B", "tie", "error")] == [
        "model_2",
        "model_1",
        "tie",
        "error",
    ]


def test_real_fastchat_files(shared_dir):
    if shared_dir is None or not (shared_dir / "reference" / "mt_bench").is_dir():
        pytest.skip("../shared/reference/mt_bench is not here")
    real = shared_dir / "reference" / "mt_bench"
    for rel, (_url, digest) in data.CANONICAL_FILES.items():  # the pins are these files
        assert data.sha256_of(real / rel) == digest, rel
    bench = load_question_set(real)
    assert len(bench.questions) == 80 and len(bench.prompts) == 8
    assert {q["question_id"] for q in bench.questions} == set(range(81, 161))
    refs = data.load_answers(real / "reference_answer" / "gpt-4.jsonl")
    answers = {
        m: {
            q["question_id"]: {"choices": [{"index": 0, "turns": [f"{m} says 1", f"{m} says 2"]}]}
            for q in bench.questions
        }
        for m in ("tuned", "mistral")
    }
    matches = mm.make_matches(
        "pairwise-baseline", bench.questions, ["tuned"], answers, bench.prompts, refs, "mistral"
    )
    assert len(matches) == 160  # 80 questions x 2 turns against the baseline
    math = next(m for m in matches if m.question["category"] == "math" and not m.multi_turn)
    assert math.prompt["name"] == "pair-math-v1"
    system, user = mm.render_pair(math, 1)
    ref = refs[math.question["question_id"]]["choices"][0]["turns"][0]
    assert "[The Start of Reference Answer]\n" + ref + "\n[The End of Reference Answer]" in user
    assert user.index("tuned says 1") < user.index("mistral says 1")  # game 1: A = model_1
    assert "reference answer" in system and "[[A]]" in system
    mt = next(m for m in matches if m.question["category"] == "coding" and m.multi_turn)
    assert mt.prompt["name"] == "pair-math-v1-multi-turn"
    _, user2 = mm.render_pair(mt, 2)
    assert refs[mt.question["question_id"]]["choices"][0]["turns"][1] in user2
    assert user2.index("mistral says 2") < user2.index("tuned says 2")  # game 2: the swapped order
    writing = next(m for m in matches if m.question["category"] == "writing" and not m.multi_turn)
    assert writing.prompt["name"] == "pair-v2" and writing.ref is None


def test_sample_bench_uses_fastchat_placeholders(tmp_path):
    bench = load_question_set(write_sample_questions(tmp_path, reference_judges=("j",)))
    assert len(bench.questions) == 8 and len({q["category"] for q in bench.questions}) == 8
    assert set(bench.prompts) == set(data.PAIR_PROMPTS) | set(data.SINGLE_PROMPTS)
    for p in bench.prompts.values():
        fields = {f for _, f, _, _ in string.Formatter().parse(p["prompt_template"]) if f}
        multi = p["name"].endswith("multi-turn")
        ref = {"ref_answer_1", "ref_answer_2"} if multi else {"ref_answer_1"}
        ref = ref if "math" in p["name"] else set()
        if p["type"] == "pairwise":
            answers = (
                {"answer_a_1", "answer_a_2", "answer_b_1", "answer_b_2"}
                if multi
                else {"answer_a", "answer_b"}
            )
        else:
            answers = {"answer_1", "answer_2"} if multi else {"answer"}
        questions = {"question_1", "question_2"} if multi else {"question"}
        assert fields == questions | answers | ref, p["name"]


def test_bad_rows_name_file_row_and_field(tmp_path):
    f = tmp_path / "question.jsonl"
    f.write_text(
        '{"question_id": 1, "category": "math", "turns": ["a", "b"]}\n{"question_id": 2, "turns": []}\n'
    )
    with pytest.raises(DataFormatError, match=r"question.jsonl, row 2, field 'category'"):
        data.load_questions(f)
    f.write_text('{"question_id": 1, "category": "math", "turns": "not a list"}\n')
    with pytest.raises(DataFormatError, match=r"row 1, field 'turns'"):
        data.load_questions(f)
    f.write_text('{"question_id": 1, "category": "math", "turns": ["a"]}\n{oops\n{"question_id": 3}\n')
    with pytest.raises(DataFormatError, match=r"row 2: not valid JSON"):
        data.load_questions(f)


def test_torn_last_line_is_dropped_and_healed(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text('{"question_id": 1, "choices": [{"index": 0, "turns": ["x"]}]}\n{"question_id": 2, "cho')
    assert list(data.load_answers(f)) == [1]
    with JsonlAppender(f) as out:
        out.write({"question_id": 3, "choices": [{"index": 0, "turns": ["y"]}]})
    assert list(data.load_answers(f)) == [1, 3] and f.read_text().count("\n") == 2


def test_model_specs(tmp_path):
    answers = tmp_path / "model_answer"
    answers.mkdir()
    (answers / "gpt-4.jsonl").write_text("")
    hub = resolve_source("mistralai/Mistral-7B-Instruct-v0.2", answers)
    assert (hub.kind, hub.model_id) == ("hub", "Mistral-7B-Instruct-v0.2")
    ep = resolve_source("http://127.0.0.1:8080#/models/run/merged", answers)
    assert (ep.kind, ep.spec.ref, ep.spec.served_name, ep.model_id) == (
        "server",
        "http://127.0.0.1:8080/v1",
        "/models/run/merged",
        "run",
    )
    unnamed = resolve_source("http://127.0.0.1:8080/v1", answers)
    assert unnamed.kind == "server" and unnamed.model_id == ""  # asked from the server when it answers
    assert resolve_source("gpt-4", answers).kind == "answers"
    (tmp_path / "fastchat.jsonl").write_text("")
    file = resolve_source(str(tmp_path / "fastchat.jsonl"), answers)
    assert (file.kind, file.model_id, file.answer_file) == (
        "answers",
        "fastchat",
        tmp_path / "fastchat.jsonl",
    )
    (tmp_path / "run" / "merged").mkdir(parents=True)
    (tmp_path / "run" / "manifest.json").write_text("{}")
    assert resolve_source(str(tmp_path / "run" / "merged"), answers).model_id == "run"
    # Output next to the run (models/<run>/eval/mt_bench), else models/<model id>/eval/mt_bench or --out.
    assert (
        mt_bench.out_dir_for(None, str(tmp_path / "run" / "merged")) == tmp_path / "run" / "eval" / "mt_bench"
    )
    hub_out = mt_bench.out_dir_for(None, "mistralai/Mistral-7B-Instruct-v0.2")
    assert hub_out == models_root() / "Mistral-7B-Instruct-v0.2" / "eval" / "mt_bench"
    with pytest.raises(FileNotFoundError, match="not a folder, hub id"):
        resolve_source("nothing-here", answers)


def test_pinned_download_checks_sha256(tmp_path, monkeypatch):
    """The real download code over real HTTP (a local server stands in for GitHub's raw files)."""
    src = write_sample_questions(tmp_path / "upstream", reference_judges=("gpt-4",))
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(src)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        files = {
            rel: (f"{base}/{rel}", hashlib.sha256((src / rel).read_bytes()).hexdigest())
            for rel in data.CANONICAL_FILES
        }
        monkeypatch.setattr(data, "CANONICAL_FILES", files)
        cache = data.download_questions(tmp_path / "cache")
        assert len(load_question_set(cache).questions) == 8 and len(hits) == 3
        data.download_questions(tmp_path / "cache")
        assert len(hits) == 3  # cached and verified: not fetched again
        bad = dict(files, **{"question.jsonl": (files["question.jsonl"][0], "0" * 64)})
        monkeypatch.setattr(data, "CANONICAL_FILES", bad)
        with pytest.raises(RuntimeError, match="refusing"):
            data.download_questions(tmp_path / "other-cache")
        assert not (tmp_path / "other-cache" / "question.jsonl").exists()
    finally:
        server.shutdown()
        server.server_close()
