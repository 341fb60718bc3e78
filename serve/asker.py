"""One question, start to finish: check the input, prompt the model exactly as it was trained,
stream its SQL, run it read-only, describe every failure in one readable sentence.

Shared by the Gradio page and `python -m tunebench.serve.ask`, so both behave the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tunebench.prompts import sql_messages
from tunebench.serve.backends import Backend, BackendError
from tunebench.serve.config import AppConfig
from tunebench.sql_exec import SqlResult, execute_readonly
from tunebench.sql_text import extract_sql

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
    failure: str | None = None  # for errors: input | backend | model | sql


def check_schema(schema: str) -> str | None:
    """Why a pasted schema cannot be used, or None. It must parse as CREATE TABLE statements."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(schema, read="sqlite") if s is not None]
    except sqlglot.errors.ParseError as err:
        return f"the schema does not parse as SQL: {str(err).splitlines()[0]}"
    if not statements:
        return "the schema is empty: paste CREATE TABLE statements"
    bad = [s for s in statements if not (isinstance(s, exp.Create) and s.kind == "TABLE")]
    if bad:
        return f"the schema may contain only CREATE TABLE statements (found: {bad[0].sql()[:60]})"
    return None


def describe_sql_failure(result: SqlResult, timeout_s: float) -> str:
    if result.timed_out:
        return f"the query was stopped after {timeout_s:g} s (time limit)"
    error = result.error or ""
    if "not authorized" in error or "readonly" in error:
        return f"refused: the demo runs SQL read-only and this statement is not authorized ({error})"
    return f"SQL error: {error}"


class Asker:
    def __init__(self, backend: Backend, config: AppConfig):
        self.backend = backend
        self.config = config

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

    def run(self, question: str, schema: str, db_path: Path | None) -> Iterator[Step]:
        """Stream the SQL for `question`; with `db_path`, run it read-only and return its rows."""
        question = (question or "").strip()
        schema = schema or ""
        problem = self.validate(question, schema)
        if problem is None and db_path is None:
            problem = check_schema(schema)
        if problem:
            yield Step(ERROR, problem, failure="input")
            return
        messages = sql_messages(schema, question)
        text = ""
        yield Step(GENERATING, "generating…")
        try:
            for piece in self.backend.stream(
                messages, max_new_tokens=self.config.max_new_tokens, temperature=self.config.temperature
            ):
                text += piece
                yield Step(GENERATING, "generating…", text)
        except BackendError as err:
            yield Step(ERROR, f"model backend error: {err}", text, failure="backend")
            return
        sql = extract_sql(text)
        if not sql:
            yield Step(ERROR, "the model returned no SQL", text, failure="model")
            return
        if db_path is None:
            yield Step(DONE, "SQL generated (a pasted schema has no rows to run it on)", sql, sql)
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
        yield Step(
            DONE,
            f"{n} row{'s' if n != 1 else ''} in {result.elapsed_s * 1000:.0f} ms{more}",
            sql,
            sql,
            result,
        )
