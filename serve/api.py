"""The API programs use (`gradio_client`, docs/serve.md), typed and described so `Client.view_api()`
says what each field is:

    /ask(question, database="", schema="", model="", database_file=None) -> Answer   (streams)
    /run_sql(sql, database="", schema="", database_file=None) -> Answer
    /models() -> [Model]      /databases() -> [Database]      /examples(database) -> [str]
    /health(model="") -> HealthInfo

`/ask` is a generator: `client.predict` returns the final answer, `client.submit` streams every step
(waiting, the SQL as it is written, the rows). The page's own events are not part of the API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TypedDict

import gradio as gr
from gradio.data_classes import FileData
from gradio.utils import get_function_description
from gradio_client.utils import python_type_to_json_schema

from tunebench.chat import ChatError
from tunebench.serve.question import ERROR, Step
from tunebench.serve.service import INTERNAL, TextToSql, answer_json
from tunebench.serve.uploads import UploadError, remove

log = logging.getLogger(__name__)


class Chart(TypedDict):
    label: str  # the column of labels (x axis)
    value: str  # the column of numbers (bar heights)


class Answer(TypedDict):
    ok: bool  # rows came back
    state: Literal["waiting", "generating", "done", "error"]
    message: str  # the page's status line
    failure: Literal["input", "model", "sql", "busy", "internal"] | None
    sql: str | None  # the statement that ran (or was refused)
    text: str  # the model's answer so far, as written
    columns: list[str]
    rows: list[list]  # at most the app's row limit; blobs as X'…' hex
    truncated: bool  # more rows than the limit
    chart: Chart | None  # one number per label: the page draws bars
    model: str  # the model's stable name
    database: str  # what the SQL ran on: a sample id, "pasted schema", "uploaded <file>"


class Model(TypedDict):
    name: str  # pass this as `model`
    label: str  # what the page's menu shows
    kind: str  # "model" or "LoRA adapter (unmerged)"
    default: bool


class Database(TypedDict):
    id: str  # pass this as `database`
    tables: list[str]
    schema: str  # exactly what the model sees
    examples: list[str]  # held-out test questions


class HealthInfo(TypedDict):
    model: str
    location: str  # "in this process" or the server's URL
    live: bool
    detail: str  # "live", or why not (restarting, unreachable, not answering)


def _upload(service: TextToSql, database_file: FileData | dict | None):
    """The uploaded file as a private copy (and gradio's cached copy removed), or None."""
    if not database_file:
        return None
    path = Path(database_file["path"])
    try:
        return service.load_upload(path, database_file.get("orig_name") or path.name)
    finally:
        remove(path)


def _describe(demo: gr.Blocks, dependency, fn, returns: type) -> None:
    """Put each parameter's description (from `fn`'s docstring) and the return type in the API info."""
    _, params, _ = get_function_description(fn)
    block_fn = demo.fns[dependency["id"]]
    for component, name in zip(block_fn.inputs, params, strict=False):
        component._api_info = {**component._api_info, "additional_description": params[name]}
    for component in block_fn.outputs:
        name = getattr(returns, "__name__", None) or str(returns)
        component._api_info = {**python_type_to_json_schema(returns), "description": name}


def register_api(demo: gr.Blocks, service: TextToSql) -> None:
    models, samples, config = service.models, service.samples, service.config

    def ask(
        question: str,
        database: str = "",
        schema: str = "",
        model: str = "",
        database_file: FileData | None = None,
    ) -> Iterator[Answer]:
        """Text to SQL: the model writes SQL for the question, the app runs it read-only and returns the rows.
        Give exactly one of database, schema or database_file. Streams: predict() returns the final answer,
        submit() yields every step (waiting, generating with the SQL so far, done or error).

        Parameters:
            question: the question in English (at most 500 characters)
            database: a sample database id (see /databases), e.g. "school"
            schema: CREATE TABLE statements; the SQL then runs on an empty database built from them
            model: a model name from /models (default: the first)
            database_file: your own SQLite file (handle_file(path)); read only, removed after the answer
        """
        try:
            uploaded = _upload(service, database_file)
        except UploadError as err:
            yield answer_json(Step(ERROR, str(err), failure="input"), models.default_name)
            return
        try:
            yield from service.answers(question, database, schema, model, uploaded)
        finally:
            if uploaded is not None:
                remove(uploaded.path)

    def run_sql(
        sql: str, database: str = "", schema: str = "", database_file: FileData | None = None
    ) -> Answer:
        """Run SQL (the model's, edited) read-only with the same sandbox and limits as /ask, no model involved.

        Parameters:
            sql: one SQL statement
            database: a sample database id (see /databases)
            schema: CREATE TABLE statements (the SQL runs on an empty database built from them)
            database_file: your own SQLite file (handle_file(path))
        """
        uploaded = None
        try:
            uploaded = _upload(service, database_file)
            target = service.target(database, schema, uploaded)
            return answer_json(service.run_sql(sql, target), "", target.label)
        except (ValueError, UploadError, ChatError) as err:
            return answer_json(Step(ERROR, str(err), failure="input"), "", "")
        except Exception:
            log.exception("unexpected failure running %r", sql)
            return answer_json(Step(ERROR, INTERNAL, failure="internal"), "", "")
        finally:
            if uploaded is not None:
                remove(uploaded.path)

    def list_models() -> list[Model]:
        """The models this app offers; pass a name as /ask's model."""
        return [
            {"name": c.name, "label": c.label, "kind": c.kind, "default": i == 0}
            for i, c in enumerate(models.choices)
        ]

    def list_databases() -> list[Database]:
        """The sample databases: id, tables, the schema the model sees, example questions."""
        return [
            {
                "id": db_id,
                "tables": samples.tables(db_id),
                "schema": samples.schema(db_id),
                "examples": samples.examples(db_id, config.examples_per_db),
            }
            for db_id in samples.ids
        ]

    def examples(database: str) -> list[str]:
        """Example questions for a sample database (held-out test questions, easy ones first).

        Parameters:
            database: a sample database id (see /databases)
        """
        return samples.examples(database, config.examples_per_db) if database in samples.paths else []

    def health(model: str = "") -> HealthInfo:
        """Which model answers, where, and whether it is live; answers at once (checked in the background).

        Parameters:
            model: a model name from /models (default: the first)
        """
        try:
            return service.health_of(model or None).to_json()
        except ChatError as err:
            return {"model": model, "location": "", "live": False, "detail": str(err)}

    ask_dep = gr.api(ask, api_name="ask", concurrency_limit=None)
    _describe(demo, ask_dep, ask, Answer)
    sql_dep = gr.api(run_sql, api_name="run_sql", concurrency_limit=None)
    _describe(demo, sql_dep, run_sql, Answer)
    for fn, name, returns in (
        (list_models, "models", list[Model]),
        (list_databases, "databases", list[Database]),
        (examples, "examples", list[str]),
        (health, "health", HealthInfo),
    ):
        # no model, no queue: these answer at once even when every generation slot is taken
        _describe(demo, gr.api(fn, api_name=name, queue=False), fn, returns)
