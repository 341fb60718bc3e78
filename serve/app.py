"""The Gradio Blocks page: pick a sample database or paste a schema, ask, watch the SQL stream in,
see the rows. Errors (backend down, SQL refused or wrong, time limit) are shown in the page as one
sentence; the traceback, if any, goes to the server log only.
"""

from __future__ import annotations

import logging

import gradio as gr
import pandas as pd

from tunebench.serve.asker import DONE, ERROR, Asker, Step
from tunebench.serve.backends import Backend
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases

log = logging.getLogger(__name__)

PASTE = "__paste__"
TITLE = "tunebench · text to SQL"
# Words, not emoji: a server or browser without an emoji font would show empty boxes.
_LABELS = {DONE: "**Done:**", ERROR: "**Error:**"}


def _status(step: Step) -> str:
    label = _LABELS.get(step.state, "**Working:**")
    # Model and SQLite text go into the page: keep it from being read as Markdown markup.
    message = step.message.replace("`", "'").replace("*", "\\*").replace("_", "\\_")
    return f"{label} {message}"


def rows_frame(step: Step) -> pd.DataFrame:
    assert step.result is not None
    columns, seen = [], {}
    for name in step.result.columns:  # `SELECT name, name` is valid SQL; a table needs distinct headers
        seen[name] = seen.get(name, 0) + 1
        columns.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return pd.DataFrame([list(r) for r in step.result.rows], columns=columns)


def table_update(step: Step, first: bool):
    """The rows table: shown with the rows of a successful query, hidden otherwise."""
    if step.state == DONE and step.result is not None:
        return gr.Dataframe(value=rows_frame(step), visible=True)
    if step.state == ERROR or first:
        return gr.Dataframe(value=None, visible=False)
    return gr.skip()  # streaming: leave the table alone instead of resending it per token


def build_app(
    backend: Backend, config: AppConfig | None = None, samples: SampleDatabases | None = None
) -> gr.Blocks:
    config = config or AppConfig()
    samples = samples or SampleDatabases.load(config.data_dir)
    asker = Asker(backend, config)
    first = samples.ids[0]
    db_choices = [(db_id, db_id) for db_id in samples.ids] + [("(paste a schema)", PASTE)]

    def on_db(db_id: str):
        if db_id == PASTE:
            return (
                gr.Textbox(value="", interactive=True, placeholder="CREATE TABLE …;"),
                gr.Dataset(samples=[]),
                gr.Dataframe(value=None, visible=False),
            )
        examples = [[q] for q in samples.examples(db_id, config.examples_per_db)]
        return (
            gr.Textbox(value=samples.schema(db_id), interactive=False),
            gr.Dataset(samples=examples),
            gr.Dataframe(value=None, visible=False),
        )

    def on_ask(db_id: str, schema: str, question: str):
        try:
            db_path = None if db_id == PASTE else samples.path(db_id)
            if db_path is not None:
                schema = samples.schema(db_id)  # what the model was trained on, whatever the textbox says
            for i, step in enumerate(asker.run(question, schema, db_path)):
                yield step.text, table_update(step, first=i == 0), _status(step)
        except Exception:
            log.exception("unexpected failure answering %r", question)
            yield gr.skip(), gr.skip(), "**Error:** internal error (the server log has the details)"

    def on_health() -> str:
        return backend.health().markdown()

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nAsk a question about a sample database (or paste a schema). The model writes the "
            "SQL; the demo runs it **read-only** and shows the rows."
        )
        with gr.Row():
            health = gr.Markdown("checking the backend…", elem_id="health")
            health_btn = gr.Button("Check backend", size="sm", scale=0, elem_id="health-btn")
        with gr.Row():
            with gr.Column(scale=2):
                db = gr.Dropdown(db_choices, value=first, label="Database", elem_id="db")
                schema = gr.Textbox(
                    value=samples.schema(first),
                    label="Schema (what the model sees)",
                    lines=6,
                    max_lines=14,
                    max_length=config.max_schema_chars,
                    interactive=False,
                    elem_id="schema",
                )
            with gr.Column(scale=3):
                question = gr.Textbox(
                    label="Question",
                    placeholder="e.g. How many students are there?",
                    max_length=config.max_question_chars,
                    elem_id="question",
                )
                ask = gr.Button("Generate SQL", variant="primary", elem_id="ask-btn")
                examples = gr.Dataset(
                    components=[question],
                    samples=[[q] for q in samples.examples(first, config.examples_per_db)],
                    label="Examples (held-out test questions)",
                    elem_id="examples",
                )
        sql = gr.Code(label="SQL", language="sql", interactive=False, lines=3, elem_id="sql")
        status = gr.Markdown(elem_id="status")
        result = gr.Dataframe(label="Rows", interactive=False, wrap=True, visible=False, elem_id="result")

        db.change(on_db, db, [schema, examples, result], api_name=False)
        examples.click(lambda sample: sample[0], examples, question, api_name=False)
        gr.on(
            [ask.click, question.submit],
            on_ask,
            [db, schema, question],
            [sql, result, status],
            api_name="ask",
        )
        health_btn.click(on_health, None, health, api_name="health")
        demo.load(on_health, None, health, api_name=False)
    demo.queue(default_concurrency_limit=config.concurrency_limit, max_size=config.queue_size)
    return demo
