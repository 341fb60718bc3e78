"""One question, start to finish: check the input, prompt the model exactly as it was trained,
stream its SQL, run it read-only, describe every failure in one readable sentence.

Shared by the Gradio page, its `/ask` API and `python -m tunebench.serve.ask`, so all behave the same.
The SQL runs on the chosen sample database, or on an empty database built from a pasted schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tunebench.chat import ChatError, ChatModel, describe_error
from tunebench.serve.config import AppConfig
from tunebench.serve.pasted_schema import EmptyDatabases, SchemaError
from tunebench.sql.execute import SqlResult, execute_readonly
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages

log = logging.getLogger(__name__)

GENERATING, DONE, ERROR = "generating", "done", "error"


@dataclass
class Step:
    """What the page shows at one moment."""

    state: str  # generating | done | error
    message: str
    text: str = ""  # the model's answer so far (raw while streaming, the extracted SQL when done)
    sql: str | None = None
    result: SqlResult | None = field(default=None, repr=False)
    failure: str | None = None  # for errors: input | model | sql


@dataclass(frozen=True)
class Health:
    """Which model answers and where; `detail` says why not when it cannot be reached."""

    model: str
    location: str
    ok: bool
    detail: str  # "live", or why not

    def markdown(self) -> str:
        state = "**live**" if self.ok else f"**not reachable**: {self.detail}"
        return f"**Model** `{self.model}` · `{self.location}` · {state}"

    def line(self) -> str:
        return f"model: {self.model} · {self.location} · {'live' if self.ok else self.detail}"


def check_health(model: ChatModel) -> Health:
    """Ask the model (or its server) who answers; never raises."""
    # a server that cannot be asked is named as the spec names it (`#served-name`), else by the spec
    name = getattr(getattr(model, "spec", None), "served_name", None) or model.name
    try:
        return Health(model.probe(), model.location, True, "live")
    except ChatError as err:
        return Health(name, model.location, False, str(err))
    except Exception as err:  # noqa: BLE001 - any client failure becomes one sentence
        return Health(name, model.location, False, describe_error(err, model.location))


def describe_sql_failure(result: SqlResult, timeout_s: float) -> str:
    if result.timed_out:
        return f"the query was stopped after {timeout_s:g} s (time limit)"
    error = result.error or ""
    if "not authorized" in error or "readonly" in error:
        return f"refused: the demo runs SQL read-only and this statement is not authorized ({error})"
    return f"SQL error: {error}"


class QuestionPipeline:
    """Question + schema (+ database) -> streamed SQL -> rows, with `model` writing the SQL."""

    def __init__(self, model: ChatModel, config: AppConfig, pasted: EmptyDatabases | None = None):
        self.model = model
        self.config = config
        self.pasted = pasted or EmptyDatabases()

    def validate(self, question: str, schema: str) -> str | None:
        c = self.config
        if not question:
            return "type a question first"
        if len(question) > c.max_question_chars:
            return f"the question is too long ({len(question)} characters; at most {c.max_question_chars})"
        if not schema.strip():
            return "choose a sample database or paste a schema"
        if len(schema) > c.max_schema_chars:
            return f"the schema is too long ({len(schema)} characters; at most {c.max_schema_chars})"
        return None

    def run(self, question: str, schema: str, db_path: Path | None = None) -> Iterator[Step]:
        """Stream the SQL for `question`, then run it read-only on `db_path`, or (none given) on an
        empty database built from the pasted `schema`."""
        question, schema = (question or "").strip(), schema or ""
        problem = self.validate(question, schema)
        if problem is None and db_path is None:
            try:
                db_path = self.pasted.path_for(schema)
            except SchemaError as err:
                problem = str(err)
        if problem:
            yield Step(ERROR, problem, failure="input")
            return
        text = ""
        yield Step(GENERATING, "generating…")
        try:
            for piece in self.model.stream(sql_messages(schema, question), self.config.settings):
                text += piece
                yield Step(GENERATING, "generating…", text)
        except Exception as err:  # noqa: BLE001 - ChatError is one sentence already; others become one
            message = str(err) if isinstance(err, ChatError) else describe_error(err, self.model.location)
            yield Step(ERROR, f"model error: {message}", text, failure="model")
            return
        sql = extract_sql(text)
        if not sql:
            yield Step(ERROR, "the model returned no SQL", text, failure="model")
            return
        result = execute_readonly(
            db_path, sql, timeout_s=self.config.sql_timeout_s, max_rows=self.config.max_rows
        )
        if not result.ok:
            fail = describe_sql_failure(result, self.config.sql_timeout_s)
            yield Step(ERROR, fail, sql, sql, result, failure="sql")
            return
        n = len(result.rows)
        more = f" (only the first {self.config.max_rows} are shown)" if result.truncated else ""
        where = (
            " (an empty database built from the pasted schema)" if db_path.parent == self.pasted.root else ""
        )
        yield Step(
            DONE,
            f"{n} row{'s' if n != 1 else ''} in {result.elapsed_s * 1000:.0f} ms{more}{where}",
            sql,
            sql,
            result,
        )
