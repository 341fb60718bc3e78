"""The API as a program meets it (`gradio_client`, and raw HTTP where gradio_client cannot send the
input): what it can discover, how fields are described, streaming, input errors labelled as input,
blobs as hex, and edited SQL run again. The model is a real local HTTP server with chosen answers."""

from __future__ import annotations

import json
import urllib.request

import pytest
from gradio_client import Client

from tests.conftest import HANG_S
from tests.serve.apps import running_app
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql.execute import execute_readonly

ANSWERS = {
    "names over 10": "SELECT name FROM students WHERE grade > 10 ORDER BY name",
    "blobs": "SELECT x'00ff' AS small, zeroblob(40) AS large, 1e999 AS huge, 'x' AS text",
    "per grade": "SELECT CAST(grade AS TEXT) AS grade, count(*) AS n FROM students GROUP BY grade",
}


@pytest.fixture(scope="module")
def server():
    with CannedOpenAIServer(ANSWERS) as srv:
        yield srv


@pytest.fixture(scope="module")
def app_url(server, embedded):
    with running_app(f"{server.url}/v1#canned-sql", AppConfig(data_dir=embedded.data_dir)) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def samples(embedded):
    return SampleDatabases.load(embedded.data_dir)


def test_programs_can_list_models_databases_and_examples(client, samples):
    assert client.predict(api_name="/models") == [
        {"name": "canned-sql", "label": "canned-sql", "kind": "model", "default": True}
    ]
    databases = client.predict(api_name="/databases")
    assert [d["id"] for d in databases] == samples.ids
    school = next(d for d in databases if d["id"] == "school")
    assert school["schema"] == samples.schema("school")  # exactly what the model sees
    assert school["tables"] == ["teachers", "students"] and school["examples"] == samples.examples("school")
    assert client.predict(database="school", api_name="/examples") == samples.examples("school")
    assert client.predict(database="nope", api_name="/examples") == []


def test_view_api_says_what_each_field_is(client):
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(info) == {"/ask", "/run_sql", "/models", "/databases", "/examples", "/health"}
    ask = {p["parameter_name"]: p for p in info["/ask"]["parameters"]}
    assert list(ask) == ["question", "database", "schema", "model", "database_file"]
    assert (
        ask["database"]["python_type"]["description"]
        == 'a sample database id (see /databases), e.g. "school"'
    )
    assert all(p["python_type"]["description"] for p in ask.values())
    answer = info["/ask"]["returns"][0]["type"]
    assert answer["properties"]["failure"]["oneOf"][1]["enum"] == [
        "input",
        "model",
        "sql",
        "busy",
        "internal",
    ]
    assert {"ok", "sql", "columns", "rows", "message", "model", "database", "chart"} <= set(
        answer["properties"]
    )
    text = client.view_api(return_format="str", print_info=False)
    assert "a model name from /models (default: the first)" in text


def test_ask_streams_through_the_api(client, samples):
    job = client.submit(question="names over 10", database="school", api_name="/ask")
    steps = list(job)
    states = [s["state"] for s in steps]
    assert states[-1] == "done" and "generating" in states
    texts = [s["text"] for s in steps if s["state"] == "generating" and s["text"]]
    assert len(texts) >= 5 and all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    assert steps[-1] == job.result()  # predict() would have returned this, the final answer
    gold = execute_readonly(samples.path("school"), ANSWERS["names over 10"])
    assert steps[-1]["rows"] == [list(r) for r in gold.rows]


def test_bad_input_is_labelled_input_with_the_model_named(client):
    number = client.predict(question=123, database="school", api_name="/ask")
    assert (number["failure"], number["message"], number["model"]) == (
        "input",
        "the question must be text, not int (123)",
        "canned-sql",
    )
    both = client.predict(
        question="names over 10", database="school", schema="CREATE TABLE t (a INT);", api_name="/ask"
    )
    assert both["failure"] == "input" and both["message"].startswith(
        "give one of database, schema or database_file, not database and schema"
    )
    nothing = client.predict(question="names over 10", api_name="/ask")
    assert nothing["message"] == "choose a sample database, paste a schema or upload a database"
    unknown = client.predict(question="names over 10", database="nope", api_name="/ask")
    assert unknown["failure"] == "input" and unknown["message"].startswith("unknown sample database 'nope'")
    model = client.predict(question="names over 10", database="school", model="gpt-9", api_name="/ask")
    assert (
        model["failure"] == "input" and model["message"] == "unknown model 'gpt-9': choose one of canned-sql"
    )


def call_raw(app_url: str, api_name: str, data: list) -> dict:
    """An API call as JSON text: `\\ud800` is valid JSON (a lone surrogate) that gradio_client cannot send."""
    body = json.dumps({"data": data}).encode()  # ensure_ascii: the surrogate travels as \ud800
    post = urllib.request.Request(
        f"{app_url}gradio_api/call/{api_name}", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(post, timeout=HANG_S) as r:
        event_id = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{app_url}gradio_api/call/{api_name}/{event_id}", timeout=HANG_S) as r:
        stream = r.read().decode()
    lines = stream.splitlines()
    complete = lines.index("event: complete")
    return json.loads(lines[complete + 1].removeprefix("data: "))[0]


def test_a_lone_surrogate_is_input_not_a_model_failure(app_url, server):
    posts = len(server.posts())
    answer = call_raw(app_url, "ask", ["names over 10 \ud800", "school", "", "", None])
    assert (answer["failure"], answer["model"]) == ("input", "canned-sql")
    assert answer["message"].startswith("the question contains U+D800 at character 15")
    assert len(server.posts()) == posts  # the model was never asked


def test_blobs_come_back_as_hex_and_charts_are_offered(client, samples):
    answer = client.predict(question="blobs", database="school", api_name="/ask")
    assert answer["rows"] == [["X'00FF'", "X'00000000000000000000000000000000…' (40 bytes)", "Infinity", "x"]]
    assert answer["chart"] is None
    bars = client.predict(question="per grade", database="school", api_name="/ask")
    assert bars["chart"] == {"label": "grade", "value": "n"} and len(bars["rows"]) > 1


def test_edited_sql_runs_again_read_only(client, samples):
    db = samples.path("school")
    answer = client.predict(sql="SELECT count(*) AS n FROM students", database="school", api_name="/run_sql")
    assert answer["ok"] and answer["rows"] == [
        [execute_readonly(db, "SELECT count(*) FROM students").rows[0][0]]
    ]
    assert answer["database"] == "school" and answer["model"] == ""
    refused = client.predict(sql="DROP TABLE students", database="school", api_name="/run_sql")
    assert refused["failure"] == "sql" and refused["message"].startswith(
        "refused: the demo runs SQL read-only"
    )
    pasted = client.predict(sql="SELECT a FROM t", schema="CREATE TABLE t (a INT);", api_name="/run_sql")
    assert pasted["ok"] and pasted["rows"] == [] and pasted["database"] == "pasted schema"
    not_text = client.predict(sql=42, database="school", api_name="/run_sql")
    assert (not_text["failure"], not_text["message"]) == ("input", "the SQL must be text, not int (42)")
