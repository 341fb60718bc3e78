"""`python -m tunebench.evaluate.sql score`: predictions made elsewhere, Spider's text format or JSONL."""

from __future__ import annotations

import json

from tests.evaluate.sql.samples import make_spider_dir
from tunebench.evaluate.sql.cli import main

# Gold of make_spider_dir's dev.json, in order, with the third one wrong (cats, not dogs) and the
# first one written with DISTINCT, which the official decision removes (count(DISTINCT name) = 3).
PREDICTIONS = [
    "SELECT count(DISTINCT name) FROM singer",
    "SELECT name FROM singer WHERE country = 'France'",
    "SELECT avg(weight) FROM pets WHERE pet_type = 'cat'",
    "SELECT pet_type, count(*) FROM pets GROUP BY pet_type ORDER BY count(*) DESC",
]


def test_score_spider_text_predictions(tmp_path, capsys):
    root = make_spider_dir(tmp_path / "spider")
    preds = tmp_path / "other_system.txt"
    preds.write_text("\n".join(f"{sql}\tconcert_singer" for sql in PREDICTIONS) + "\n")
    out = tmp_path / "scored"
    argv = [
        "score",
        "--dataset",
        "spider",
        "--source",
        str(root),
        "--predictions",
        str(preds),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("execution accuracy: other_system 75.0%")
    summary = json.loads((out / "summary.json").read_text())["models"]["other_system"]
    assert summary["exec_accuracy"] == 0.75 and summary["strict_accuracy"] == 0.75
    assert summary["errors"]["wrong result"] == 1
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["exec_match"] for r in records] == [True, True, False, True]
    assert "Predictions made elsewhere" in (out / "report.md").read_text()


def test_score_jsonl_predictions_by_id(tmp_path, capsys):
    root = make_spider_dir(tmp_path / "spider")
    preds = tmp_path / "preds.jsonl"
    rows = [{"id": f"dev-{i:05d}", "sql": sql} for i, sql in enumerate(PREDICTIONS)]
    preds.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))
    argv = ["score", "--dataset", "spider", "--source", str(root), "--predictions", str(preds)]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    assert "75.0%" in capsys.readouterr().out
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    assert main([*argv, "--out", str(tmp_path / "o2")]) == 2
    assert "no prediction for 1 questions (first: dev-00003)" in capsys.readouterr().err


def test_score_needs_one_line_per_question(tmp_path, capsys):
    root = make_spider_dir(tmp_path / "spider")
    preds = tmp_path / "short.txt"
    preds.write_text("SELECT 1\n")
    argv = [
        "score",
        "--dataset",
        "spider",
        "--source",
        str(root),
        "--predictions",
        str(preds),
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {preds}: 1 predictions for 4 questions (one SQL per line)"
