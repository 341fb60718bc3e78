"""`python -m tunebench.evaluate.sql` end to end: base vs fine-tuned folders on the embedded split
(outputs in the run's eval/sql, resumable), a Spider-format folder through a real OpenAI-compatible
server named by its URL, and a sql-create-context file through `datasets.load_dataset`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from tests.conftest import HANG_S, REPO
from tests.evaluate.sql.samples import make_spider_dir, scc_rows
from tunebench.evaluate.sql.cli import main
from tunebench.evaluate.sql.generate import describe_model
from tunebench.sql.compare import results_equal

pytestmark = pytest.mark.slow
LIMIT = 30


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    """The command users type: `python -m tunebench.evaluate.sql …`."""
    cmd = [sys.executable, "-m", "tunebench.evaluate.sql", *argv]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_consistent(summary_model: dict, records: list[dict]) -> None:
    """summary.json says what predictions.jsonl holds; matches really match."""
    scored = [r for r in records if r["exec_outcome"] != "gold_error"]
    assert summary_model["n"] == len(records)
    assert summary_model["exec_accuracy"] == round(sum(r["exec_match"] for r in scored) / len(scored), 4)
    assert summary_model["exact_match"] == round(sum(r["exact_match"] for r in records) / len(records), 4)
    assert summary_model["outcomes"] == dict(sorted(Counter(r["exec_outcome"] for r in records).items()))
    for r in records:
        strict = r["metrics"]["strict"]["match"]
        if strict and r["pred_result"]["row_count"] <= 20:
            assert results_equal(
                r["gold_result"]["rows"], r["pred_result"]["rows"], r["order_matters"], float_digits=10
            )
        # A match on the whole test suite is a match on the question's own database.
        assert not r["exec_match"] or r["single_db_match"]["spider"]
        assert not strict or r["single_db_match"]["strict"]
        if r["exact_match"]:
            assert r["exec_match"], r  # the same query must return the same rows


@pytest.fixture(scope="module")
def base_vs_finetuned(trained_run, embedded):
    argv = [
        "--model", str(trained_run.merged),
        "--baseline", str(embedded.base_dir),
        "--data-dir", str(embedded.data_dir),
        "--limit", str(LIMIT),
        "--max-new-tokens", "48",
    ]  # fmt: skip
    proc = run_cli(*argv)
    assert proc.stdout.splitlines()[-1].startswith("execution accuracy: base 0.0%")
    return argv, trained_run.eval_sql


def test_base_vs_finetuned_outputs(base_vs_finetuned, capsys):
    _, out = base_vs_finetuned
    for name in (
        "predictions.jsonl",
        "summary.json",
        "report.md",
        "accuracy_by_difficulty.png",
        "baseline/predictions.jsonl",
    ):
        assert (out / name).is_file(), name
    assert (out / "accuracy_by_difficulty.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["base", "fine-tuned"]
    base, tuned = summary["models"]["base"], summary["models"]["fine-tuned"]
    assert base["random_weights"] is True and base["exec_accuracy"] == 0.0
    assert tuned["random_weights"] is False and "random-init tiny base" in tuned["description"]
    assert summary["exec_accuracy_delta_points"] == pytest.approx(100 * tuned["exec_accuracy"], abs=0.01)
    assert summary["generation"]["max_new_tokens"] == 48 and summary["generation"]["temperature"] == 0.0
    assert summary["dataset"]["databases_per_question"] == 3 and tuned["metric"] == "spider"
    lo, hi = tuned["exec_accuracy_ci95"]
    assert lo <= tuned["exec_accuracy"] <= hi
    assert set(tuned["errors"]) == {
        "does not parse",
        "unknown table or column",
        "runtime error",
        "timeout",
        "wrong result",
    }
    _check_consistent(tuned, _lines(out / "predictions.jsonl"))
    _check_consistent(base, _lines(out / "baseline" / "predictions.jsonl"))
    assert set(tuned["by_difficulty"]) <= {"easy", "medium", "hard"} and "by_seen_combo" in tuned
    record = _lines(out / "predictions.jsonl")[0]
    for key in (
        "question",
        "gold",
        "prediction",
        "raw_output",
        "gold_result",
        "pred_result",
        "exec_match",
        "exact_match",
        "raw_match",
    ):
        assert key in record
    report = (out / "report.md").read_text()
    assert "random weights" in report and "| base |" in report and "| fine-tuned |" in report
    assert "![accuracy_by_difficulty.png](accuracy_by_difficulty.png)" in report
    # the paired difference: the same questions, so only-one-right counts add up to the difference
    paired = summary["paired"]
    assert (paired["first"], paired["second"], paired["n"]) == ("base", "fine-tuned", tuned["n_scored"])
    assert paired["delta"] == pytest.approx(tuned["exec_accuracy"] - base["exec_accuracy"], abs=1e-3)
    assert paired["only_second"] - paired["only_first"] == round(paired["delta"] * paired["n"])
    lo, hi = paired["delta_ci95"]
    assert lo <= paired["delta"] <= hi
    assert f"{paired['only_second']} questions only fine-tuned gets right" in report


def test_across_tables_several_evaluations_with_their_spread(base_vs_finetuned, tmp_path, capsys):
    import shutil

    _, out = base_vs_finetuned
    runs = [shutil.copytree(out, tmp_path / name) for name in ("seed0", "seed1")]
    summary = json.loads((runs[1] / "summary.json").read_text())
    summary["models"]["fine-tuned"]["exec_accuracy"] += 0.1  # another seed, another figure
    summary["paired"]["delta"] += 0.1
    tuned_groups = summary["models"]["fine-tuned"]["by_difficulty"]
    group = sorted(tuned_groups)[0]
    tuned_groups[group]["exec_accuracy"] = 0.5  # and this seed's first difficulty group 0.5
    (runs[1] / "summary.json").write_text(json.dumps(summary))
    table = tmp_path / "table.md"
    assert main(["across", *map(str, runs), "--out", str(table)]) == 0
    printed = capsys.readouterr().out
    assert printed == table.read_text()
    lines = printed.splitlines()
    assert lines[0].startswith("| run | base | 95% CI | fine-tuned |") and lines[5] == ""
    assert lines[2].startswith("| seed0 |") and lines[3].startswith("| seed1 |")
    # the breakdown: a row per difficulty and per seen / unseen combination, each run then mean ± sd
    assert lines[6].startswith("| group | questions | base, each run (mean ± sd) | fine-tuned, each run")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[8:]}
    first = json.loads((out / "summary.json").read_text())["models"]["fine-tuned"]["by_difficulty"][group]
    assert set(rows) == set(tuned_groups) | {
        f"{g} combinations" for g in summary["models"]["fine-tuned"]["by_seen_combo"]
    }
    before = 100 * first["exec_accuracy"]
    mean = (before + 50) / 2
    assert f"{before:.1f} / 50.0% ({mean:.1f}% ± " in rows[group], rows[group]
    figures = json.loads(table.with_suffix(".json").read_text())
    assert figures["groups"][group]["fine-tuned"] == [first["exec_accuracy"], 0.5]
    tuned = json.loads((out / "summary.json").read_text())["models"]["fine-tuned"]["exec_accuracy"]
    assert figures["mean"]["fine-tuned"] == pytest.approx(tuned + 0.05)
    assert figures["sd"]["fine-tuned"] == pytest.approx(0.0707, abs=1e-3)  # sd of two values 0.1 apart
    assert lines[4].startswith("| mean ± sd over 2 |")
    assert main(["across", *map(str, runs), "--labels", "SFT", "DPO"]) == 0  # SFT vs DPO: named as such
    assert (
        capsys.readouterr().out.splitlines()[0].startswith("| run | SFT | 95% CI | DPO | 95% CI | DPO − SFT")
    )

    del summary["paired"]  # a one-model evaluation, or one written before the paired difference
    (runs[1] / "summary.json").write_text(json.dumps(summary))
    assert main(["across", *map(str, runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"error: {runs[1] / 'summary.json'}, field 'models': expected an evaluation of two models (--baseline)"
    )


def test_rerun_resumes_and_extends(base_vs_finetuned, capsys):
    argv, out = base_vs_finetuned
    before = (out / "predictions.jsonl").read_text()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"resuming: {LIMIT} of {LIMIT} examples already scored" in printed
    assert "execution accuracy: base 0.0%" in printed
    assert (out / "predictions.jsonl").read_text() == before
    # A run killed mid-write leaves a torn line: it is dropped, and more examples are appended.
    with open(out / "predictions.jsonl", "a") as f:
        f.write('{"id": "test-000')
    extended = [*argv[:-4], "--limit", str(LIMIT + 4), "--max-new-tokens", "48"]
    assert main(extended) == 0
    assert f"resuming: {LIMIT} of {LIMIT + 4}" in capsys.readouterr().out
    text = (out / "predictions.jsonl").read_text()
    assert text.startswith(before) and len(text.splitlines()) == LIMIT + 4
    # Other settings never mix into the same file: the old predictions are set aside and made again,
    # and brought back, not made again, when the settings return (the evaluators' rerun rule).
    assert main([*argv[:-1], "40"]) == 0
    printed = capsys.readouterr().out
    assert "made with other settings (generation differ): set aside in" in printed
    assert len((out / "predictions.jsonl").read_text().splitlines()) == LIMIT
    assert main(extended) == 0
    printed = capsys.readouterr().out
    assert f"brought back {LIMIT + 4} predictions made with these settings" in printed
    assert f"resuming: {LIMIT + 4} of {LIMIT + 4}" in printed
    assert (out / "predictions.jsonl").read_text() == text


def test_spider_folder_through_a_server_url(tiny_server, tmp_path):
    root = make_spider_dir(tmp_path / "spider")
    out = tmp_path / "eval"
    url = f"{tiny_server.base_url}#{tiny_server.model}"
    proc = run_cli(
        "--model", url, "--dataset", "spider", "--source", str(root), "--out", str(out),
        "--concurrency", "2", "--max-new-tokens", "48",
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    model = summary["models"]["model"]
    assert model["backend"] == "openai-compatible server" and model["n"] == 4
    assert model["model"] == tiny_server.model and model["path"] == url
    assert summary["dataset"]["name"] == "spider-format"
    _check_consistent(model, _lines(out / "predictions.jsonl"))
    assert "spider-format" in proc.stdout.splitlines()[-1]


def test_sql_create_context_file(trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    source = tmp_path / "scc.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in scc_rows()))
    out = tmp_path / "eval"
    argv = ["--model", str(trained_run.merged), "--dataset", "sql-create-context", "--source", str(source)]
    assert main([*argv, "--all-rows", "--limit", "6", "--out", str(out), "--max-new-tokens", "32"]) == 0
    records = _lines(out / "predictions.jsonl")
    assert len(records) == 6 and all(r["exec_outcome"] != "gold_error" for r in records)
    # Each question: its own database and the two variants of its test suite.
    assert len(list((tmp_path / "data" / "sql-create-context" / "databases").glob("*.sqlite"))) == 6 * 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["name"] == "sql-create-context" and summary["models"]["fine-tuned"]["n"] == 6


def test_model_outside_a_run_gets_the_default_folder(embedded, capsys, tmp_path, monkeypatch):
    """Both evaluators' convention: models/<model id>/eval/<evaluator>/ for a model outside a run."""
    monkeypatch.setenv("TUNEBENCH_MODELS", str(tmp_path / "models"))
    argv = ["--model", str(embedded.base_dir), "--data-dir", str(embedded.data_dir), "--limit", "2"]
    assert main([*argv, "--max_new_tokens", "8"]) == 0
    assert (
        f"report: {tmp_path / 'models' / 'tiny-base' / 'eval' / 'sql' / 'report.md'}"
        in capsys.readouterr().out
    )
    assert "random weights" in describe_model(str(embedded.base_dir))["description"]
    assert main(["--model", "models/no-such-run/merged", "--data-dir", str(embedded.data_dir)]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and len(err.strip().splitlines()) == 1
