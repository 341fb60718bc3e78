"""`python -m bench.generation_speed` end to end on the tiny base: one model opened through tunebench.chat,
both modes timed, the same answers, a results file with its summary row. No timing is asserted."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def generation_speed():
    from bench import generation_speed

    return generation_speed


def test_generation_speed_writes_a_comparable_result(generation_speed, embedded, tmp_path):
    result = generation_speed.main(
        ["--model", str(embedded.base_dir), "--data-dir", str(embedded.data_dir), "--n", "6",
         "--batch-size", "4", "--max-new-tokens", "8", "--rounds", "1", "--results-dir", str(tmp_path)]
    )  # fmt: skip
    assert result["questions"] == 6 and result["identical_predictions"] == 6
    assert result["batched_examples_per_s"] > 0 and result["one_at_a_time_examples_per_s"] > 0
    written = json.loads((tmp_path / "generation_speed.json").read_text())
    assert written["benchmark"] == "generation_speed" and written["device"] == "cpu"
    assert "generation, batched (4) vs one at a time" in (tmp_path / "summary.md").read_text()


def test_generation_speed_refuses_a_server_before_any_request(generation_speed, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        generation_speed.main(["--model", "http://127.0.0.1:9/v1#m", "--data-dir", str(tmp_path / "none")])
    assert exit_.value.code == 2 and "give a model folder or hub id" in capsys.readouterr().err
