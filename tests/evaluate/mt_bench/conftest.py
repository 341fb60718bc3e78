"""Fixtures for the MT-Bench judging tests: the stand-in judge server and a run folder."""

from __future__ import annotations

import pytest

from tests.evaluate.mt_bench.judge_standin import StandInJudge, write_answers
from tunebench.evaluate.mt_bench import write_sample_questions


@pytest.fixture
def standin():
    judge = StandInJudge()
    server, url = judge.serve()
    judge.url = url
    yield judge
    server.shutdown()
    server.server_close()


@pytest.fixture
def run_dir(tmp_path):
    questions = write_sample_questions(tmp_path / "questions", reference_judges=("standin",))
    out = tmp_path / "out"
    write_answers(out, "tuned", 0)
    write_answers(out, "base", 1)
    return questions, out
