"""Fixtures for the MT-Bench judging tests: the stand-in judge server and a run folder."""

from __future__ import annotations

import pytest

from tests.evaluate.judge_standin import StandInJudge, write_answers
from tunebench.evaluate.mt_bench.sample import write_sample_bench


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
    bench = write_sample_bench(tmp_path / "bench", reference_judges=("standin",))
    out = tmp_path / "out"
    write_answers(out, "tuned", 0)
    write_answers(out, "base", 1)
    return bench, out
