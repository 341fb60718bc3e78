"""`score`'s inputs (issue 25, item 6): each mistake is one line on stderr and exit status 2, before any
database is built or query run; JSON Lines in a `.json` file is read as JSON; a result with no number
is no result."""

from __future__ import annotations

import json

import pytest

from tests.evaluate.sql.samples import make_spider_dir
from tests.evaluate.sql.test_score import PREDICTIONS
from tunebench.evaluate.sql.cli import main


@pytest.fixture
def spider(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))  # where suite databases would be built
    return make_spider_dir(tmp_path / "spider")


def score_argv(spider, preds, out, *extra) -> list[str]:
    return [
        "score",
        "--dataset",
        "spider",
        "--source",
        str(spider),
        "--predictions",
        str(preds),
        "--out",
        str(out),
        *extra,
    ]


def _fails_before_any_work(capsys, argv, tmp_path) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert not (tmp_path / "data" / "suites").exists(), "a test-suite database was built before the error"
    return lines[0]


def test_a_non_utf8_text_file(spider, tmp_path, capsys):
    preds = tmp_path / "preds.txt"
    preds.write_bytes(b"SELECT 1\nSELECT '\xff\xfe'\nSELECT 3\nSELECT 4\n")
    line = _fails_before_any_work(capsys, score_argv(spider, preds, tmp_path / "o"), tmp_path)
    assert line == f"error: {preds}, row 2: not UTF-8 text (byte 0xff)"


def test_json_lines_in_a_json_file_are_read_as_json(spider, tmp_path, capsys):
    preds = tmp_path / "preds.json"
    rows = [{"id": f"dev-{i:05d}", "sql": sql} for i, sql in enumerate(PREDICTIONS)]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(score_argv(spider, preds, tmp_path / "o")) == 0
    assert "execution accuracy: preds 75.0%" in capsys.readouterr().out
    preds.write_text(json.dumps(PREDICTIONS))  # a JSON list of SQL strings, in the questions' order
    assert main(score_argv(spider, preds, tmp_path / "o2")) == 0
    assert "execution accuracy: preds 75.0%" in capsys.readouterr().out


def test_a_duplicate_id(spider, tmp_path, capsys):
    preds = tmp_path / "preds.jsonl"
    rows = [{"id": f"dev-{i:05d}", "sql": sql} for i, sql in enumerate(PREDICTIONS)]
    preds.write_text("".join(json.dumps(r) + "\n" for r in [*rows, {"id": "dev-00001", "sql": "SELECT 1"}]))
    line = _fails_before_any_work(capsys, score_argv(spider, preds, tmp_path / "o"), tmp_path)
    assert line == f"error: {preds}, row 5, field 'id': duplicate id 'dev-00001' (first on row 2)"


def test_a_data_dir_that_is_not_there_is_not_built(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    preds = tmp_path / "p.txt"
    preds.write_text("SELECT 1\n")
    nowhere = tmp_path / "nowhere"
    argv = ["score", "--data_dir", str(nowhere), "--predictions", str(preds), "--out", str(tmp_path / "o")]
    line = _fails_before_any_work(capsys, argv, tmp_path)
    assert line == f"error: --data_dir {nowhere}: no such folder" and not nowhere.exists()


def test_an_unknown_split(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    preds = tmp_path / "p.txt"
    preds.write_text("SELECT 1\n")
    argv = ["score", "--split", "dev", "--predictions", str(preds), "--out", str(tmp_path / "o")]
    line = _fails_before_any_work(capsys, argv, tmp_path)
    assert line == "error: --split: 'dev' is not a split of the embedded set (test, train)"
    assert not (tmp_path / "data" / "text2sql").exists()


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--limit", "-1", "must be a whole number of at least 1, not -1"),
        ("--limit", "0", "must be a whole number of at least 1, not 0"),
        ("--timeout-s", "0", "must be more than 0, not 0"),
        ("--max_rows", "0", "must be a whole number of at least 1, not 0"),
    ],
)
def test_flags_out_of_range(spider, tmp_path, capsys, flag, value, says):
    preds = tmp_path / "p.txt"
    preds.write_text("\n".join(PREDICTIONS) + "\n")
    line = _fails_before_any_work(capsys, score_argv(spider, preds, tmp_path / "o", flag, value), tmp_path)
    assert line.startswith("error: python -m tunebench.evaluate.sql score: argument ") and line.endswith(says)


def test_an_output_folder_that_is_a_file(spider, tmp_path, capsys):
    preds = tmp_path / "p.txt"
    preds.write_text("\n".join(PREDICTIONS) + "\n")
    taken = tmp_path / "taken"
    taken.write_text("a file")
    line = _fails_before_any_work(capsys, score_argv(spider, preds, taken), tmp_path)
    assert line == f"error: --output_dir {taken}: is a file, not a folder"


def test_no_questions(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    spider = make_spider_dir(tmp_path / "spider")
    (spider / "dev.json").write_text("[]")
    preds = tmp_path / "p.txt"
    preds.write_text("")
    line = _fails_before_any_work(capsys, score_argv(spider, preds, tmp_path / "o"), tmp_path)
    assert line == f"error: {spider.resolve()}: no questions to score"


def test_no_scorable_question_is_no_number(tmp_path, capsys, monkeypatch):
    """Every gold fails: the accuracy is missing, not 0.0%."""
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    spider = make_spider_dir(tmp_path / "spider")
    broken = [{"db_id": "pets_1", "question": "?", "query": "SELECT nothing FROM nowhere"}]
    (spider / "dev.json").write_text(json.dumps(broken))
    preds = tmp_path / "p.txt"
    preds.write_text("SELECT 1\n")
    assert main(score_argv(spider, preds, tmp_path / "o")) == 2
    captured = capsys.readouterr()
    headline = captured.out.strip().splitlines()[-1]
    assert "0.0%" not in headline and "p n/a (no question could be scored: 1 gold errors" in headline
    assert (
        captured.err.strip()
        == f"error: no question could be scored for p (see {tmp_path / 'o' / 'report.md'})"
    )
