"""docs/serve.md's `gradio_client` example, run as written against a running app (only the URL is
changed), with a real HTTP model server whose answers the test picks."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client

from tests.conftest import HANG_S
from tests.serve.apps import running_app
from tests.serve.test_app import wait_for_health
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql.execute import execute_readonly

DOCS = Path(__file__).resolve().parents[2] / "docs" / "serve.md"
ANSWERS = {
    "How many students are there?": "SELECT count(*) FROM students",
    "Which heads are older than 56?": "SELECT name FROM head WHERE age > 56",
}


def api_example() -> str:
    section = DOCS.read_text().split("### The API", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n### ", 1)[0], re.S)
    return code


@pytest.fixture(scope="module")
def app_url(embedded):
    with CannedOpenAIServer(ANSWERS) as server:
        config = AppConfig(data_dir=embedded.data_dir)
        with running_app(f"{server.url}/v1#canned-sql", config) as url:
            # the example's last line reads the background health check: let its first check finish
            wait_for_health(Client(url, verbose=False), "", lambda h: h["live"])
            yield url


def test_the_documented_gradio_client_example_runs(app_url, embedded):
    code = api_example()
    assert 'Client("http://127.0.0.1:7860/")' in code  # the app's default address, as documented
    proc = subprocess.run(
        [sys.executable, "-c", code.replace("http://127.0.0.1:7860/", app_url)],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith("Loaded as API")]
    models, first, second, *streamed, health = lines
    assert ast.literal_eval(models) == ["canned-sql"]
    count = execute_readonly(
        SampleDatabases.load(embedded.data_dir).path("school"), ANSWERS["How many students are there?"]
    )
    assert first == f"{ANSWERS['How many students are there?']} ['count(*)'] {[list(r) for r in count.rows]}"
    ok, rest = second.split(" ", 1)
    assert ast.literal_eval(ok) is True and rest.startswith(ANSWERS["Which heads are older than 56?"])
    assert "empty database built from the pasted schema" in rest
    # the stream: the SQL as it is written, then the final answer
    assert streamed[-1] == f"done {ANSWERS['How many students are there?']}"
    growing = [ln.removeprefix("generating ") for ln in streamed if ln.startswith("generating ")]
    assert len(growing) >= 3 and growing[-1] == ANSWERS["How many students are there?"]
    health = ast.literal_eval(health)
    assert (health["model"], health["live"], health["detail"]) == ("canned-sql", True, "live")
