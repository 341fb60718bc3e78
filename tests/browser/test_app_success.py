"""The demo in a real browser against a real `transformers serve` (127.0.0.1) serving the model
fine-tuned in this test session: choose a database, type a question, click, see SQL and the rows."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifacts_dir
from tests.browser.ui import (
    ask,
    choose_database,
    choose_upload,
    open_app,
    settled,
    shown_sql,
    table_headers,
    table_rows,
    wait_status,
)
from tests.serve.apps import running_app
from tunebench.chat import GenerationSettings, open_chat_model
from tunebench.embedded.sqlgen import load_split
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql.execute import SqlResult, execute_readonly, schema_of
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages

MAX_TRIES = 50
# Templates a weakly trained model gets right first ("How many X are there?"), then the rest.
TEMPLATE_ORDER = ["count_all", "count_cat", "filter_cat", "filter_num", "lookup", "list_all"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Picked:
    row: dict
    sql: str
    expected: SqlResult  # the gold rows, or (fallback) the rows of the model's own SQL
    matches_gold: bool


def displayable(result: SqlResult) -> bool:
    """A few rows of text and integers: what the table shows can be compared exactly."""
    values = [v for r in result.rows for v in r]
    return result.ok and 1 <= len(result.rows) <= 8 and all(isinstance(v, str | int) for v in values)


@pytest.fixture(scope="module")
def spec(tiny_server) -> str:
    return f"{tiny_server.base_url}#{tiny_server.model}"


def candidates(data_dir) -> list[dict]:
    easy = [r for r in load_split(data_dir, "train") if r["difficulty"] == "easy"]
    rank = {t: i for i, t in enumerate(TEMPLATE_ORDER)}
    return sorted(easy, key=lambda r: rank.get(r["template"], len(rank)))  # stable: file order within


@pytest.fixture(scope="module")
def picked(spec, embedded) -> Picked:
    """An easy training question the session's model answers correctly, chosen deterministically.

    Asked through the app's own model client first (greedy decoding gives the page the same SQL).
    Several rows are preferred over a one-row answer (a count). A 150-step model is weak (0-2% in
    some sessions): if it answers none of MAX_TRIES questions correctly, the page is checked against
    the rows its own runnable SQL returns (some rows preferred over none), and the test warns.
    """
    model = open_chat_model(spec, GenerationSettings(max_new_tokens=AppConfig.max_new_tokens))
    tried: list[str] = []
    correct = executes = executes_empty = None
    for row in candidates(embedded.data_dir):
        gold = execute_readonly(row["db_path"], row["query"])
        if not displayable(gold) or (correct and len(gold.rows) == 1):
            continue
        answer = model.complete(sql_messages(row["schema"], row["question"]))
        sql = extract_sql(answer)
        got = execute_readonly(row["db_path"], sql)
        tried.append(f"{row['question']!r} -> {sql!r}")
        if got.ok and Counter(got.rows) == Counter(gold.rows):
            if len(gold.rows) > 1:
                return Picked(row, sql, gold, True)
            correct = correct or Picked(row, sql, gold, True)
        elif executes is None and displayable(got):
            executes = Picked(row, sql, got, False)
        elif executes_empty is None and got.ok and not got.rows:
            executes_empty = Picked(row, sql, got, False)
        if len(tried) >= MAX_TRIES:
            break
    best = correct or executes or executes_empty
    if best is None:
        pytest.fail("the fine-tuned model wrote no runnable SQL for any of these:\n" + "\n".join(tried))
    return best


@pytest.fixture(scope="module")
def app_url(spec, embedded):
    with running_app(spec, AppConfig(data_dir=embedded.data_dir)) as url:
        yield url


def as_text(rows: list[tuple]) -> list[list[str]]:
    return [[str(v) for v in r] for r in rows]


def test_question_to_rows_in_the_browser(page, app_url, picked, tiny_server, embedded, record_property):
    record_property("answer_matches_gold", picked.matches_gold)
    if not picked.matches_gold:
        warnings.warn(
            f"the fine-tuned model answered none of {MAX_TRIES} easy questions correctly; "
            "the page is checked against the rows of its own SQL",
            stacklevel=1,
        )
    samples = SampleDatabases.load(embedded.data_dir)
    db_id, question = picked.row["db_id"], picked.row["question"]
    open_app(page, app_url)
    expect(page.locator("#health")).to_contain_text("live")
    # named by its run (the server names it by its folder, models/<run>/merged)
    expect(page.locator("#health")).to_contain_text(Path(tiny_server.model).parent.name)

    choose_database(page, db_id)
    expect(page.locator("#schema textarea")).to_have_value(samples.schema(db_id))
    # Clicking an example puts it in the question box.
    page.locator("#examples button").first.click()
    expect(page.locator("#question textarea, #question input").first).to_have_value(
        samples.examples(db_id)[0]
    )

    ask(page, question)
    status = wait_status(page, r"Done: \d+ rows?")
    assert status.startswith(f"Done: {len(picked.expected.rows)} row")
    assert shown_sql(page) == picked.sql
    expect(page.locator("#result")).to_be_visible()
    assert len(table_headers(page)) == len(picked.expected.columns)
    shown = table_rows(page)
    # The right rows (gold), in the order the SQL returns them.
    assert Counter(map(tuple, shown)) == Counter(map(tuple, as_text(picked.expected.rows)))
    assert shown == as_text(execute_readonly(samples.path(db_id), picked.sql).rows)
    settled(page)
    page.screenshot(path=str(artifacts_dir() / "app-success.png"), full_page=True)


def test_an_uploaded_database_answers_in_the_browser(page, app_url, picked, tmp_path):
    """The user's own file: the picked database with every other row gone. Its schema is the same, so
    the model writes the same SQL; the rows are the file's own."""
    db_id, question = picked.row["db_id"], picked.row["question"]
    mine = tmp_path / f"my-{db_id}.sqlite"
    shutil.copy(picked.row["db_path"], mine)
    with sqlite3.connect(mine) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            con.execute(f'DELETE FROM "{table}" WHERE rowid % 2 = 0')
    expected = execute_readonly(mine, picked.sql)
    open_app(page, app_url)
    assert f"Done: loaded {mine.name}" in choose_upload(page, mine)
    expect(page.locator("#schema textarea")).to_have_value(schema_of(mine))
    ask(page, question)
    status = wait_status(page, r"(Done: \d+ rows?|Error:)")  # not the upload's own "Done: loaded …"
    assert shown_sql(page) == picked.sql
    if expected.ok:
        n = len(expected.rows)
        assert status.startswith(f"Done: {n} row") and f"(your database {mine.name})" in status
        if n:
            assert table_rows(page) == as_text(expected.rows)
    settled(page)
    page.screenshot(path=str(artifacts_dir() / "app-upload.png"), full_page=True)
