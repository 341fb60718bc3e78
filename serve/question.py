"""One question, start to finish: check the input, prompt the model exactly as it was trained, stream
its SQL, run it read-only in the SQL sandbox, describe every failure in one readable sentence.

Shared by the Gradio page, its API and `python -m tunebench.serve.ask`, so all behave the same. The
SQL runs on a sample database, an uploaded one, or an empty database built from a pasted schema; a
user's edit of the SQL runs the same way, without the model (`run_sql`).

Every failure says whose it is: `input` (the question, schema, SQL or file given), `model` (the model
or its server), `sql` (the statement: refused, wrong, too slow, too large).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tunebench.chat import ChatError, ChatModel, describe_error
from tunebench.serve.config import AppConfig
from tunebench.serve.context import PromptBudget, prompt_too_long
from tunebench.serve.pasted_schema import EmptyDatabases, SchemaError
from tunebench.serve.sql_runner import SqlRunner
from tunebench.sql.execute import SqlResult
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages

log = logging.getLogger(__name__)

WAITING, GENERATING, DONE, ERROR = "waiting", "generating", "done", "error"
PASTED_NOTE = " (an empty database built from the pasted schema)"
_TIMEOUTS = {"APITimeoutError", "TimeoutException", "ReadTimeout", "TimeoutError"}


@dataclass
class Step:
    """What the page shows at one moment."""

    state: str  # waiting | generating | done | error
    message: str
    text: str = ""  # the model's answer so far (raw while streaming, the extracted SQL when done)
    sql: str | None = None
    result: SqlResult | None = field(default=None, repr=False)
    failure: str | None = None  # for errors: input | model | sql (the app adds busy and internal)


def text_problem(value, what: str, limit: int) -> str | None:
    """Why `value` cannot be used as the `what` (not text, not valid Unicode, too long), or None."""
    if not isinstance(value, str):
        return f"the {what} must be text, not {type(value).__name__} ({str(value)[:40]})"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate: JSON carries it, no codec can
        bad = ord(value[err.start])
        return (
            f"the {what} contains U+{bad:04X} at character {err.start + 1}, half of a surrogate pair: "
            "not a character; retype or paste it again"
        )
    if len(value) > limit:
        return f"the {what} is too long ({len(value):,} characters; at most {limit:,})"
    return None


def describe_sql_failure(result: SqlResult, timeout_s: float) -> str:
    error = result.error or ""
    if result.timed_out:
        return f"the query was stopped after {timeout_s:g} s (time limit)"
    if result.too_large:
        return f"the query was stopped: its {error}"
    if "not authorized" in error or "authorization denied" in error or "readonly" in error:
        return f"refused: the demo runs SQL read-only and this statement is not authorized ({error})"
    if error.startswith("sandbox process died"):
        return f"the query was stopped: the SQL sandbox {error.split(': ', 1)[-1]}"
    return f"SQL error: {error}"


def describe_model_failure(err: BaseException, location: str, timeout_s: float | None) -> str:
    """One sentence for a model that failed; a token that never came says how long it was awaited."""
    cause = err.__cause__ if isinstance(err, ChatError) and err.__cause__ is not None else err
    if timeout_s and {c.__name__ for c in type(cause).__mro__} & _TIMEOUTS:
        return (
            f"the model server at {location} sent nothing for {timeout_s:g} s "
            "(overloaded or frozen); ask again in a moment"
        )
    return str(err) if isinstance(err, ChatError) else describe_error(err, location)


class QuestionPipeline:
    """Question + schema (+ database) -> streamed SQL -> rows, with `model` writing the SQL.

    `runner` runs the SQL (sandboxes; one of its own when not given), `budget` checks the prompt
    against the model's context, `unavailable` says why the model cannot be asked right now (its
    server is being restarted) or None, `timeout_s` is the wait for a token the client was given.
    """

    def __init__(
        self,
        model: ChatModel,
        config: AppConfig,
        pasted: EmptyDatabases | None = None,
        *,
        runner: SqlRunner | None = None,
        budget: PromptBudget | None = None,
        unavailable: Callable[[], str | None] | None = None,
        timeout_s: float | None = None,
    ):
        self.model, self.config = model, config
        self.pasted = pasted or EmptyDatabases()
        self._own_runner = runner is None
        self.runner = runner or SqlRunner(1)
        self.budget, self.unavailable, self.timeout_s = budget, unavailable, timeout_s

    def validate(self, question, schema) -> str | None:
        c = self.config
        problem = text_problem(question, "question", c.max_question_chars)
        if problem is None and not question.strip():
            problem = "type a question first"
        if problem is None:
            problem = text_problem(schema, "schema", c.max_schema_chars)
        if problem is None and not schema.strip():
            problem = "choose a sample database, paste a schema or upload a database"
        return problem

    def database(
        self, schema: str, db_path: Path | None, where: str = ""
    ) -> tuple[Path | None, str, str | None]:
        """(database, the note that ends a success message, None), or (None, "", why not): `db_path`
        itself, or an empty database built from the pasted `schema`."""
        if db_path is not None:
            return db_path, where, None
        try:
            return self.pasted.path_for(schema), PASTED_NOTE, None
        except SchemaError as err:
            return None, "", str(err)

    def run(self, question, schema, db_path: Path | None = None, *, where: str = "") -> Iterator[Step]:
        """Stream the SQL for `question`, then run it read-only on `db_path`, or (none given) on an
        empty database built from the pasted `schema`. `where` ends the message that rows came back."""
        problem = self.validate(question, schema)
        if problem is None:
            db_path, where, problem = self.database(schema, db_path, where)
        if problem:
            yield Step(ERROR, problem, failure="input")
            return
        question = question.strip()
        messages = sql_messages(schema, question)
        settings = self.config.settings
        if self.budget is not None:
            settings, problem = self.budget.fit(messages, settings, self.config.min_answer_tokens)
            if problem:
                yield Step(ERROR, problem, failure="input")
                return
        down = self.unavailable() if self.unavailable else None
        if down:
            yield Step(ERROR, f"model error: {down}", failure="model")
            return
        text = ""
        yield Step(GENERATING, "generating…")
        try:
            for piece in self.model.stream(messages, settings):
                text += piece
                yield Step(GENERATING, "generating…", text)
        except Exception as err:  # noqa: BLE001 - ChatError is one sentence already; others become one
            if isinstance(err, ChatError) and prompt_too_long(err):
                yield Step(ERROR, f"the prompt is too long for the model: {err}", text, failure="input")
                return
            message = describe_model_failure(err, self.model.location, self.timeout_s)
            yield Step(ERROR, f"model error: {message}", text, failure="model")
            return
        sql = extract_sql(text)
        if not sql:
            yield Step(ERROR, "the model returned no SQL", text, failure="model")
            return
        yield self.execute(sql, db_path, where)

    def run_sql(self, sql, schema, db_path: Path | None = None, *, where: str = "") -> Step:
        """A user's SQL (the model's, edited), run as the model's is: read-only, in the sandbox."""
        problem = text_problem(sql, "SQL", self.config.max_sql_chars)
        if problem is None and not (sql := sql.strip().rstrip(";").strip()):  # as typed: one statement
            problem = "type the SQL to run first"
        if problem is None and db_path is None:
            problem = text_problem(schema, "schema", self.config.max_schema_chars)
            if problem is None:
                db_path, where, problem = self.database(schema, None)
        if problem:
            return Step(ERROR, problem, sql if isinstance(sql, str) else None, failure="input")
        return self.execute(sql, db_path, where)

    def execute(self, sql: str, db_path: Path, where: str = "") -> Step:
        c = self.config
        result = self.runner.execute(db_path, sql, timeout_s=c.sql_timeout_s, max_rows=c.max_rows)
        if not result.ok:
            return Step(ERROR, describe_sql_failure(result, c.sql_timeout_s), sql, sql, result, failure="sql")
        n = len(result.rows)
        more = f" (only the first {c.max_rows} are shown)" if result.truncated else ""
        message = f"{n} row{'s' if n != 1 else ''} in {result.elapsed_s * 1000:.0f} ms{more}{where}"
        return Step(DONE, message, sql, sql, result)

    def close(self) -> None:
        if self._own_runner:
            self.runner.close()
