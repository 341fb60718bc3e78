"""Which model answers, where, and whether it is live: checked in the background, read at once.

`/health`, the page's health line and the start-up line never wait on the model server: a frozen
server would otherwise hold each of them for the client's whole timeout. A background thread asks
every model the app has opened (`GET /v1/models`, at most `timeout_s`) every `every_s` seconds and
keeps the answer; a reader gets the latest one. When `make serve` supervises the server, the
supervisor's own state (restarting, given up) is what the line says.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tunebench.chat import ChatError, ChatModel, RemoteChatModel, describe_error

log = logging.getLogger(__name__)
THREAD = "health"


class _NotFromTheHealthThread(logging.Filter):
    """`describe_error` logs every failed request; a check every 2 s of a server that is down would
    fill the log with the same line. The monitor logs changes of state instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD


logging.getLogger("tunebench.chat").addFilter(_NotFromTheHealthThread())


@dataclass(frozen=True)
class Health:
    """Which model answers and where; `detail` says why not when it cannot be reached."""

    model: str  # the model's stable name (serve/models.py)
    location: str
    ok: bool
    detail: str  # "live", or why not
    checked_at: float = 0.0  # time.monotonic() of the check; 0: not checked yet

    def line(self) -> str:
        return f"model: {self.model} · {self.location} · {'live' if self.ok else self.detail}"

    def to_json(self) -> dict:
        return {"model": self.model, "location": self.location, "live": self.ok, "detail": self.detail}


def probe(name: str, model: ChatModel, timeout_s: float) -> Health:
    """Ask the model (its server) whether it answers, waiting at most `timeout_s`; never raises."""
    now = time.monotonic()
    try:
        if isinstance(model, RemoteChatModel):
            # a client of its own with a short timeout and no retries: the model's client waits longer
            endpoint = dataclasses.replace(model.endpoint, timeout_s=timeout_s, max_retries=0)
            client = endpoint.client()
            try:
                client.models.list()
            finally:
                client.close()
        else:
            model.probe()
    except ChatError as err:
        return Health(name, model.location, False, str(err), now)
    except Exception as err:  # noqa: BLE001 - any client failure becomes one sentence
        detail = describe_error(err, model.location)
        if "did not answer in time" in detail:
            detail = f"the model server at {model.location} did not answer within {timeout_s:g} s"
        return Health(name, model.location, False, detail, now)
    return Health(name, model.location, True, "live", now)


class HealthMonitor:
    """Background checks of named models; `get(name)` returns the latest without waiting on a server.

    `override(name)` (the supervisor's state, when there is one) wins over a check when it says
    something: a server being restarted is "restarting", not merely "not reachable".
    """

    def __init__(
        self,
        *,
        every_s: float = 2.0,
        timeout_s: float = 1.0,
        override: Callable[[], str | None] | None = None,
    ):
        self.every_s, self.timeout_s, self.override = every_s, timeout_s, override
        self._models: dict[str, ChatModel] = {}
        self._latest: dict[str, Health] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=THREAD, daemon=True)

    def watch(self, name: str, model: ChatModel) -> None:
        with self._lock:
            if name in self._models:
                return
            self._models[name] = model
        self._wake.set()

    def check_now(self, name: str) -> Health:
        """Check one model in the caller's thread (start-up, a test) and keep the answer."""
        health = probe(name, self._models[name], self.timeout_s)
        with self._lock:
            self._latest[name] = health
        return health

    def get(self, name: str) -> Health:
        with self._lock:
            model = self._models.get(name)
            health = self._latest.get(name)
        if model is None:
            raise KeyError(name)
        if health is None:
            health = Health(name, model.location, False, "checking…")
        state = self.override() if self.override else None
        if state is not None and isinstance(model, RemoteChatModel):
            health = dataclasses.replace(health, ok=False, detail=state)
        return health

    def start(self) -> HealthMonitor:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                models = dict(self._models)
            for name, model in models.items():
                health = probe(name, model, self.timeout_s)
                with self._lock:
                    before = self._latest.get(name)
                    self._latest[name] = health
                if before is not None and (before.ok, before.detail) != (health.ok, health.detail):
                    log.warning("health changed: %s", health.line())
            self._wake.wait(self.every_s)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s + 5)
