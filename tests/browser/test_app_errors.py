"""Errors in a real browser: hostile SQL, a SQL error, the time limit, a bad pasted schema, and the
model server going down, each shown in the page as one readable sentence (never a stack trace).

The model is a local OpenAI-format HTTP server whose answers the test chooses (`CannedOpenAIServer`,
tests/serve/wire_servers.py): a fine-tuned model cannot be made to write `DROP TABLE` on demand. The
app talks to it with the real `openai` client, as it talks to vLLM or `transformers serve`.
"""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifacts_dir
from tests.browser.ui import ask, choose_database, choose_paste_mode, open_app, shown_sql, wait_status
from tests.serve.apps import running_app
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases

pytestmark = pytest.mark.browser

ANSWERS = {
    "Remove the students table": "DROP TABLE students",
    "Which column is missing?": "SELECT nope FROM students",
    "Count forever": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "List the students slowly": "SELECT name FROM students WHERE grade > 10 ORDER BY name LIMIT 3",
}


@pytest.fixture(scope="module")
def model_server():
    with CannedOpenAIServer(ANSWERS, delay_s={"List the students slowly": 0.4}) as srv:
        yield srv


@pytest.fixture(scope="module")
def app_url(model_server, embedded):
    spec = f"{model_server.url}/v1"  # one model on the server: it is asked for its name
    with running_app(spec, AppConfig(data_dir=embedded.data_dir, sql_timeout_s=0.5)) as url:
        yield url


@pytest.fixture(scope="module")
def school(embedded):
    return SampleDatabases.load(embedded.data_dir).path("school")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sql_streams_into_the_page(page, app_url):
    open_app(page, app_url)
    choose_database(page, "school")
    ask(page, "List the students slowly")
    # While the model is still writing: part of the SQL is shown, the status says so.
    expect(page.locator("#sql .cm-content")).to_contain_text("SELECT name")
    expect(page.locator("#status")).to_contain_text("Working")
    assert shown_sql(page) != ANSWERS["List the students slowly"]
    wait_status(page, r"Done: 3 rows")
    assert shown_sql(page) == ANSWERS["List the students slowly"]


def test_hostile_sql_is_refused_in_the_page(page, app_url, school):
    before = digest(school)
    open_app(page, app_url)
    choose_database(page, "school")
    ask(page, "Remove the students table")
    status = wait_status(page, "Error:")
    assert "not authorized" in status and "read-only" in status and "Traceback" not in status
    assert shown_sql(page) == "DROP TABLE students"
    expect(page.locator("#result")).to_be_hidden()
    assert digest(school) == before
    page.screenshot(path=str(artifacts_dir() / "app-refused.png"), full_page=True)


def test_sql_error_and_time_limit_in_the_page(page, app_url):
    open_app(page, app_url)
    choose_database(page, "school")
    ask(page, "Which column is missing?")
    assert "no such column: nope" in wait_status(page, "Error: SQL error")
    ask(page, "Count forever")
    assert "stopped after 0.5 s (time limit)" in wait_status(page, "Error: the query was stopped")


def test_pasted_schema(page, app_url, model_server):
    open_app(page, app_url)
    choose_paste_mode(page, "this is not sql")
    ask(page, "List the students slowly")
    # the user's own words come back, not a re-rendering of them
    assert 'only CREATE TABLE statements, not "this is not sql"' in wait_status(page, "Error:")
    schema = "CREATE TABLE students (id INTEGER, name TEXT, grade INTEGER);"
    choose_paste_mode(page, schema)
    model_server.requests.clear()
    ask(page, "Which column is missing?")
    # the SQL ran on an empty database built from the schema: the unknown column is an error
    assert "no such column: nope" in wait_status(page, "Error: SQL error")
    assert shown_sql(page) == ANSWERS["Which column is missing?"]
    assert schema in model_server.last_post()["body"]["messages"][0]["content"]
    ask(page, "List the students slowly")
    assert "empty database built from the pasted schema" in wait_status(page, "Done: 0 rows")


def test_model_server_down_in_the_page(page, app_url, model_server):
    """Last in this module: it stops the model server, as a crashed server would be."""
    open_app(page, app_url)
    expect(page.locator("#health")).to_contain_text("live")
    model_server.stop()
    choose_database(page, "school")
    ask(page, "List the students slowly")
    status = wait_status(page, "Error: model error")
    assert f"cannot reach the model server at {model_server.url}/v1 (is it running?)" in status
    page.locator("#health-btn").click()
    expect(page.locator("#health")).to_contain_text("not reachable")
