"""The Gradio Blocks page: pick a sample database or paste a schema, ask, watch the SQL stream in,
see the rows. Errors (model server down, SQL refused or wrong, time limit) are shown in the page as
one sentence; the traceback, if any, goes to the server log only.

API users (`gradio_client`, docs/serve.md) get two endpoints: `/ask(question, database, schema, model)`
returns the SQL and its rows as JSON, `/health` the health line. The page's own streaming events are
not part of the API.
"""

from __future__ import annotations

import logging

import gradio as gr
import pandas as pd

from tunebench.chat import ChatError
from tunebench.serve.config import AppConfig
from tunebench.serve.models import ModelChoices
from tunebench.serve.pasted_schema import EmptyDatabases
from tunebench.serve.question import DONE, ERROR, QuestionPipeline, Step, check_health
from tunebench.serve.sample_dbs import SampleDatabases

log = logging.getLogger(__name__)

PASTE_LABEL = "(paste a schema)"  # the page's dropdown entry; the API takes a schema without it
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


def step_json(step: Step, model: str) -> dict:
    """The API's answer: what the page shows, as data."""
    result = step.result
    return {
        "ok": step.state == DONE,
        "sql": step.sql,
        "columns": result.columns if result is not None and step.state == DONE else [],
        "rows": [list(r) for r in result.rows] if result is not None and step.state == DONE else [],
        "truncated": bool(result and result.truncated),
        "message": step.message,
        "failure": step.failure,  # None, or input | model | sql
        "model": model,
    }


class TextToSql:
    """What both the page and the API do with a question."""

    def __init__(self, models: ModelChoices, config: AppConfig, samples: SampleDatabases):
        self.models, self.config, self.samples = models, config, samples
        self.pasted = EmptyDatabases()

    def steps(self, question: str, database: str | None, schema: str | None, model: str | None):
        """Steps for a sample `database`, or (no database) for a pasted `schema`."""
        try:
            chat_model = self.models.get(model)
        except ChatError as err:
            yield Step(ERROR, str(err), failure="input")
            return
        pipeline = QuestionPipeline(chat_model, self.config, self.pasted)
        if database:
            try:
                db_path = self.samples.path(database)
            except KeyError as err:
                yield Step(ERROR, err.args[0], failure="input")
                return
            # what the model was trained on, whatever a schema argument or the textbox says
            yield from pipeline.run(question, self.samples.schema(database), db_path)
        else:
            yield from pipeline.run(question, schema or "", None)

    def ask(self, question: str, database: str = "", schema: str = "", model: str = "") -> dict:
        """Text to SQL. Give `database` (a sample database id, e.g. "school") or `schema` (CREATE TABLE
        statements: the SQL then runs on an empty database built from them), and optionally `model`
        (one of the page's model choices; default: the first). Returns ok, sql, columns, rows,
        truncated, message, failure (input | model | sql) and model."""
        try:
            steps = list(self.steps(question, database or None, schema, model or None))
        except Exception:
            log.exception("unexpected failure answering %r", question)
            return step_json(Step(ERROR, "internal error (the server log has the details)"), model)
        return step_json(steps[-1], model or self.models.labels[0])


def build_app(
    models: ModelChoices, config: AppConfig | None = None, samples: SampleDatabases | None = None
) -> gr.Blocks:
    config = config or AppConfig()
    samples = samples or SampleDatabases.load(config.data_dir)
    service = TextToSql(models, config, samples)
    first = samples.ids[0]
    db_choices = [*samples.ids, PASTE_LABEL]

    def on_db(db_id: str):
        if db_id == PASTE_LABEL:
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

    def on_ask(db_id: str, schema: str, question: str, model: str):
        database = None if db_id == PASTE_LABEL else db_id
        try:
            for i, step in enumerate(service.steps(question, database, schema, model)):
                yield step.text, table_update(step, first=i == 0), _status(step)
        except Exception:
            log.exception("unexpected failure answering %r", question)
            yield gr.skip(), gr.skip(), "**Error:** internal error (the server log has the details)"

    def on_health(model: str | None = None) -> str:
        try:
            return check_health(models.get(model)).markdown()
        except ChatError as err:
            return f"**Model** `{model}` · **not reachable**: {err}"

    def health(model: str = "") -> str:
        """The health line: which model answers, where, and whether it is live."""
        return on_health(model or None)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nAsk a question about a sample database (or paste a schema). The model writes the "
            "SQL; the demo runs it **read-only** and shows the rows."
        )
        with gr.Row():
            health_md = gr.Markdown("checking the model…", elem_id="health")
            health_btn = gr.Button("Check model", size="sm", scale=0, elem_id="health-btn")
        with gr.Row():
            with gr.Column(scale=2):
                model = gr.Dropdown(models.labels, value=models.labels[0], label="Model", elem_id="model")
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
                ask_btn = gr.Button("Generate SQL", variant="primary", elem_id="ask-btn")
                examples = gr.Dataset(
                    components=[question],
                    samples=[[q] for q in samples.examples(first, config.examples_per_db)],
                    label="Examples (held-out test questions)",
                    elem_id="examples",
                )
        sql = gr.Code(label="SQL", language="sql", interactive=False, lines=3, elem_id="sql")
        status = gr.Markdown(elem_id="status")
        result = gr.Dataframe(label="Rows", interactive=False, wrap=True, visible=False, elem_id="result")

        private = {"api_visibility": "private"}
        db.change(on_db, db, [schema, examples, result], **private)
        examples.click(lambda sample: sample[0], examples, question, **private)
        gr.on(
            [ask_btn.click, question.submit],
            on_ask,
            [db, schema, question, model],
            [sql, result, status],
            **private,
        )
        health_btn.click(on_health, model, health_md, **private)
        model.change(on_health, model, health_md, **private)
        demo.load(on_health, model, health_md, **private)
        gr.api(service.ask, api_name="ask")
        gr.api(health, api_name="health")
    demo.queue(default_concurrency_limit=config.concurrency_limit, max_size=config.queue_size)
    return demo
