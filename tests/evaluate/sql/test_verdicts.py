"""Verdicts that a hostile tester found wrong (issue 25, items 2-4): identical SQL scored wrong, a
database value that is not UTF-8, and results compared only up to the row cap."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.evaluate.sql.test_score_inputs import score_argv
from tunebench.evaluate.sql.cli import main

ROWS = 12_000  # more than the old 10,000-row cap


@pytest.fixture
def spider(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    root = tmp_path / "spider"
    (root / "database" / "shop").mkdir(parents=True)
    con = sqlite3.connect(root / "database" / "shop" / "shop.sqlite")
    con.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, note TEXT)")
    con.executemany("INSERT INTO item VALUES (?, ?, ?)", [(i, f"item {i}", "plain") for i in range(ROWS)])
    con.execute("UPDATE item SET note = 'a;b' WHERE id = 7")
    # A value written as bytes that are not UTF-8 (a Latin-1 "café"), as some Spider databases hold.
    con.execute("UPDATE item SET name = CAST(X'636166E9' AS TEXT) WHERE id = 3")
    con.commit()
    con.close()
    questions = [
        ("Which item has the note a;b?", "SELECT id FROM item WHERE note = 'a;b'"),
        ("What is item 3 called?", "SELECT name FROM item WHERE id = 3"),
        ("Every item id?", "SELECT id FROM item"),
        ("Every item name?", "SELECT name FROM item ORDER BY id"),
    ]
    dev = [{"db_id": "shop", "question": q, "query": sql} for q, sql in questions]
    (root / "dev.json").write_text(json.dumps(dev))
    return root


def _score(spider, tmp_path, name: str, predictions: list[str], *extra: str) -> list[dict]:
    preds = tmp_path / f"{name}.txt"
    preds.write_text("\n".join(predictions) + "\n")
    out = tmp_path / name
    assert main(score_argv(spider, preds, out, *extra)) == 0
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def _golds(spider) -> list[str]:
    return [q["query"] for q in json.loads((spider / "dev.json").read_text())]


def test_every_gold_scores_its_own_text(spider, tmp_path):
    """Item 2: `'a;b'` cut the statement at the `;`; item 3: the non-UTF-8 value made the gold fail."""
    records = _score(spider, tmp_path, "golds", _golds(spider))
    assert [r["exec_outcome"] for r in records] == ["match"] * 4
    assert all(r["metrics"]["strict"]["match"] for r in records)
    assert records[1]["gold_result"]["rows"] == [["caf"]]  # the bad byte dropped, as the official reads it
    # Item 5: the report says what the headline is and gives the official single-database decision beside.
    report = (tmp_path / "golds" / "report.md").read_text()
    assert "stricter than the official script on the question's own database alone" in report
    assert "`spider`, one database" in report
    summary = json.loads((tmp_path / "golds" / "summary.json").read_text())["models"]["golds"]
    assert summary["single_db_accuracy"] == summary["exec_accuracy"] == 1.0


def test_whole_results_are_compared(spider, tmp_path):
    """Item 4: with both results at the old 10,000-row cap, a subset or a duplicate passed."""
    golds = _golds(spider)
    subset = "SELECT id FROM item WHERE id < 11999"
    duplicated = "SELECT name FROM item UNION ALL SELECT name FROM item ORDER BY 1"
    records = _score(spider, tmp_path, "wrong", [golds[0], golds[1], subset, duplicated])
    assert [r["exec_outcome"] for r in records] == ["match", "match", "mismatch", "mismatch"]
    assert (
        records[2]["gold_result"]["row_count"] == ROWS and records[2]["pred_result"]["row_count"] == ROWS - 1
    )


def test_a_row_cap_both_reach_is_undecided_not_a_match(spider, tmp_path, capsys):
    golds = _golds(spider)
    subset = "SELECT id FROM item WHERE id < 11999"
    records = _score(spider, tmp_path, "capped", [golds[0], golds[1], subset, golds[3]], "--max_rows", "1000")
    assert [r["exec_outcome"] for r in records] == ["match", "match", "undecided", "undecided"]
    summary = json.loads((tmp_path / "capped" / "summary.json").read_text())["models"]["capped"]
    assert summary["undecided"] == 2 and summary["n_scored"] == 2 and summary["exec_accuracy"] == 1.0
    assert "2 undecided" in (tmp_path / "capped" / "report.md").read_text()
