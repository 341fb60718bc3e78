"""`python -m tunebench.serve.ask`: one question from the command line, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.prompts import sql_messages
from tunebench.serve.backends import make_backend
from tunebench.serve.config import BackendConfig
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql_exec import execute_readonly
from tunebench.sql_text import extract_sql

ANSWERS = {
    "teachers of math": "SELECT name FROM teachers WHERE subject = 'math' ORDER BY name",
    "drop it": "DROP TABLE teachers",
}


@pytest.fixture(scope="module")
def server():
    with CannedOpenAIServer(ANSWERS) as srv:
        yield srv


def ask(*args: str, data_root=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if data_root is not None:
        env["TUNEBENCH_DATA"] = str(data_root)
    return subprocess.run(
        [sys.executable, "-m", "tunebench.serve.ask", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_ask_a_sample_database_by_name(server, embedded):
    proc = ask("teachers of math", "--db", "school", "--url", server.url, data_root=embedded.data_dir.parent)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ANSWERS["teachers of math"]
    gold = execute_readonly(
        SampleDatabases.load(embedded.data_dir).path("school"), ANSWERS["teachers of math"]
    )
    assert lines[1].strip() == "name" and set(lines[2]) == {"-"}
    assert [ln.strip() for ln in lines[3:]] == [r[0] for r in gold.rows] and gold.rows
    assert ANSWERS["teachers of math"] in proc.stderr  # streamed while it was written
    assert f"{len(gold.rows)} rows" in proc.stderr


def test_ask_refuses_hostile_sql_and_reports_input_errors(server, embedded, tmp_path):
    db = SampleDatabases.load(embedded.data_dir).path("school")
    proc = ask("drop it", "--db", str(db), "--url", server.url, "--quiet")
    assert proc.returncode == 1
    assert proc.stdout.strip() == "DROP TABLE teachers"
    assert "read-only" in proc.stderr and "not authorized" in proc.stderr and "Traceback" not in proc.stderr
    schema_file = tmp_path / "schema.sql"
    schema_file.write_text("CREATE TABLE teachers (name TEXT, subject TEXT);")
    proc = ask("teachers of math", "--schema", f"@{schema_file}", "--url", server.url, "--quiet")
    assert proc.returncode == 0 and proc.stdout.strip() == ANSWERS["teachers of math"]
    assert server.requests[-1]["body"]["messages"] == sql_messages(
        schema_file.read_text(), "teachers of math"
    )
    proc = ask("q", "--db", "no-such-db", "--url", server.url, data_root=embedded.data_dir.parent)
    assert proc.returncode == 2 and "unknown sample database 'no-such-db'" in proc.stderr


@pytest.mark.slow
def test_ask_the_fine_tuned_model_on_transformers_serve(tiny_server, embedded):
    samples = SampleDatabases.load(embedded.data_dir)
    question = "How many students are there?"
    expected = extract_sql(
        make_backend(BackendConfig(url=tiny_server.base_url, model=tiny_server.model)).complete(
            sql_messages(samples.schema("school"), question)
        )
    )
    db = samples.path("school")
    proc = ask(
        question, "--db", str(db), "--url", tiny_server.base_url, "--model", tiny_server.model, "--quiet"
    )
    assert proc.stdout.splitlines()[0] == expected  # greedy: the same SQL as asked directly
    result = execute_readonly(db, expected)
    if result.ok:
        assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 3 + len(result.rows)
    else:  # a weak model may write bad SQL: then the CLI says why, without a traceback
        assert proc.returncode == 1 and "error:" in proc.stderr and "Traceback" not in proc.stderr
