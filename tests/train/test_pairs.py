"""Execution-feedback pairs: candidates run read-only against the question's real SQLite database; a
chosen answer returns the gold rows, a rejected one fails or returns other rows."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HANG_S
from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import read_jsonl
from tunebench.sql.sandbox import SqlSandbox
from tunebench.train.pairs import judge, load_questions, pair_question

REPO = Path(__file__).resolve().parents[2]


def test_judge_is_strict_about_matches_and_leaves_column_swaps_out():
    assert judge([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], ordered=False) == "match"
    assert judge([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], ordered=True) == "mismatch"
    assert judge([(1, "a")], [("a", 1)], ordered=False) == "ambiguous"  # the evaluator may count it
    # Floats as evaluation's `strict` metric reads them (10 significant digits), not 6.
    assert judge([(1.00000000001,)], [(1.0,)], ordered=False) == "match"
    assert judge([(1.0000001,)], [(1.0,)], ordered=False) == "mismatch"
    assert judge([(1,)], [(1,), (1,)], ordered=False) == "mismatch"
    assert judge([(1, 2), (3, 4)], [(2, 1), (3, 4)], ordered=False) == "mismatch"  # no column order fits
    assert judge([], [], ordered=False) == "match"


class RecordingSandbox(SqlSandbox):
    """The real sandbox, noting every statement it is given."""

    def __init__(self):
        super().__init__()
        self.statements: list[str] = []

    def execute(self, db_path, sql, **kwargs):
        self.statements.append(sql)
        return super().execute(db_path, sql, **kwargs)


def _big_question(tmp_path, rows: int = 1500) -> dict:
    db = tmp_path / "big.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (a INTEGER)")
    con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    con.commit()
    con.close()
    return {
        "schema": "CREATE TABLE t (a INTEGER)",
        "question": "Every a?",
        "query": "SELECT a FROM t",
        "db": str(db),
        "line": 1,
    }


def test_a_gold_over_a_thousand_rows_is_compared_whole_and_never_paired_with_its_equal(tmp_path):
    """Issue 25, item 7: a gold whose result passed the old 1,000-row cap made every candidate an
    "error", and the gold fallback then paired the gold against its own text."""
    q = _big_question(tmp_path)
    same, equal, subset = q["query"], "SELECT a FROM t WHERE a >= 0", "SELECT a FROM t WHERE a < 1499"
    with RecordingSandbox() as sandbox:
        pairs, outcomes, note = pair_question(
            q, [same, equal, subset], sandbox, pairs_per_question=3, gold_fallback=True
        )
    assert outcomes == {"match": 2, "mismatch": 1}
    assert [p["rejected"][0]["content"] for p in pairs] == [subset]
    assert all(p["chosen"][0]["content"] in (same, equal) for p in pairs) and note == "paired"
    with RecordingSandbox() as sandbox:
        pairs, outcomes, note = pair_question(
            q, [same, equal], sandbox, pairs_per_question=3, gold_fallback=True
        )
    assert pairs == [] and note == "all_correct"


def test_the_gold_runs_in_the_sandbox_too(tmp_path):
    """Issue 23, item 10: pair building ran the gold in its own process; every statement now goes
    through the sandbox."""
    q = _big_question(tmp_path, rows=3)
    with RecordingSandbox() as sandbox:
        pair_question(q, ["SELECT 1"], sandbox, pairs_per_question=1, gold_fallback=True)
    assert sandbox.statements == [q["query"], "SELECT 1"]


def _question(embedded):
    questions = load_questions(embedded.data_dir / "train.jsonl", limit=None)
    return next(q for q in questions if q["query"].upper().startswith("SELECT COUNT(*)"))


def test_a_matching_sample_is_chosen_and_a_failing_one_rejected(embedded):
    q = _question(embedded)
    table = q["query"].split("FROM", 1)[1].split()[0]
    same = q["query"].replace("COUNT(*)", "count(*)")
    candidates = ["SELECT nonsense FROM nowhere", same, f"SELECT COUNT(*) + 1 FROM {table}", "", same]
    with SqlSandbox() as sandbox:
        pairs, outcomes, note = pair_question(
            q, candidates, sandbox, pairs_per_question=3, gold_fallback=True
        )
    assert note == "paired" and outcomes == {"error": 1, "match": 2, "mismatch": 1, "empty": 1}
    # one distinct chosen answer, so one pair (the duplicate adds nothing), rejected = the first failure
    assert len(pairs) == 1 and pairs[0]["chosen"][0]["content"] == same
    assert pairs[0]["rejected"] == [{"role": "assistant", "content": "SELECT nonsense FROM nowhere"}]
    assert pairs[0]["chosen_source"] == "sample" and pairs[0]["rejected_outcome"] == "error"
    assert pairs[0]["prompt"][-1] == {"role": "user", "content": q["question"].strip()}
    with SqlSandbox() as sandbox:
        right, _, note = pair_question(q, [same, same], sandbox, pairs_per_question=1, gold_fallback=True)
        wrong, _, _ = pair_question(q, ["SELECT 1"], sandbox, pairs_per_question=1, gold_fallback=False)
        fallback, _, _ = pair_question(q, ["SELECT 1"], sandbox, pairs_per_question=1, gold_fallback=True)
    assert right == [] and note == "all_correct" and wrong == []
    assert (
        fallback[0]["chosen"][0]["content"] == q["query"].strip() and fallback[0]["chosen_source"] == "gold"
    )


def test_skip_leaves_the_first_questions_out_as_a_dev_split(embedded):
    path = embedded.data_dir / "train.jsonl"
    every = [q["id"] for q in load_questions(path, limit=None)]
    assert [q["id"] for q in load_questions(path, limit=5, skip=3)] == every[3:8]
    assert [q["id"] for q in load_questions(path, limit=None, skip=len(every) - 2)] == every[-2:]
    with pytest.raises(DataFormatError, match="no questions"):
        load_questions(path, limit=None, skip=len(every))


def test_a_question_without_a_database_is_one_clear_error(tmp_path):
    bad = tmp_path / "train.jsonl"
    bad.write_text(
        json.dumps({"schema": "CREATE TABLE t (a INT);", "question": "q", "query": "SELECT a FROM t"}) + "\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunebench.train.pairs",
            "--model",
            str(tmp_path),
            "--data",
            str(bad),
            "--out",
            str(tmp_path / "p.jsonl"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}, row 1, field 'db_path': missing or empty" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_pairs_cli_samples_executes_and_writes_pairs_and_stats(trained_run, embedded, tmp_path):
    out = tmp_path / "pairs" / "tiny.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunebench.train.pairs",
            "--model",
            str(trained_run.merged),
            "--data",
            str(embedded.data_dir / "train.jsonl"),
            "--out",
            str(out),
            "--limit",
            "24",
            "--k",
            "3",
            "--temperature",
            "0.8",
            "--max_new_tokens",
            "64",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((out.parent / "tiny.stats.json").read_text())
    pairs = read_jsonl(out)
    assert stats["questions"] == 24 and stats["candidates"] == 72 and stats["pairs"] == len(pairs) > 0
    assert sum(stats["candidate_outcomes"].values()) == 72
    questions = {q["id"]: q for q in load_questions(embedded.data_dir / "train.jsonl", limit=24)}
    for pair in pairs:  # checked again here, straight through sqlite3
        q = questions[pair["id"]]
        con = sqlite3.connect(f"file:{q['db']}?mode=ro", uri=True)
        gold = sorted(map(repr, con.execute(q["query"]).fetchall()))
        chosen = sorted(map(repr, con.execute(pair["chosen"][0]["content"]).fetchall()))
        assert chosen == gold
        try:
            rejected = sorted(map(repr, con.execute(pair["rejected"][0]["content"]).fetchall()))
        except sqlite3.Error:
            rejected = None
        assert rejected != gold
    # the file is what `dataset_format: preference` reads
    from tunebench.train.preference_formats import load_preference_rows

    rows, counts = load_preference_rows(str(out))
    assert len(rows) == len(pairs) and counts.ties == 0
