"""`make serve` looks after its `transformers serve`: a server that exits (killed, crashed) or stops
answering its `/health` (frozen) is killed and started again on the same port, after a bounded
backoff; when restarts keep failing the supervisor gives up and says so, and the app exits.

Every change is one line on stdout (`model server: …`) with the seconds since the incident, and
`state` is what the app's health line and every question say meanwhile ("restarting: …").
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tunebench.chat.local_server import start_server, stop_server


@dataclass(frozen=True)
class SupervisorConfig:
    """How the model server is watched. An incident is seen within `check_every_s` (an exit) or
    `freeze_after_s` (no /health answer); the restarts then wait `backoff_s` in turn and give up after
    the last; a server that has run `stable_after_s` since its last restart starts the count again."""

    check_every_s: float = 0.5
    probe_timeout_s: float = 2.0
    freeze_after_s: float = 5.0
    backoff_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    ready_timeout_s: float = 120.0
    stable_after_s: float = 60.0

    def describe(self) -> str:
        waits = ", ".join(f"{b:g}" for b in self.backoff_s)
        return (
            f"restarted when it exits or does not answer /health for {self.freeze_after_s:g} s, "
            f"at most {len(self.backoff_s)} times in a row (waiting {waits} s)"
        )


def exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class ServerSupervisor:
    """Runs `transformers serve model_dir` on 127.0.0.1:`port` and keeps it answering."""

    def __init__(
        self,
        model_dir: str | Path,
        port: int,
        *,
        device: str = "cpu",
        log_path: Path,
        config: SupervisorConfig = SupervisorConfig(),
        out: TextIO | None = None,
    ):
        self.model_dir, self.port, self.device = str(model_dir), port, device
        self.log_path, self.config, self.out = log_path, config, out
        self.health_url = f"http://127.0.0.1:{port}/health"
        self.state: str | None = "starting"  # None: live; else what the app says instead
        self.gave_up = threading.Event()
        self.restarts = 0
        self._proc = None
        self._log = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="model-server-supervisor", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _say(self, text: str) -> None:
        print(f"model server: {text}", file=self.out, flush=True)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=self.config.probe_timeout_s) as r:
                return r.status == 200
        except OSError:
            return False

    def _launch(self) -> bool:
        """Start the server and wait until it answers; False when it died or never answered."""
        if self._log is None:
            self._log = open(self.log_path, "a")  # noqa: SIM115 - closed in close()
        self._proc = start_server(self.model_dir, self.port, device=self.device, log=self._log)
        deadline = time.monotonic() + self.config.ready_timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if self._proc.poll() is not None:
                return False
            if self._answers():
                return True
            self._stop.wait(0.3)
        return False

    def start(self) -> None:
        """The first start, in the caller's thread; raises RuntimeError when the server never answers."""
        if not self._launch():
            code = self._proc.poll() if self._proc is not None else None
            stop_server(self._proc)
            why = (
                exit_reason(code)
                if code is not None
                else f"did not answer within {self.config.ready_timeout_s:g} s"
            )
            raise RuntimeError(f"the model server {why}")
        self.state = None
        self._thread.start()

    def _watch(self) -> None:
        c = self.config
        last_answer = started = time.monotonic()
        while not self._stop.wait(c.check_every_s):
            code = self._proc.poll()
            if code is None and self._answers():
                last_answer = time.monotonic()
                if self.restarts and last_answer - started > c.stable_after_s:
                    self.restarts = 0  # a server that has run this long starts the count again
                continue
            incident = time.monotonic()
            if code is not None:
                reason = exit_reason(code)
            elif incident - last_answer < c.freeze_after_s:
                continue  # one slow answer is not a frozen server
            else:
                reason = f"did not answer /health for {c.freeze_after_s:g} s (frozen?)"
                incident = last_answer  # the incident began when it stopped answering
                self._proc.kill()  # SIGKILL works on a stopped process too
                self._proc.wait()
            if not self._recover(reason, incident):
                return
            last_answer = started = time.monotonic()

    def _recover(self, reason: str, incident: float) -> bool:
        c = self.config
        while self.restarts < len(c.backoff_s):
            wait = c.backoff_s[self.restarts]
            self.restarts += 1
            attempt = f"restart {self.restarts} of {len(c.backoff_s)}"
            self.state = f"restarting: the model server {reason}; {attempt} in {wait:g} s"
            self._say(f"{self.state} (pid {self.pid}, {time.monotonic() - incident:.1f} s after it)")
            if self._stop.wait(wait):
                return False
            self.state = f"restarting: the model server {reason}; {attempt} under way"
            if self._launch():
                self.state = None
                self._say(f"back (pid {self.pid}) {time.monotonic() - incident:.1f} s after it {reason}")
                return True
            if self._stop.is_set():
                return False
            stop_server(self._proc, grace_s=2)
            reason = "did not come back"
        self.state = (
            f"stopped: the model server {reason} after {len(c.backoff_s)} restarts; its log: {self.log_path}"
        )
        self._say(self.state)
        self.gave_up.set()
        return False

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.config.probe_timeout_s + 5)
        if self._proc is not None:
            stop_server(self._proc)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
