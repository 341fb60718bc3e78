"""Bad data and paths: one clear line on stderr and exit status 2, never a traceback; `--help` whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.evaluate.sql.samples import make_spider_dir, scc_rows
from tunebench.evaluate.sql.cli import main

MODEL = ["--model", "org/some-model"]  # a hub id: parsed, never loaded (the data fail first)


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "\x1b[" not in err and "Traceback" not in err
    return lines[0]


@pytest.fixture
def spider(tmp_path):
    return make_spider_dir(tmp_path / "spider")


def test_wrong_source_folder(capsys, tmp_path):
    argv = [*MODEL, "--out", str(tmp_path / "o"), "--dataset", "spider", "--source", str(tmp_path / "nope")]
    assert "no such folder" in _one_line_error(capsys, argv)


def test_the_database_folder_given_by_mistake(capsys, spider, tmp_path):
    argv = [*MODEL, "--out", str(tmp_path / "o"), "--dataset", "spider", "--source", str(spider / "database")]
    assert "looks like the database/ folder itself" in _one_line_error(capsys, argv)


def test_unknown_db_id_and_bad_rows(capsys, spider, tmp_path):
    questions = spider / "q.json"
    questions.write_text(
        json.dumps([{"db_id": "pets_1", "question": "q?", "query": "SELECT 1"}, {"db_id": "x"}])
    )
    argv = [*MODEL, "--out", str(tmp_path / "o"), "--dataset", "spider", "--source", str(spider)]
    line = _one_line_error(capsys, [*argv, "--questions", str(questions)])
    assert line.endswith("q.json, row 2, field 'question': missing")
    questions.write_text(json.dumps([{"db_id": "nowhere_db", "question": "q?", "query": "SELECT 1"}]))
    line = _one_line_error(capsys, [*argv, "--questions", str(questions)])
    assert "row 1, field 'db_id': unknown database 'nowhere_db'" in line
    questions.write_text('[{"db_id": "pets_1",\n "question": }]')
    assert "q.json: line 2: not valid JSON" in _one_line_error(capsys, [*argv, "--questions", str(questions)])


def test_sql_create_context_file_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    source = tmp_path / "scc.jsonl"
    rows = scc_rows()[:4]
    rows[3]["context"] = "SELECT * FROM head"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = [*MODEL, "--out", str(tmp_path / "o"), "--dataset", "sql-create-context", "--source", str(source)]
    line = _one_line_error(capsys, argv)
    assert "scc.jsonl, row 4, field 'context': not a CREATE TABLE statement" in line
    source.write_text(json.dumps(rows[0]) + "\nnot json\n")
    assert "scc.jsonl, row 2: not valid JSON" in _one_line_error(capsys, argv)
    missing = [*argv[:-1], str(tmp_path / "missing.jsonl")]
    assert "missing.jsonl: no such file" in _one_line_error(capsys, missing)
    folder = [*argv[:-1], str(tmp_path)]
    assert "a folder: give the data file itself" in _one_line_error(capsys, folder)


def test_unknown_model_folder(capsys, tmp_path):
    line = _one_line_error(capsys, ["--model", "models/no-such-run/merged", "--out", str(tmp_path)])
    assert "no such folder" in line


def test_help_shows_the_whole_description():
    proc = subprocess.run(
        [sys.executable, "-m", "tunebench.evaluate.sql", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "http://host:port/v1#served-name" in proc.stdout and "baseline/predictions.jsonl" in proc.stdout
