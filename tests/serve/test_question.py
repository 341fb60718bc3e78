"""One question end to end (`tunebench.serve.question`) through a real HTTP model server (an
OpenAI-format server whose answers the test picks, reached with `tunebench.chat` as the app reaches
vLLM, SGLang or TGI), real SQLite: the prompt sent, streaming, read-only execution on a sample
database or on an empty database built from a pasted schema, and every error case."""

from __future__ import annotations

import hashlib

import pytest

from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.chat import open_chat_model
from tunebench.chat.local_server import free_port
from tunebench.serve.config import AppConfig
from tunebench.serve.question import DONE, ERROR, GENERATING, QuestionPipeline
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql.execute import execute_readonly
from tunebench.sql.prompt import sql_messages

HOSTILE = {
    "drop it": "DROP TABLE students",
    "delete them": "DELETE FROM students",
    "rename": "UPDATE students SET name = 'x'",
    "attach": "ATTACH DATABASE '/tmp/evil.sqlite' AS evil",
    "pragma": "PRAGMA writable_schema = ON",
}
ANSWERS = {
    "names over 10": "SELECT name FROM students WHERE grade > 10 ORDER BY name",
    "all students": "SELECT * FROM students",
    "bad column": "SELECT nope FROM students",
    "forever": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "fenced": "```sql\nSELECT count(*) FROM teachers;\n``` Here is the query.",
    "empty": "   ",
    **HOSTILE,
}


@pytest.fixture(scope="module")
def server():
    with CannedOpenAIServer(ANSWERS) as srv:
        yield srv


@pytest.fixture(scope="module")
def samples(embedded):
    return SampleDatabases.load(embedded.data_dir)


def pipeline_for(url: str, **limits) -> QuestionPipeline:
    # no `#name`: the server is asked which model it serves, as the app does with one-model servers
    return QuestionPipeline(open_chat_model(url, max_retries=1, timeout_s=30), AppConfig(**limits))


def last(steps):
    return steps[-1]


def test_prompt_is_the_training_prompt_and_sql_streams(server, samples):
    db = samples.path("school")
    server.requests.clear()
    steps = list(pipeline_for(server.url).run("names over 10", samples.schema("school"), db))
    body = [r for r in server.requests if r["method"] == "POST"][-1]["body"]
    assert body["messages"] == sql_messages(samples.schema("school"), "names over 10")
    assert body["stream"] is True and body["temperature"] == 0
    streamed = [s.text for s in steps if s.state == GENERATING and s.text]
    assert len(streamed) >= 5 and streamed[-1].startswith(streamed[0])  # grows piece by piece
    final = last(steps)
    gold = execute_readonly(db, ANSWERS["names over 10"])
    assert final.state == DONE and final.sql == ANSWERS["names over 10"]
    assert final.result.rows == gold.rows and len(gold.rows) > 0
    assert final.message.startswith(f"{len(gold.rows)} rows")


def test_answer_is_cleaned_to_one_statement(server, samples):
    final = last(
        list(pipeline_for(server.url).run("fenced", samples.schema("school"), samples.path("school")))
    )
    assert final.state == DONE and final.sql == "SELECT count(*) FROM teachers"
    assert final.result.columns == ["count(*)"] and final.result.rows[0][0] > 0


@pytest.mark.parametrize("question", sorted(HOSTILE))
def test_hostile_sql_is_refused_and_the_database_is_unchanged(server, samples, question):
    db = samples.path("school")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    final = last(list(pipeline_for(server.url).run(question, samples.schema("school"), db)))
    assert final.state == ERROR and final.failure == "sql"
    assert "read-only" in final.message and "not authorized" in final.message
    assert final.sql == HOSTILE[question]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert execute_readonly(db, "SELECT count(*) FROM students").rows[0][0] > 0


def test_sql_error_timeout_and_row_cap(server, samples):
    db, schema = samples.path("school"), samples.schema("school")
    pipeline = pipeline_for(server.url, sql_timeout_s=0.3, max_rows=3)
    bad = last(list(pipeline.run("bad column", schema, db)))
    assert bad.state == ERROR and bad.message == "SQL error: OperationalError: no such column: nope"
    slow = last(list(pipeline.run("forever", schema, db)))
    assert slow.state == ERROR and slow.message == "the query was stopped after 0.3 s (time limit)"
    capped = last(list(pipeline.run("all students", schema, db)))
    assert capped.state == DONE and len(capped.result.rows) == 3
    assert "only the first 3 are shown" in capped.message
    empty = last(list(pipeline.run("empty", schema, db)))
    assert empty.state == ERROR and empty.failure == "model"


def test_input_limits_are_enforced_before_the_model_is_asked(server, samples):
    pipeline = pipeline_for(server.url, max_question_chars=50, max_schema_chars=300)
    server.requests.clear()
    schema = samples.schema("school")
    cases = {
        "x" * 51: "the question is too long (51 characters; at most 50)",
        "   ": "type a question first",
    }
    for question, message in cases.items():
        final = last(list(pipeline.run(question, schema, samples.path("school"))))
        assert (final.state, final.failure, final.message) == (ERROR, "input", message)
    too_long_schema = "CREATE TABLE t (a INTEGER);\n" * 20
    final = last(list(pipeline.run("names over 10", too_long_schema, None)))
    assert final.failure == "input" and "schema is too long" in final.message
    assert not [r for r in server.requests if r["method"] == "POST"]


def test_pasted_schema_runs_on_an_empty_database_built_from_it(server):
    pipeline = pipeline_for(server.url)
    for schema, expected in {
        "DROP TABLE students;": 'the schema may contain only CREATE TABLE statements, not "DROP TABLE students"',
        # the user's words, not sqlglot's rendering of them ("this IS DISTINCT FROM sql")
        "this is not sql": 'the schema may contain only CREATE TABLE statements, not "this is not sql"',
        "CREATE TABLE (": 'the schema does not parse as SQL: "CREATE TABLE ("',
        "": "choose a sample database or paste a schema",
    }.items():
        final = last(list(pipeline.run("names over 10", schema, None)))
        assert (final.state, final.failure, final.message) == (ERROR, "input", expected)
    schema = "CREATE TABLE students (id INTEGER, name TEXT, grade INTEGER);"
    server.requests.clear()
    final = last(list(pipeline.run("names over 10", schema, None)))
    assert final.state == DONE and final.sql == ANSWERS["names over 10"]
    assert final.result.columns == ["name"] and final.result.rows == []  # empty, but it ran
    assert "empty database built from the pasted schema" in final.message
    assert server.requests[-1]["body"]["messages"] == sql_messages(schema, "names over 10")
    # A column the pasted schema does not have is an SQL error now, not "nothing to run it on".
    final = last(list(pipeline.run("bad column", schema, None)))
    assert (final.state, final.failure) == (ERROR, "sql")
    assert final.message == "SQL error: OperationalError: no such column: nope"
    # The empty database is read-only like the samples: hostile SQL is refused there too.
    final = last(list(pipeline.run("drop it", schema, None)))
    assert final.failure == "sql" and "not authorized" in final.message


def test_backend_down_is_one_readable_sentence(samples):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    final = last(
        list(pipeline_for(url).run("names over 10", samples.schema("school"), samples.path("school")))
    )
    assert final.state == ERROR and final.failure == "model"
    assert final.message == f"model error: cannot reach the model server at {url}/v1 (is it running?)"
