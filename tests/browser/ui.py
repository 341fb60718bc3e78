"""How a user drives the demo page (Gradio 6 DOM), shared by the browser tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import HANG_S

WAIT_MS = HANG_S * 1000  # only a hang stops it: a full answer takes seconds idle, many times that loaded


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#ask-btn")).to_be_visible()


def choose_database(page: Page, db_id: str) -> None:
    page.get_by_role("combobox", name="Database").click()
    page.get_by_role("option", name=db_id, exact=True).click()
    expect(page.get_by_role("combobox", name="Database")).to_have_value(db_id)


def choose_paste_mode(page: Page, schema: str) -> None:
    page.get_by_role("combobox", name="Database").click()
    page.get_by_role("option", name=re.compile("paste a schema")).click()
    box = page.locator("#schema textarea")
    expect(box).to_be_editable()
    box.fill(schema)


def ask(page: Page, question: str) -> None:
    page.locator("#question textarea, #question input").first.fill(question)
    page.locator("#ask-btn").click()


def wait_status(page: Page, pattern: str) -> str:
    status = page.locator("#status")
    expect(status).to_contain_text(re.compile(pattern), timeout=WAIT_MS)
    return status.inner_text()


def shown_sql(page: Page) -> str:
    return page.locator("#sql .cm-content").inner_text()


def table_rows(page: Page) -> list[list[str]]:
    """The rows of the result table as displayed (Gradio renders them as ARIA grid rows)."""
    table = page.locator("#result")
    expect(table).to_be_visible()
    rows = []
    for row in table.locator("[role=row].virtual-row").all():
        rows.append([c.inner_text().strip() for c in row.locator("[role=gridcell]").all()])
    return rows


def table_headers(page: Page) -> list[str]:
    return [h.inner_text().strip() for h in page.locator("#result [role=columnheader]").all()]


def choose_upload(page: Page, path) -> str:
    """Choose "(upload a SQLite file)" and upload `path`; returns the status line it leads to."""
    page.get_by_role("combobox", name="Database").click()
    page.get_by_role("option", name=re.compile("upload a SQLite file")).click()
    expect(page.locator("#upload")).to_be_visible()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    return wait_status(page, r"(Done: loaded|Error:)")


def edit_sql(page: Page, sql: str) -> None:
    """Replace the SQL in the editor, as a user selects it all and types."""
    editor = page.locator("#sql .cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(sql)
    expect(editor).to_have_text(sql)


def settled(page: Page) -> None:
    """The event is over: Gradio hides each output's loading overlay (`.wrap.full` gets `hide`). For
    screenshots: a picture taken before shows the outputs greyed out."""
    for output in ("#sql", "#status"):
        expect(page.locator(f"{output} .wrap.full").first).to_have_class(re.compile(r"\bhide\b"))
