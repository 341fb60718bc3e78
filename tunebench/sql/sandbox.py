"""Untrusted SQL with hard bounds: `sql_exec.execute_readonly` run in a child process, bounded in
time, memory and bytes from the statement to the answer in the caller's hands.

`tunebench.sql.execute` bounds time with a progress handler, but SQLite only calls it between VM
instructions, so one function call that does a lot of work runs to its end. Measured on 2 cores
with a 1 s limit: `SELECT randomblob(900000000)` ran 21.6 s holding ~1 GB, and
`SELECT printf('%.*c', 900000000, 'x') IS NULL` 23 s. `sql_exec` caps what a statement may build
(`SQLITE_LIMIT_LENGTH`), which turns most of these into an immediate "string or blob too big".
For whatever is left, `SqlSandbox` runs each statement in a long-lived child process whose limits
are:
- time: the whole exchange (statement, fetch, transfer of the answer) must end within the time
  limit plus a grace period, or the child is killed and replaced;
- memory: the child's address space is capped, SQLite's heap is capped below that (a statement
  that needs more fails with "out of memory"), and temporary tables stay in that heap, not on disk;
- bytes: the child fetches at most `max_result_bytes` of values, and the caller reads an answer of
  at most about twice that, so the caller's memory stays bounded whatever the statement.
When the child dies, the answer says why: out of memory, the signal that killed it, or its exit code.
Evaluation (gold and predicted SQL) and preference-pair building (gold and sampled SQL) run every
statement through a sandbox.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from tunebench.sql.execute import MAX_RESULT_BYTES, SqlResult, execute_readonly

CHILD_MEMORY_BYTES = 2 << 30  # address-space cap of the sandbox process
CHILD_HEAP_BYTES = 1 << 30  # SQLite's own allocations in the child (below the address-space cap)
STARTUP_TIMEOUT_S = 60.0
OUT_OF_MEMORY_EXIT = 86  # the child's exit code when Python itself ran out of memory
_HEADER = struct.Struct(">Q")  # each answer: its length in 8 bytes, then the pickled SqlResult


def _write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _child_main(read_fd: int, write_fd: int, memory_bytes: int, heap_bytes: int) -> None:
    """The sandbox process: answer (db_path, sql, kwargs) requests until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform: the other bounds still hold
        pass
    requests = Connection(read_fd, writable=False)
    _write_frame(write_fd, pickle.dumps("ready"))
    try:
        while True:
            try:
                db_path, sql, kwargs = requests.recv()
            except EOFError:
                return
            result = execute_readonly(db_path, sql, heap_limit_bytes=heap_bytes, **kwargs)
            _write_frame(write_fd, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    except MemoryError:  # Python's own allocations hit the address-space cap: say so by the exit code
        os._exit(OUT_OF_MEMORY_EXIT)


class _TooLarge(Exception):
    pass


def _read_exact(fd: int, n: int, deadline: float) -> bytes | None:
    """`n` bytes from `fd`, or None when the deadline passes first; EOFError when the child is gone."""
    chunks, left = [], n
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the sandbox process closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float, max_bytes: int):
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > max_bytes:
        raise _TooLarge(size)
    payload = _read_exact(fd, size, deadline)
    return None if payload is None else pickle.loads(payload)  # written by our own child process


class SqlSandbox:
    """Runs statements in a child process; one past `timeout_s + grace_s` gets the child killed.

    Use as a context manager (or call `close()`); thread-safe (statements run one at a time).
    The child is a fresh `python -m tunebench.sql.sandbox` (not a fork: the parent may hold torch
    threads, and multiprocessing's spawn would re-run the caller's `__main__`).
    """

    def __init__(
        self,
        *,
        grace_s: float = 2.0,
        memory_bytes: int = CHILD_MEMORY_BYTES,
        heap_bytes: int = CHILD_HEAP_BYTES,
        max_result_bytes: int = MAX_RESULT_BYTES,
    ):
        self.grace_s = grace_s
        self.memory_bytes = memory_bytes
        self.heap_bytes = min(heap_bytes, memory_bytes // 2)
        self.max_result_bytes = max_result_bytes
        # Pickling adds a little per value; anything much larger than the fetch limit is not an answer.
        self.max_answer_bytes = 2 * max_result_bytes + (1 << 20)
        self.kills = 0
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._answers: int | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        cmd = [
            sys.executable,
            "-m",
            "tunebench.sql.sandbox",
            *map(str, (req_r, ans_w, self.memory_bytes, self.heap_bytes)),
        ]
        self._proc = subprocess.Popen(cmd, pass_fds=(req_r, ans_w), stdin=subprocess.DEVNULL)
        os.close(req_r)
        os.close(ans_w)
        self._send, self._answers = Connection(req_w, readable=False), ans_r
        # Starting a Python process takes a moment: that is not part of any statement's limit.
        try:
            ready = _read_frame(ans_r, time.monotonic() + STARTUP_TIMEOUT_S, 1 << 10) == "ready"
        except (EOFError, OSError, _TooLarge):
            ready = False
        if not ready:
            self._kill()
            raise RuntimeError(f"the SQL sandbox process did not start within {STARTUP_TIMEOUT_S:g} s")

    def _kill(self) -> int | None:
        """Stop the child (if still running); returns its exit status."""
        code = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            code = self._proc.wait(10)
        if self._send is not None:
            self._send.close()
        if self._answers is not None:
            os.close(self._answers)
        self._proc = self._send = self._answers = None
        return code

    def _death_reason(self) -> str:
        proc = self._proc
        try:
            code = proc.wait(5) if proc is not None else None
        except subprocess.TimeoutExpired:
            code = None
        self._kill()
        if code == OUT_OF_MEMORY_EXIT:
            return f"it ran out of memory (limit {self.memory_bytes / 2**30:.1f} GiB)"
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (the system's out-of-memory killer, most likely)" if -code == signal.SIGKILL else ""
            return f"it was killed by {name}{hint}"
        return f"it exited with code {code}" if code is not None else "it stopped answering"

    def execute(
        self, db_path: str | Path, sql: str, *, timeout_s: float = 2.0, max_rows: int | None = 1000
    ) -> SqlResult:
        start = time.monotonic()
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._kill()
                self._start()
            kwargs = {"timeout_s": timeout_s, "max_rows": max_rows, "max_result_bytes": self.max_result_bytes}
            deadline = time.monotonic() + timeout_s + self.grace_s
            try:
                self._send.send((str(db_path), sql, kwargs))
                answer = _read_frame(self._answers, deadline, self.max_answer_bytes)
            except (EOFError, OSError):  # the child died (out of memory, a signal)
                return SqlResult(
                    error=f"sandbox process died: {self._death_reason()}", elapsed_s=time.monotonic() - start
                )
            except _TooLarge as err:
                self._kill()
                self.kills += 1
                return SqlResult(
                    error=f"result too large: a {err.args[0]:,}-byte answer (limit {self.max_answer_bytes:,})",
                    too_large=True,
                    elapsed_s=time.monotonic() - start,
                )
            if answer is not None:
                return answer
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
    _child_main(*map(int, sys.argv[1:5]))
