"""A real browser for the UI tests: Playwright driving Debian's chromium (`make browser-deps`).

Never `playwright install`: the browser is the system's /usr/bin/chromium. `make test` installs it
where it may (as root, as in CI); elsewhere these tests are skipped with a one-line reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import HANG_S

CHROMIUM = os.environ.get("TUNEBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    """Screenshots go to $TUNEBENCH_ARTIFACTS or artifacts/browser (git-ignored)."""
    root = (
        Path(os.environ["TUNEBENCH_ARTIFACTS"])
        if os.environ.get("TUNEBENCH_ARTIFACTS")
        else REPO / "artifacts"
    )
    out = root / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out


# Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it lives.
@pytest.fixture(scope="module")
def browser():
    executable = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not executable:
        pytest.skip(
            f"no chromium at {CHROMIUM} or on PATH: install it (`sudo apt-get install chromium`) to run the browser tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    # Waits for the page are hang guards: Gradio's first render and its queue take seconds on 2 idle cores
    # and many times that on a loaded machine; a page that is wrong still fails, only later.
    expect.set_options(timeout=HANG_S * 1000 / 6)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(HANG_S * 1000 / 6)
    yield page
    context.close()
