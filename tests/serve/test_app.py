"""The Gradio app as built and as API users meet it (`gradio_client`, no browser): limits, queue, the
models it offers by stable name, and the `/ask` and `/health` endpoints against a real HTTP model server."""

from __future__ import annotations

import json
import time

import pytest
from gradio_client import Client

from tests.conftest import HANG_S
from tests.serve.apps import choices, running_app
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.chat.local_server import free_port
from tunebench.serve.app import PASTE_LABEL, UPLOAD_LABEL, build_app
from tunebench.serve.config import AppConfig
from tunebench.serve.render import rows_frame
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql.execute import execute_readonly

ANSWERS = {
    "names over 10": "SELECT name FROM students WHERE grade > 10 ORDER BY name",
    "old heads": "SELECT name FROM head WHERE age > 56",
    "salaries": "SELECT salary FROM head",
}


@pytest.fixture(scope="module")
def server():
    with CannedOpenAIServer(ANSWERS) as srv:
        yield srv


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    """A models volume with two runs' adapters (only their folders matter to the app's list)."""
    root = tmp_path_factory.mktemp("models")
    for run in ("run-b", "run-a"):
        (root / run / "adapter").mkdir(parents=True)
        (root / run / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    (root / "no-adapter" / "merged").mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def client(server, embedded, adapters):
    config = AppConfig(data_dir=embedded.data_dir)
    models = choices(f"{server.url}/v1#canned-sql", config, models_dir=adapters, name_template="{run}-lora")
    with running_app(models, config) as url:
        yield Client(url, verbose=False)


def test_app_limits_queue_and_initial_page(embedded, server):
    config = AppConfig(data_dir=embedded.data_dir, concurrency_limit=3, queue_size=7, max_question_chars=123)
    demo = build_app(choices(f"{server.url}/v1", config), config)
    samples = SampleDatabases.load(embedded.data_dir)
    # At most 3 generations at once and 7 waiting, in the app's own line (gradio's queue never
    # answers "Queue is full!": the line answers the overflow in words, tests/serve/test_load.py).
    line = demo.service.admission
    assert (line.running, line.waiting) == (3, 7) and demo._queue.max_size is None
    public = {f.api_name for f in demo.fns.values() if f.api_visibility == "public"}
    # the page's own streaming events are not the API
    assert public == {"ask", "run_sql", "models", "databases", "examples", "health"}
    blocks = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert blocks["question"].max_length == 123 and blocks["schema"].max_length == config.max_schema_chars
    assert blocks["db"].value == samples.ids[0]
    assert [c[1] for c in blocks["db"].choices] == [*samples.ids, PASTE_LABEL, UPLOAD_LABEL]
    assert blocks["schema"].value == samples.schema(samples.ids[0])
    assert [s[0] for s in blocks["examples"].samples] == samples.examples(samples.ids[0])
    # the server's one model, by the name it serves (asked once), not by a URL with a port
    assert blocks["model"].choices == [("canned-sql", "canned-sql")]
    demo.service.close()


def test_rows_table_keeps_duplicate_columns_apart(embedded):
    db = SampleDatabases.load(embedded.data_dir).path("school")
    result = execute_readonly(db, "SELECT name, name, grade FROM students ORDER BY id LIMIT 2")
    frame = rows_frame(result.columns, result.rows)
    assert list(frame.columns) == ["name", "name (2)", "grade"]
    assert frame.values.tolist() == [list(r) for r in result.rows]


def test_ask_a_sample_database(client, embedded, server):
    answer = client.predict(question="names over 10", database="school", api_name="/ask")
    gold = execute_readonly(SampleDatabases.load(embedded.data_dir).path("school"), ANSWERS["names over 10"])
    assert answer["ok"] and answer["sql"] == ANSWERS["names over 10"] and answer["failure"] is None
    assert answer["columns"] == ["name"] and answer["rows"] == [list(r) for r in gold.rows] and gold.rows
    assert (answer["model"], answer["database"], answer["state"]) == ("canned-sql", "school", "done")
    assert server.last_post()["body"]["model"] == "canned-sql"


def test_ask_with_a_pasted_schema_needs_no_database_name(client):
    schema = "CREATE TABLE head (name TEXT, age INTEGER);"
    answer = client.predict(question="old heads", schema=schema, api_name="/ask")
    assert answer["ok"] and answer["columns"] == ["name"] and answer["rows"] == []
    assert "empty database built from the pasted schema" in answer["message"]
    wrong = client.predict(question="salaries", schema=schema, api_name="/ask")
    assert (wrong["ok"], wrong["failure"]) == (False, "sql")
    assert wrong["message"] == "SQL error: OperationalError: no such column: salary"
    bad = client.predict(question="old heads", schema="this is not sql", api_name="/ask")
    assert (bad["ok"], bad["failure"], bad["sql"]) == (False, "input", None)
    assert bad["message"] == 'the schema may contain only CREATE TABLE statements, not "this is not sql"'
    assert answer["database"] == "pasted schema"


def test_adapters_on_the_volume_are_offered_and_asked_by_name(client, server):
    answer = client.predict(question="names over 10", database="school", model="run-a-lora", api_name="/ask")
    assert answer["ok"] and answer["model"] == "run-a-lora"
    assert server.last_post()["body"]["model"] == "run-a-lora"  # the name the server was started with
    # the menu's label is accepted too, and answered with the stable name
    by_label = client.predict(
        question="names over 10", database="school", model="run-b · LoRA adapter (unmerged)", api_name="/ask"
    )
    assert by_label["ok"] and by_label["model"] == "run-b-lora"
    health = wait_for_health(client, "run-b-lora", lambda h: h["live"])
    assert health["model"] == "run-b-lora" and health["location"] == f"{server.url}/v1"


def wait_for_health(client: Client, model: str, done, hang_s: float = HANG_S) -> dict:
    """/health answers at once from the background check: poll it until `done(health)`."""
    deadline = time.monotonic() + hang_s
    while True:
        health = client.predict(model=model, api_name="/health")
        if done(health) or time.monotonic() > deadline:
            return health
        time.sleep(0.2)


def test_health_names_the_model_and_says_when_the_server_is_down(client, embedded):
    assert wait_for_health(client, "", lambda h: h["live"])["live"]
    config = AppConfig(data_dir=embedded.data_dir)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with running_app(choices(f"{dead}#m", config), config) as url:
        down = Client(url, verbose=False)
        health = wait_for_health(down, "", lambda h: h["detail"] != "checking…")
        assert health == {
            "model": "m",
            "location": dead,
            "live": False,
            "detail": f"cannot reach the model server at {dead} (is it running?)",
        }
        answer = down.predict(question="names over 10", database="school", api_name="/ask")
        assert answer["failure"] == "model" and answer["message"].startswith("model error: cannot reach")


def test_a_model_that_cannot_be_opened_is_a_model_failure(embedded, adapters):
    """In process, an adapter is loaded on its base: one whose folder holds no weights fails to open.
    That is the model's failure, said in one line; an unknown name stays the caller's (input)."""
    config = AppConfig(data_dir=embedded.data_dir)
    with running_app(choices(embedded.base_dir, config, models_dir=adapters), config) as url:
        client = Client(url, verbose=False)
        assert [m["name"] for m in client.predict(api_name="/models")] == [
            "tiny-base",
            "run-a-lora",
            "run-b-lora",
        ]
        broken = client.predict(
            question="names over 10", database="school", model="run-a-lora", api_name="/ask"
        )
        assert (broken["failure"], broken["model"]) == ("model", "run-a-lora")
        assert broken["message"].startswith(f"model error: cannot load {adapters / 'run-a' / 'adapter'}: ")
        unknown = client.predict(question="names over 10", database="school", model="run-c", api_name="/ask")
        assert unknown["failure"] == "input"
