"""One question end to end (`tunebench.serve.question`) through a real HTTP model server (an
OpenAI-format server whose answers the test picks, reached with `tunebench.chat` as the app reaches
vLLM, SGLang or TGI), real SQLite: the prompt sent, streaming, read-only execution on a sample
database or on an empty database built from a pasted schema, and every error case."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from transformers import AutoTokenizer

from tests.conftest import HANG_S
from tests.serve.wire_servers import CannedOpenAIServer, FrozenServer
from tunebench.chat import open_chat_model
from tunebench.chat.local_server import free_port
from tunebench.serve.config import AppConfig
from tunebench.serve.context import budget_for
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
    "vacuum into": "VACUUM INTO '/tmp/tunebench-test-copy.sqlite'",
}
TOO_LONG = (
    "The prompt has 3721 tokens, but the model takes at most 1024, prompt and answer (`--max-model-len`)."
)
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
    with CannedOpenAIServer(ANSWERS, refusals={"too long for the server": (400, TOO_LONG)}) as srv:
        yield srv


@pytest.fixture(scope="module")
def samples(embedded):
    return SampleDatabases.load(embedded.data_dir)


def pipeline_for(url: str, *, timeout_s: float = HANG_S, budget=None, **limits) -> QuestionPipeline:
    # no `#name`: the server is asked which model it serves, as the app does with one-model servers
    model = open_chat_model(url, max_retries=0, timeout_s=timeout_s)
    return QuestionPipeline(model, AppConfig(**limits), budget=budget, timeout_s=timeout_s)


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
    assert final.message.startswith(
        "refused: the demo runs SQL read-only and this statement is not authorized"
    )
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
        "CREATE TABLE (": 'the schema does not parse as SQL (Expected table name but got "(" (line 1, '
        'column 14)): "CREATE TABLE ("',
        "": "choose a sample database, paste a schema or upload a database",
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


def test_the_sql_runs_in_the_sandbox_not_in_the_apps_process(server, samples, monkeypatch):
    """Nothing in this process may open SQLite for the model's SQL: the sandbox's child process does."""
    db, schema = samples.path("school"), samples.schema("school")
    pipeline = pipeline_for(server.url)

    def refuse(*args, **kwargs):
        raise AssertionError("SQLite opened in the app's process")

    monkeypatch.setattr(sqlite3, "connect", refuse)
    final = last(list(pipeline.run("names over 10", schema, db)))
    monkeypatch.undo()
    assert final.state == DONE and final.result.rows == execute_readonly(db, ANSWERS["names over 10"]).rows
    assert pipeline.runner.size == 1 and pipeline.runner.kills == 0
    pipeline.close()


@pytest.mark.parametrize(
    "question, message",
    [
        (123, "the question must be text, not int (123)"),
        (None, "the question must be text, not NoneType (None)"),
        (
            "names over 10 \ud800",
            "the question contains U+D800 at character 15, half of a surrogate pair: not a character; "
            "retype or paste it again",
        ),
    ],
)
def test_bad_input_is_input_not_a_model_failure(server, samples, question, message):
    server.requests.clear()
    final = last(
        list(pipeline_for(server.url).run(question, samples.schema("school"), samples.path("school")))
    )
    assert (final.state, final.failure, final.message) == (ERROR, "input", message)
    assert not [r for r in server.requests if r["method"] == "POST"]  # the model was not asked


@pytest.fixture(scope="module")
def tiny_tokenizer(embedded):
    return AutoTokenizer.from_pretrained(embedded.base_dir)


def prompt_tokens(tokenizer, schema: str, question: str) -> int:
    text = tokenizer.apply_chat_template(
        sql_messages(schema, question), tokenize=False, add_generation_prompt=True
    )
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_a_prompt_past_the_models_context_is_refused_before_it_is_asked(server, embedded, tiny_tokenizer):
    """The served model's tokenizer and context (1,024 positions here), read from its folder."""
    budget = budget_for(open_chat_model(server.url), folder_hint=embedded.base_dir)
    assert budget is not None and budget.context == 1024
    wide = "CREATE TABLE wide (" + ", ".join(f"column_number_{i} INTEGER" for i in range(120)) + ");"
    assert len(wide) < AppConfig.max_schema_chars  # within the character cap: only tokens say no
    used = prompt_tokens(tiny_tokenizer, wide, "names over 10")
    assert used > budget.context
    server.requests.clear()
    final = last(list(pipeline_for(server.url, budget=budget).run("names over 10", wide, None)))
    assert (final.state, final.failure) == (ERROR, "input")
    assert final.message == (
        f"the prompt is {used:,} tokens (schema and question) and the model reads at most 1,024, with "
        f"{AppConfig.min_answer_tokens} left for the SQL: shorten the schema to the tables the question needs"
    )
    assert not [r for r in server.requests if r["method"] == "POST"]
    # A prompt that fits, with fewer positions left than max_new_tokens: the answer is cut to them.
    narrow = (
        "CREATE TABLE students ("
        + ", ".join(f"c{i} INTEGER" for i in range(150))
        + ", name TEXT, grade INTEGER);"
    )
    used = prompt_tokens(tiny_tokenizer, narrow, "names over 10")
    assert 1024 - AppConfig.max_new_tokens < used < 1024 - AppConfig.min_answer_tokens
    final = last(list(pipeline_for(server.url, budget=budget).run("names over 10", narrow, None)))
    assert final.state == DONE and server.requests[-1]["body"]["max_tokens"] == 1024 - used


def test_a_servers_own_too_long_refusal_is_input(server, samples):
    """Without a tokenizer (the serve image), the server's refusal is what the user reads, as input."""
    final = last(
        list(
            pipeline_for(server.url).run(
                "too long for the server", samples.schema("school"), samples.path("school")
            )
        )
    )
    assert (final.state, final.failure) == (ERROR, "input")
    assert final.message.startswith("the prompt is too long for the model: ") and TOO_LONG in final.message


def test_a_frozen_server_costs_the_configured_wait_then_one_sentence(samples):
    with FrozenServer() as frozen:
        pipeline = pipeline_for(f"{frozen.url}/v1#frozen", timeout_s=1.0)
        final = last(list(pipeline.run("names over 10", samples.schema("school"), samples.path("school"))))
    assert (final.state, final.failure) == (ERROR, "model")
    assert final.message == (
        f"model error: the model server at {frozen.url}/v1 sent nothing for 1 s (overloaded or frozen); "
        "ask again in a moment"
    )


def test_a_restarting_server_is_said_at_once(server, samples):
    pipeline = pipeline_for(server.url)
    pipeline.unavailable = lambda: "restarting: the model server was killed by SIGKILL; restart 1 of 5 in 1 s"
    server.requests.clear()
    final = last(list(pipeline.run("names over 10", samples.schema("school"), samples.path("school"))))
    assert (final.failure, final.message) == (
        "model",
        "model error: restarting: the model server was killed by SIGKILL; restart 1 of 5 in 1 s",
    )
    assert not [r for r in server.requests if r["method"] == "POST"]


def test_edited_sql_runs_read_only_in_the_same_sandbox(server, samples):
    pipeline = pipeline_for(server.url, max_rows=3)
    db = samples.path("school")
    ok = pipeline.run_sql("SELECT name FROM students -- my edit\nORDER BY name;", "", db)
    gold = execute_readonly(db, "SELECT name FROM students ORDER BY name")
    assert ok.state == DONE and ok.result.rows == gold.rows[:3] and "only the first 3" in ok.message
    refused = pipeline.run_sql("DELETE FROM students", "", db)
    assert refused.failure == "sql" and refused.message.startswith("refused:")
    assert pipeline.run_sql("  ;", "", db).message == "type the SQL to run first"
    schema = "CREATE TABLE head (name TEXT, age INTEGER);"
    pasted = pipeline.run_sql("SELECT name FROM head", schema, None)
    assert pasted.state == DONE and pasted.result.rows == [] and "pasted schema" in pasted.message
