"""Untrusted SQL with hard bounds: `sql_exec.execute_readonly` run in a child process that is
killed when a statement outlives its time limit.

`tunebench.sql_exec` bounds time with a progress handler, but SQLite only calls it between VM
instructions, so one function call that does a lot of work runs to its end. Measured on 2 cores
with a 1 s limit: `SELECT randomblob(900000000)` ran 21.6 s holding ~1 GB, and
`SELECT printf('%.*c', 900000000, 'x') IS NULL` 23 s. `sql_exec` caps what a statement may build
(`SQLITE_LIMIT_LENGTH`), which turns most of these into an immediate "string or blob too big";
for whatever is left, `SqlSandbox` runs each statement in a long-lived child process (address space
capped), and when no answer comes within the time limit plus a grace period, kills and replaces it.
Evaluation runs gold and predicted SQL through a sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from tunebench.sql_exec import SqlResult, execute_readonly

CHILD_MEMORY_BYTES = 2 << 30  # address-space cap of the sandbox process
STARTUP_TIMEOUT_S = 60.0


def _child_main(read_fd: int, write_fd: int, memory_bytes: int) -> None:
    """The sandbox process: answer (db_path, sql, kwargs) requests until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform: the time bound still holds
        pass
    requests, answers = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    answers.send("ready")
    while True:
        try:
            db_path, sql, kwargs = requests.recv()
        except EOFError:
            return
        answers.send(execute_readonly(db_path, sql, **kwargs))


class SqlSandbox:
    """Runs statements in a child process; one past `timeout_s + grace_s` gets the child killed.

    Use as a context manager (or call `close()`); thread-safe (statements run one at a time).
    The child is a fresh `python -m tunebench.sql_sandbox` (not a fork: the parent may hold torch
    threads, and multiprocessing's spawn would re-run the caller's `__main__`).
    """

    def __init__(self, *, grace_s: float = 2.0, memory_bytes: int = CHILD_MEMORY_BYTES):
        self.grace_s = grace_s
        self.memory_bytes = memory_bytes
        self.kills = 0
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        cmd = [sys.executable, "-m", "tunebench.sql_sandbox", str(req_r), str(ans_w), str(self.memory_bytes)]
        self._proc = subprocess.Popen(cmd, pass_fds=(req_r, ans_w), stdin=subprocess.DEVNULL)
        os.close(req_r)
        os.close(ans_w)
        self._send, self._recv = Connection(req_w, readable=False), Connection(ans_r, writable=False)
        # Starting a Python process takes a moment: that is not part of any statement's limit.
        try:
            ready = self._recv.poll(STARTUP_TIMEOUT_S) and self._recv.recv() == "ready"
        except EOFError:
            ready = False
        if not ready:
            self._kill()
            raise RuntimeError(f"the SQL sandbox process did not start within {STARTUP_TIMEOUT_S:g} s")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()
        self._proc = self._send = self._recv = None

    def execute(
        self, db_path: str | Path, sql: str, *, timeout_s: float = 2.0, max_rows: int = 1000
    ) -> SqlResult:
        start = time.monotonic()
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._kill()
                self._start()
            try:
                self._send.send((str(db_path), sql, {"timeout_s": timeout_s, "max_rows": max_rows}))
                if self._recv.poll(timeout_s + self.grace_s):
                    return self._recv.recv()
            except (EOFError, OSError, BrokenPipeError) as err:  # the child died (e.g. out of memory)
                self._kill()
                return SqlResult(error=f"sandbox process died: {err}", elapsed_s=time.monotonic() - start)
            self._kill()
            self.kills += 1
            return SqlResult(
                error=f"timed out after {timeout_s:g} s (statement killed)",
                timed_out=True,
                elapsed_s=time.monotonic() - start,
            )

    def close(self) -> None:
        with self._lock:
            self._kill()

    def __enter__(self) -> SqlSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    _child_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
