"""`python -m tunebench.serve.ask`: one question from the command line, as a user runs it, with the
model named by one spec: a server URL (a canned OpenAI-format server; the real `transformers serve`
of the model fine-tuned in this session) and a model folder loaded in process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import HANG_S
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.chat import GenerationSettings, open_chat_model
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql.execute import execute_readonly
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages

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
        timeout=HANG_S,
        env=env,
    )


def test_ask_a_sample_database_by_name(server, embedded):
    proc = ask(
        "teachers of math", "--db", "school", "--model", server.url, data_root=embedded.data_dir.parent
    )
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
    proc = ask("drop it", "--db", str(db), "--model", server.url, "--quiet")
    assert proc.returncode == 1
    assert proc.stdout.strip() == "DROP TABLE teachers"
    assert "read-only" in proc.stderr and "not authorized" in proc.stderr and "Traceback" not in proc.stderr
    schema_file = tmp_path / "schema.sql"
    schema_file.write_text("CREATE TABLE teachers (name TEXT, subject TEXT);")
    proc = ask("teachers of math", "--schema", f"@{schema_file}", "--model", server.url, "--quiet")
    # the SQL runs on an empty database built from the schema: its header, no rows
    assert proc.returncode == 0 and proc.stdout.splitlines() == [ANSWERS["teachers of math"], "name", "----"]
    assert "0 rows" in proc.stderr and "empty database built from the pasted schema" in proc.stderr
    assert server.requests[-1]["body"]["messages"] == sql_messages(
        schema_file.read_text(), "teachers of math"
    )
    proc = ask("q", "--db", "no-such-db", "--model", server.url, data_root=embedded.data_dir.parent)
    assert proc.returncode == 2 and "unknown sample database 'no-such-db'" in proc.stderr
    proc = ask("q", "--schema", "this is not sql", "--model", server.url)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert 'only CREATE TABLE statements, not "this is not sql"' in proc.stderr
    proc = ask("q", "--schema", "CREATE TABLE t (a INT);", "--model", str(tmp_path / "no-such-model"))
    assert proc.returncode == 2 and "no such folder" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("where", ["folder", "transformers-serve"])
def test_ask_the_fine_tuned_model(where, trained_run, tiny_server, embedded):
    """The same spec forms as every CLI: the merged folder (in process) and a local server URL."""
    samples = SampleDatabases.load(embedded.data_dir)
    question = "How many students are there?"
    spec = str(trained_run.merged) if where == "folder" else f"{tiny_server.base_url}#{tiny_server.model}"
    reference = open_chat_model(trained_run.merged, batch_size=1)  # greedy: the SQL any route must give
    settings = GenerationSettings(max_new_tokens=AppConfig.max_new_tokens)
    expected = extract_sql(reference.complete(sql_messages(samples.schema("school"), question), settings))
    db = samples.path("school")
    proc = ask(question, "--db", str(db), "--model", spec, "--quiet")
    assert proc.stdout.splitlines()[0] == expected, proc.stderr
    result = execute_readonly(db, expected)
    if result.ok:
        assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 3 + len(result.rows)
    else:  # a weak model may write bad SQL: then the CLI says why, without a traceback
        assert proc.returncode == 1 and "error:" in proc.stderr and "Traceback" not in proc.stderr
