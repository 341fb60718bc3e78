"""Errors and the page's tools in a real browser: hostile SQL, a SQL error, the time limit, a bad or
hostile pasted schema (quoted as typed, never rendered), the model server going down, each one
readable sentence (never a stack trace); a chart for one number per label; editing the SQL and
running it again; an uploaded database, removed when the page closes.

The model is a local OpenAI-format HTTP server whose answers the test chooses (`CannedOpenAIServer`,
tests/serve/wire_servers.py): a fine-tuned model cannot be made to write `DROP TABLE` on demand. The
app talks to it with the real `openai` client, as it talks to vLLM or `transformers serve`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifacts_dir
from tests.browser.ui import (
    ask,
    choose_database,
    choose_paste_mode,
    choose_upload,
    edit_sql,
    open_app,
    settled,
    shown_sql,
    table_rows,
    wait_status,
)
from tests.conftest import HANG_S
from tests.serve.apps import running_demo
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases

pytestmark = pytest.mark.browser

ANSWERS = {
    "Remove the students table": "DROP TABLE students",
    "Which column is missing?": "SELECT nope FROM students",
    "Count forever": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "List the students slowly": "SELECT name FROM students WHERE grade > 10 ORDER BY name LIMIT 3",
    "Students per grade": "SELECT 'grade ' || grade AS grade, count(*) AS students FROM students GROUP BY grade",
    "How many students are there?": "SELECT count(*) AS n FROM students",
    "Quote my column": "SELECT [<b>bold</b> `tick` & <i>x</i>] FROM students",  # [..]: never a string
}
# What a user might paste: markup, a script URL, backticks, Markdown. The page must show it as typed.
HOSTILE_SCHEMA = (
    '<b>bold</b> `tick` & *star* <img src=x onerror="alert(1)"><a href="javascript:alert(2)">l</a>'
)


@pytest.fixture(scope="module")
def model_server():
    with CannedOpenAIServer(ANSWERS, delay_s={"List the students slowly": 0.4}) as srv:
        yield srv


@pytest.fixture(scope="module")
def app(model_server, embedded):
    spec = f"{model_server.url}/v1"  # one model on the server: it is asked for its name
    with running_demo(spec, AppConfig(data_dir=embedded.data_dir, sql_timeout_s=0.5)) as (url, demo):
        yield url, demo.service


@pytest.fixture(scope="module")
def app_url(app):
    return app[0]


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
    settled(page)
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


def no_markup_in(page, selector: str) -> None:
    """Only the page's own bold label: none of the user's tags became elements."""
    for tag in ("b", "i", "img", "a", "em", "code", "script"):
        assert page.locator(f"{selector} {tag}").count() == 0, tag
    assert page.locator(f"{selector} strong").count() == 1


def test_a_hostile_pasted_schema_is_quoted_as_typed(page, app_url):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_app(page, app_url)
    choose_paste_mode(page, HOSTILE_SCHEMA)
    ask(page, "Students per grade")
    status = wait_status(page, "Error:")
    shown = HOSTILE_SCHEMA[:59]  # the quote keeps 59 characters and an ellipsis
    assert status == (
        "Error: the schema does not parse as SQL (Required keyword: 'this' missing for LT (line 1, column 3)): "
        f'"{shown}…"'
    )
    no_markup_in(page, "#status")
    settled(page)
    page.screenshot(path=str(artifacts_dir() / "app-hostile-schema.png"), full_page=True)
    # SQLite's own message quotes a model's identifier the same way
    choose_database(page, "school")
    ask(page, "Quote my column")
    assert "no such column: <b>bold</b> `tick` & <i>x</i>" in wait_status(page, "Error: SQL error")
    no_markup_in(page, "#status")
    assert dialogs == []


def test_one_number_per_label_is_drawn_as_bars(page, app_url, school):
    open_app(page, app_url)
    choose_database(page, "school")
    ask(page, "Students per grade")
    wait_status(page, r"Done: \d+ rows")
    chart = page.locator("#chart")
    expect(chart).to_be_visible()
    expect(chart.locator("canvas, svg").first).to_be_visible()
    ask(page, "List the students slowly")  # names only: no chart
    wait_status(page, "Done: 3 rows")
    expect(chart).to_be_hidden()


def test_edit_the_sql_and_run_it_again(page, app_url, school):
    open_app(page, app_url)
    choose_database(page, "school")
    ask(page, "List the students slowly")
    wait_status(page, "Done: 3 rows")
    edited = "SELECT name FROM students ORDER BY name DESC LIMIT 2"
    edit_sql(page, edited)
    page.locator("#run-sql-btn").click()
    wait_status(page, "Done: 2 rows")
    from tunebench.sql.execute import execute_readonly

    assert table_rows(page) == [[r[0]] for r in execute_readonly(school, edited).rows]
    edit_sql(page, "DELETE FROM students")
    page.locator("#run-sql-btn").click()
    assert "refused: the demo runs SQL read-only" in wait_status(page, "Error:")


def test_an_uploaded_database_answers_and_goes_with_the_page(browser, app, school, tmp_path):
    url, service = app
    mine = tmp_path / "my-school.sqlite"
    shutil.copy(school, mine)
    with sqlite3.connect(mine) as con:
        con.execute("DELETE FROM students WHERE id > 7")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    open_app(page, url)
    assert "Done: loaded my-school.sqlite" in choose_upload(page, mine)
    expect(page.locator("#schema textarea")).to_have_value(re.compile("CREATE TABLE students"))
    assert service.uploads.sessions() == 1
    ask(page, "How many students are there?")
    assert "(your database my-school.sqlite)" in wait_status(page, "Done: 1 row")
    assert table_rows(page) == [["7"]]
    context.close()  # the tab closes: the session ends, its database goes
    deadline = time.monotonic() + HANG_S
    while service.uploads.sessions() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert service.uploads.sessions() == 0 and not list(service.uploads.root.iterdir())


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
