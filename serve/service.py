"""What the page and the API both do: pick the database a question is asked of, wait for a turn at the
model, answer, and describe the answer as data (`answer_json`).

One database per question: a sample database (its own schema is what the model sees), a pasted
schema (an empty database built from it) or an uploaded SQLite file. Giving two is refused rather
than one silently ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tunebench.chat import ChatError, RemoteChatModel
from tunebench.serve.admission import Admission, Busy
from tunebench.serve.config import AppConfig
from tunebench.serve.context import PromptBudget, budget_for
from tunebench.serve.health import Health, HealthMonitor
from tunebench.serve.models import ModelChoices
from tunebench.serve.pasted_schema import EmptyDatabases
from tunebench.serve.question import DONE, ERROR, WAITING, QuestionPipeline, Step, text_problem
from tunebench.serve.render import chart_columns, display_rows
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.serve.sql_runner import SqlRunner
from tunebench.serve.uploads import Uploaded, UploadedDatabases, UploadError

log = logging.getLogger(__name__)
INTERNAL = "internal error (the server log has the details)"


@dataclass(frozen=True)
class Target:
    """The database a question is asked of."""

    label: str  # what the answer's `database` field says
    schema: str  # what the model sees
    path: Path | None  # None: the pasted schema's empty database, built by the pipeline
    where: str = ""  # how a success message names it


def answer_json(step: Step, model: str, database: str = "") -> dict:
    """The API's answer: what the page shows, as data (blobs as X'..' hex, like the page)."""
    result = step.result if step.state == DONE else None
    columns = list(result.columns) if result is not None else []
    rows = display_rows(result.rows) if result is not None else []
    chart = chart_columns(columns, rows) if result is not None else None
    return {
        "ok": step.state == DONE,
        "state": step.state,
        "message": step.message,
        "failure": step.failure,
        "sql": step.sql,
        "text": step.text,
        "columns": columns,
        "rows": rows,
        "truncated": bool(result is not None and result.truncated),
        "chart": {"label": chart[0], "value": chart[1]} if chart else None,
        "model": model,
        "database": database,
    }


class TextToSql:
    def __init__(
        self,
        models: ModelChoices,
        config: AppConfig,
        samples: SampleDatabases,
        *,
        server_state: Callable[[], str | None] | None = None,
    ):
        self.models, self.config, self.samples = models, config, samples
        self.server_state = server_state
        self.pasted = EmptyDatabases()
        self.runner = SqlRunner(config.concurrency_limit)
        self.uploads = UploadedDatabases(
            self.runner, max_bytes=config.max_upload_bytes, max_schema_chars=config.max_schema_chars
        )
        self.admission = Admission(config.concurrency_limit, config.queue_size)
        self.health = HealthMonitor(
            every_s=config.health_every_s, timeout_s=config.health_timeout_s, override=server_state
        )
        self._budgets: dict[str, PromptBudget | None] = {}
        for name, model in models.opened().items():
            self.health.watch(name, model)

    # ── databases ───────────────────────────────────────────────────────────────────────────────
    def target(self, database, schema, uploaded: Uploaded | None = None) -> Target:
        """The one database asked of; raises ValueError (one sentence) for none, two, or an unknown id."""
        given = [n for n, v in (("database", database), ("schema", schema), ("database_file", uploaded)) if v]
        if len(given) > 1:
            raise ValueError(
                f"give one of database, schema or database_file, not {' and '.join(given)}: "
                "the SQL runs on one database, and the model sees its schema"
            )
        if uploaded is not None:
            return Target(
                f"uploaded {uploaded.name}",
                uploaded.schema,
                uploaded.path,
                f" (your database {uploaded.name})",
            )
        if database:
            problem = text_problem(database, "database", 200)
            if problem:
                raise ValueError(problem)
            try:
                path = self.samples.path(database)
            except KeyError as err:
                raise ValueError(err.args[0]) from None
            return Target(database, self.samples.schema(database), path)
        if schema:
            return Target("pasted schema", schema, None)
        raise ValueError("choose a sample database, paste a schema or upload a database")

    def load_upload(self, file_path: str | Path, name: str | None = None) -> Uploaded:
        return self.uploads.load(file_path, name)

    # ── answering ───────────────────────────────────────────────────────────────────────────────
    def pipeline(self, model_name: str | None) -> tuple[str, QuestionPipeline]:
        choice = self.models.choice(model_name)
        model = self.models.get(choice.name)
        self.health.watch(choice.name, model)
        if choice.name not in self._budgets:
            self._budgets[choice.name] = budget_for(model)
        remote = isinstance(model, RemoteChatModel)
        pipeline = QuestionPipeline(
            model,
            self.config,
            self.pasted,
            runner=self.runner,
            budget=self._budgets[choice.name],
            unavailable=self.server_state if remote else None,
            timeout_s=self.models.config.timeout_s if remote else None,
        )
        return choice.name, pipeline

    def steps(self, question, target: Target, model: str | None) -> Iterator[Step]:
        """The page's and the API's steps: input checked, a place in line, the model's SQL, the rows."""
        self.models.choice(model)  # an unknown name is the caller's mistake: ChatError, as input
        try:
            _, pipeline = self.pipeline(model)
        except ChatError as err:  # a known model that cannot be opened (an adapter's base is missing)
            yield Step(ERROR, f"model error: {err}", failure="model")
            return
        problem = pipeline.validate(question, target.schema)
        db_path, where = target.path, target.where
        if problem is None:
            db_path, where, problem = pipeline.database(target.schema, db_path, where)
        if problem:
            yield Step(ERROR, problem, failure="input")
            return
        try:
            with self.admission.enter() as ticket:
                for ahead in ticket.wait_turn():
                    yield Step(WAITING, waiting_message(ahead))
                yield from pipeline.run(question, target.schema, db_path, where=where)
        except Busy as busy:
            yield Step(ERROR, str(busy), failure="busy")

    def answers(self, question, database, schema, model, uploaded: Uploaded | None = None) -> Iterator[dict]:
        """`/ask` as data, step by step; every failure is an answer (never an exception)."""
        name = ""
        try:
            name = self.models.choice(model or None).name
            target = self.target(database, schema, uploaded)
            for step in self.steps(question, target, name):
                yield answer_json(step, name, target.label)
        except (ChatError, ValueError, UploadError) as err:
            yield answer_json(Step(ERROR, str(err), failure="input"), name or str(model), "")
        except Exception:
            log.exception("unexpected failure answering %r", question)
            yield answer_json(Step(ERROR, INTERNAL, failure="internal"), name or self.models.default_name)

    def run_sql(self, sql, target: Target) -> Step:
        """A user's SQL on the target, through the same sandboxes and limits; no model is asked."""
        pipeline = QuestionPipeline(self.models.default, self.config, self.pasted, runner=self.runner)
        return pipeline.run_sql(sql, target.schema, target.path, where=target.where)

    def health_of(self, model: str | None) -> Health:
        name = self.models.choice(model).name
        self.health.watch(name, self.models.get(name))
        return self.health.get(name)

    def close(self) -> None:
        self.health.close()
        self.runner.close()
        self.uploads.close()
        self.pasted.close()


def waiting_message(ahead: int) -> str:
    if ahead == 0:
        return "waiting for the model: yours is next"
    return f"waiting for the model: {ahead} question{'s' if ahead != 1 else ''} ahead of yours"
