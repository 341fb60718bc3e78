"""The Gradio Blocks page: pick a sample database, paste a schema or upload your own SQLite file, ask,
watch the SQL stream in, see the rows (and a bar chart when they are one number per label), edit the
SQL and run it again. Errors are one sentence in the page; a traceback, if any, goes to the log.

Text nobody here wrote is quoted, never rendered (serve/render.py). The API is serve/api.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from tunebench.serve.api import register_api
from tunebench.serve.config import AppConfig
from tunebench.serve.models import ModelChoices
from tunebench.serve.question import DONE, ERROR, WAITING, Step
from tunebench.serve.render import chart_columns, human_size, labelled, quote, rows_frame
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.serve.service import INTERNAL, Target, TextToSql
from tunebench.serve.uploads import UploadError, remove

log = logging.getLogger(__name__)

PASTE_LABEL = "(paste a schema)"  # the page's dropdown entries; the API takes `schema` / `database_file`
UPLOAD_LABEL = "(upload a SQLite file)"
TITLE = "tunebench · text to SQL"
# Words, not emoji: a server or browser without an emoji font would show empty boxes.
_LABELS = {DONE: "Done:", ERROR: "Error:", WAITING: "Queued:"}


def status_html(step: Step) -> str:
    return labelled(_LABELS.get(step.state, "Working:"), step.message)


def health_html(health) -> str:
    state = (
        "<strong>live</strong>" if health.ok else f"<strong>not reachable:</strong> {quote(health.detail)}"
    )
    return f"<p><strong>Model</strong> {quote(health.model)} · {quote(health.location)} · {state}</p>"


def result_updates(step: Step):
    """The rows table and the chart: shown for rows, hidden for an error, left alone while streaming."""
    if step.state == DONE and step.result is not None:
        columns, rows = step.result.columns, step.result.rows
        frame = rows_frame(columns, rows)
        chart = chart_columns(columns, frame.values.tolist())
        bars = bar_chart(frame, chart) if chart else gr.BarPlot(value=None, visible=False)
        return gr.Dataframe(value=frame, visible=True), bars
    if step.state in (ERROR, WAITING) or not step.text:
        return gr.Dataframe(value=None, visible=False), gr.BarPlot(value=None, visible=False)
    return gr.skip(), gr.skip()  # streaming: leave them alone instead of resending them per token


def bar_chart(frame, chart: tuple[str, str]) -> gr.BarPlot:
    """Bars in the rows' own order (the SQL's ORDER BY, not alphabetical), from zero (a bar's height
    is its value: an axis starting at the smallest would hide the smallest bar)."""
    label, value = chart
    frame = frame[[label, value]]
    values = frame[value].astype(float)
    low, high = min(0.0, values.min()), max(0.0, values.max())
    return gr.BarPlot(
        value=frame,
        x=label,
        y=value,
        sort=list(dict.fromkeys(frame[label])),
        y_lim=[low, high if high > low else low + 1],
        visible=True,
    )


def launch(demo: gr.Blocks, config: AppConfig, *, host: str, port: int) -> None:
    """Start the page's server: enough threads for every admitted question plus the page's small
    events, and uploads bounded by size before they are stored."""
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        max_threads=config.concurrency_limit + config.queue_size + 16,
        max_file_size=config.max_upload_bytes,
    )


def build_app(
    models: ModelChoices,
    config: AppConfig | None = None,
    samples: SampleDatabases | None = None,
    *,
    server_state=None,
) -> gr.Blocks:
    """The page and its API. `server_state()`: why a supervised model server cannot answer now, or None."""
    config = config or AppConfig()
    samples = samples or SampleDatabases.load(config.data_dir)
    service = TextToSql(models, config, samples, server_state=server_state)
    first = samples.ids[0]
    db_choices = [*samples.ids, PASTE_LABEL, UPLOAD_LABEL]

    def target_for(db_id: str, schema: str, request: gr.Request) -> Target:
        if db_id == UPLOAD_LABEL:
            uploaded = service.uploads.get(request.session_hash)
            if uploaded is None:
                raise ValueError("upload a SQLite file first (.sqlite or .db)")
            return service.target("", "", uploaded)
        return service.target("" if db_id == PASTE_LABEL else db_id, schema if db_id == PASTE_LABEL else "")

    def on_db(db_id: str, request: gr.Request):
        hidden = (gr.Dataframe(value=None, visible=False), gr.BarPlot(value=None, visible=False))
        if db_id in (PASTE_LABEL, UPLOAD_LABEL):
            uploaded = service.uploads.get(request.session_hash) if db_id == UPLOAD_LABEL else None
            box = (
                gr.Textbox(value="", interactive=True, placeholder="CREATE TABLE …;")
                if db_id == PASTE_LABEL
                else gr.Textbox(
                    value=uploaded.schema if uploaded else "",
                    interactive=False,
                    placeholder="upload a SQLite file",
                )
            )
            return box, gr.Dataset(samples=[]), gr.File(visible=db_id == UPLOAD_LABEL), *hidden
        examples = [[q] for q in samples.examples(db_id, config.examples_per_db)]
        return (
            gr.Textbox(value=samples.schema(db_id), interactive=False),
            gr.Dataset(samples=examples),
            gr.File(visible=False),
            *hidden,
        )

    def on_upload(file_path: str | None, request: gr.Request):
        if not file_path:
            service.uploads.drop(request.session_hash)
            return gr.Textbox(value=""), ""
        try:
            uploaded = service.uploads.add(request.session_hash, file_path, Path(file_path).name)
        except UploadError as err:
            return gr.Textbox(value=""), labelled("Error:", str(err))
        finally:
            remove(Path(file_path))  # gradio's cached copy: the private one is all that is kept
        tables = f"{uploaded.tables} table{'s' if uploaded.tables != 1 else ''}"
        message = f"loaded {uploaded.name} ({human_size(uploaded.size)}, {tables}): ask it a question"
        return gr.Textbox(value=uploaded.schema), labelled("Done:", message)

    def on_ask(db_id: str, schema: str, question: str, model: str, request: gr.Request):
        try:
            target = target_for(db_id, schema, request)
        except ValueError as err:
            step = Step(ERROR, str(err), failure="input")
            yield gr.skip(), *result_updates(step), status_html(step)
            return
        try:
            for step in service.steps(question, target, model):
                yield step.text, *result_updates(step), status_html(step)
        except Exception:
            log.exception("unexpected failure answering %r", question)
            yield gr.skip(), gr.skip(), gr.skip(), labelled("Error:", INTERNAL)

    def on_run_sql(db_id: str, schema: str, sql: str, request: gr.Request):
        try:
            step = service.run_sql(sql, target_for(db_id, schema, request))
        except ValueError as err:
            step = Step(ERROR, str(err), failure="input")
        return *result_updates(step), status_html(step)

    def on_health(model: str | None = None) -> str:
        try:
            return health_html(service.health_of(model or None))
        except Exception as err:  # noqa: BLE001 - an unknown model name: one line
            return labelled("Model:", f"{model} · {err}")

    def on_unload(request: gr.Request) -> None:
        service.uploads.drop(request.session_hash)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nAsk a question about a sample database, a schema you paste or a SQLite file you "
            "upload. The model writes the SQL; the demo runs it **read-only** and shows the rows."
        )
        with gr.Row():
            health_box = gr.HTML("<p>checking the model…</p>", elem_id="health")
            health_btn = gr.Button("Check model", size="sm", scale=0, elem_id="health-btn")
        with gr.Row():
            with gr.Column(scale=2):
                model = gr.Dropdown(
                    [(c.label, c.name) for c in models.choices],
                    value=models.default_name,
                    label="Model",
                    elem_id="model",
                )
                db = gr.Dropdown(db_choices, value=first, label="Database", elem_id="db")
                upload = gr.File(
                    label=f"Your SQLite database (read only, at most {human_size(config.max_upload_bytes)}; "
                    "removed when you close the page)",
                    file_types=[".sqlite", ".sqlite3", ".db"],
                    type="filepath",
                    visible=False,
                    elem_id="upload",
                )
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
        sql = gr.Code(
            label="SQL (edit it and run it again)", language="sql", interactive=True, lines=3, elem_id="sql"
        )
        run_btn = gr.Button("Run this SQL (read-only)", size="sm", elem_id="run-sql-btn")
        status = gr.HTML(elem_id="status")
        result = gr.Dataframe(label="Rows", interactive=False, wrap=True, visible=False, elem_id="result")
        chart = gr.BarPlot(visible=False, elem_id="chart", label="Chart")
        timer = gr.Timer(max(config.health_every_s * 2, 2.0))

        private = {"api_visibility": "private"}
        quick = {"api_visibility": "private", "queue": False}  # no model: never waits behind questions
        db.change(on_db, db, [schema, examples, upload, result, chart], **quick)
        upload.change(on_upload, upload, [schema, status], **private)
        examples.click(lambda sample: sample[0], examples, question, **quick)
        gr.on(
            [ask_btn.click, question.submit],
            on_ask,
            [db, schema, question, model],
            [sql, result, chart, status],
            concurrency_limit=None,  # the service's admission line decides who waits (serve/admission.py)
            **private,
        )
        run_btn.click(
            on_run_sql, [db, schema, sql], [result, chart, status], concurrency_limit=None, **private
        )
        gr.on([health_btn.click, model.change, demo.load, timer.tick], on_health, model, health_box, **quick)
        demo.unload(on_unload)
        register_api(demo, service)
    # The queue never refuses (max_size=None): the admission line answers the overflow in words.
    demo.queue(default_concurrency_limit=config.concurrency_limit, max_size=None)
    demo.service = service  # for the launcher and tests: close() it after the page
    return demo
