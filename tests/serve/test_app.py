"""The Gradio Blocks app as built (no browser): limits, queue, and what the page starts with."""

from __future__ import annotations

from tunebench.serve.app import PASTE, build_app, rows_frame
from tunebench.serve.asker import DONE, Step
from tunebench.serve.backends import make_backend
from tunebench.serve.config import AppConfig, BackendConfig
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql_exec import execute_readonly


def test_app_limits_queue_and_initial_page(embedded):
    config = AppConfig(data_dir=embedded.data_dir, concurrency_limit=3, queue_size=7, max_question_chars=123)
    demo = build_app(make_backend(BackendConfig(url="http://127.0.0.1:9/v1")), config)
    samples = SampleDatabases.load(embedded.data_dir)
    # The queue: at most 3 generations at once, 7 waiting; `ask` is the one API endpoint that generates.
    assert (demo._queue.default_concurrency_limit, demo._queue.max_size) == (3, 7)
    api = {f.api_name: f for f in demo.fns.values() if not f.api_name.startswith("false")}
    assert set(api) == {"ask", "health"}
    blocks = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert blocks["question"].max_length == 123 and blocks["schema"].max_length == config.max_schema_chars
    assert blocks["db"].value == samples.ids[0]
    assert [c[1] for c in blocks["db"].choices] == [*samples.ids, PASTE]
    assert blocks["schema"].value == samples.schema(samples.ids[0])
    assert [s[0] for s in blocks["examples"].samples] == samples.examples(samples.ids[0])


def test_rows_table_keeps_duplicate_columns_apart(embedded):
    db = SampleDatabases.load(embedded.data_dir).path("school")
    result = execute_readonly(db, "SELECT name, name, grade FROM students ORDER BY id LIMIT 2")
    frame = rows_frame(Step(DONE, "", result=result))
    assert list(frame.columns) == ["name", "name (2)", "grade"]
    assert frame.values.tolist() == [list(r) for r in result.rows]
