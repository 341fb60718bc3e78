"""Who gets the model next: at most `running` questions generate at once, at most `waiting` more wait
their turn in arrival order, and anyone past that is told at once that the demo is busy.

Gradio's own queue would answer the overflow with `QueueError: Queue is full!` (gradio_client) or a
toast, and a waiting user could not be told where they stand. Here the page says "2 questions ahead
of yours" while it waits and the API answers the overflow with `failure: "busy"` and a sentence.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator


class Busy(Exception):
    """The demo is full: the sentence says so and what to do."""


class Ticket:
    def __init__(self, gate: Admission):
        self.gate = gate
        self.running = False

    def ahead(self) -> int:
        """Questions ahead of this one that are waiting too (0: next)."""
        with self.gate._cond:
            return max(0, self.gate._line.index(self) - self.gate.running)

    def wait_turn(self, poll_s: float = 0.5) -> Iterator[int]:
        """Yields how many questions are ahead while waiting (for the page); returns once running."""
        gate = self.gate
        while True:
            with gate._cond:
                position = gate._line.index(self)
                if position < gate.running:
                    self.running = True
                    return
                ahead = position - gate.running
            yield ahead
            with gate._cond:
                gate._cond.wait(poll_s)


class Admission:
    def __init__(self, running: int, waiting: int):
        if running < 1 or waiting < 0:
            raise ValueError("at least one question must be able to run, and waiting cannot be negative")
        self.running, self.waiting = running, waiting
        self._line: deque[Ticket] = deque()
        self._cond = threading.Condition()
        self.rejected = 0

    @property
    def capacity(self) -> int:
        return self.running + self.waiting

    def busy_message(self) -> str:
        return (
            f"the demo is busy: {self.running} questions are being answered and {self.waiting} are "
            "waiting, as many as it takes; ask again in a minute"
        )

    @contextlib.contextmanager
    def enter(self) -> Iterator[Ticket]:
        """A place in line, held until the block ends; raises `Busy` when the line is full."""
        ticket = Ticket(self)
        with self._cond:
            if len(self._line) >= self.capacity:
                self.rejected += 1
                raise Busy(self.busy_message())
            self._line.append(ticket)
        try:
            yield ticket
        finally:
            with self._cond:
                self._line.remove(ticket)
                self._cond.notify_all()

    def load(self) -> tuple[int, int]:
        """(running, waiting) now."""
        with self._cond:
            n = len(self._line)
        return min(n, self.running), max(0, n - self.running)
