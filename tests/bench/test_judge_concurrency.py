"""`python -m bench.judge_concurrency` end to end against its local fixed-delay endpoint: both settings
judge every game through the real judge code, and the result lands through bench.common like every other
benchmark's. No timing is asserted."""

from __future__ import annotations

import json


def test_judge_concurrency_writes_its_result_like_the_other_benchmarks(tmp_path):
    from bench import judge_concurrency

    judge_concurrency.main(["--questions", "2", "--delay-s", "0", "--results-dir", str(tmp_path)])
    written = json.loads((tmp_path / "judge_concurrency.json").read_text())
    assert (
        written["benchmark"] == "judge_concurrency" and written["calls"] == 8
    )  # 2 questions x 2 turns x 2 orders
    assert written["command"].startswith("python") and written["machine"]
    assert "MT-Bench judging wall time, concurrency 16 vs 1" in (tmp_path / "summary.md").read_text()
