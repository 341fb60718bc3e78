"""What every chat model shares: the spec string, the settings, the interface, readable errors and
the one bounded-concurrency helper. Import these from `tunebench.chat`, which re-exports them."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tunebench.chat.openai_compat import normalize_base_url

log = logging.getLogger("tunebench.chat")

T = TypeVar("T")
R = TypeVar("R")


class ChatError(Exception):
    """A failure to reach or run a model, in one sentence that can be shown to a user as is."""


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample. Greedy by default; `temperature > 0` samples, seeded."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop_ids: tuple[int, ...] = ()  # extra token ids that end an answer (local models)
    stop: tuple[str, ...] = ()  # extra strings that end an answer (servers)

    def replace(self, **changes) -> GenerationSettings:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------------
# The spec string


@dataclass(frozen=True)
class ModelSpec:
    """What a spec string names. `kind` is "local" (a folder), "hub" (an id) or "server" (a URL)."""

    kind: str
    ref: str  # the folder, the hub id, or the server's /v1 base URL
    served_name: str | None = None  # for servers: the name requests carry (after '#')

    @classmethod
    def parse(cls, spec: str | Path) -> ModelSpec:
        text = str(spec).strip()
        if not text:
            raise ChatError("empty model spec: give a folder, a hub id (org/name) or a URL")
        if text.startswith(("http://", "https://")):
            url, _, served = text.partition("#")
            return cls("server", normalize_base_url(url), served or None)
        path = Path(text)
        if path.is_dir():
            return cls("local", text)
        if path.is_file() and text.lower().endswith(".gguf"):
            return cls("local", _gguf_folder(path))
        if path.exists():
            raise ChatError(f"{text}: a file, not a model folder, hub id or URL")
        if _looks_like_hub_id(text):
            return cls("hub", text)
        raise ChatError(
            f"model {text!r}: no such folder; not a hub id (org/name) or a server URL "
            "(http://host:port/v1#served-name) either"
        )

    @property
    def is_server(self) -> bool:
        return self.kind == "server"

    def __str__(self) -> str:
        if self.kind == "server":
            return self.ref + (f"#{self.served_name}" if self.served_name else "")
        return self.ref


def _gguf_folder(path: Path) -> str:
    """A GGUF file (llama.cpp, Ollama) as the model folder converted from it, once (tunebench.bases)."""
    from tunebench.bases.gguf import GgufError, from_gguf

    try:
        return str(from_gguf(path))
    except GgufError as err:
        raise ChatError(str(err)) from None


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def is_model_spec(text: str) -> bool:
    """True when `text` parses as a model spec (a folder, a hub id or a URL)."""
    try:
        ModelSpec.parse(text)
    except ChatError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------
# Bounded concurrency, written once


def map_bounded(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    concurrency: int,
    progress: bool = False,
    desc: str = "requests",
    return_exceptions: bool = False,
    on_done: Callable[[int], Any] | None = None,
    on_interrupt: Callable[[int], None] | None = None,
) -> list[R | BaseException]:
    """`[fn(x) for x in items]` with at most `concurrency` calls in flight, results in input order.
    `on_done(1)` is called as each call finishes (a caller's own progress bar).

    With `return_exceptions` a failed call's exception takes its place in the list (the caller decides
    what a failure means); otherwise the first failure is raised once the others have finished.
    Calls are started as earlier ones finish, never queued ahead: on Ctrl-C nothing new starts, the
    calls in flight finish (`on_interrupt` is told how many first: they may be paid for), and the
    KeyboardInterrupt goes on to the caller.
    """
    from tqdm.auto import tqdm

    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    items = list(items)
    out: list[Any] = [None] * len(items)
    todo = iter(enumerate(items))
    first_error: BaseException | None = None
    with (
        ThreadPoolExecutor(
            max_workers=min(concurrency, max(1, len(items))), thread_name_prefix="chat"
        ) as pool,
        tqdm(total=len(items), desc=desc, disable=not progress, unit="req") as bar,
    ):
        in_flight: dict = {}

        def start_next() -> None:
            for i, x in todo:
                in_flight[pool.submit(fn, x)] = i
                return

        for _ in range(concurrency):
            start_next()
        try:
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    i = in_flight.pop(future)
                    try:
                        out[i] = future.result()
                    except Exception as err:  # noqa: BLE001 - reported below, in order
                        if return_exceptions:
                            out[i] = err
                        elif first_error is None:
                            first_error = err
                    bar.update()
                    if on_done is not None:
                        on_done(1)
                    start_next()
        except KeyboardInterrupt:
            if on_interrupt is not None:
                on_interrupt(len(in_flight))
            wait(in_flight)  # what is in flight finishes; nothing else was started
            raise
    if first_error is not None:
        raise first_error
    return out


# ---------------------------------------------------------------------------------------------------
# Models


class ChatModel:
    """Answers chat conversations. `generate` is a batch; `stream` yields one answer piece by piece."""

    spec: ModelSpec
    settings: GenerationSettings

    @property
    def name(self) -> str:
        """The model's name as a report should print it."""
        return str(self.spec)

    @property
    def location(self) -> str:
        return "in this process"

    def generate(
        self,
        conversations: list[list[dict]],
        settings: GenerationSettings | None = None,
        *,
        progress: bool = False,
        on_done: Callable[[int], Any] | None = None,
    ) -> list[str]:
        """Answers in the conversations' order. `on_done(n)` is called as each n of them are answered (a
        batch in process, one request on a server), for a caller's progress bar with an ETA."""
        raise NotImplementedError

    def stream(self, messages: list[dict], settings: GenerationSettings | None = None) -> Iterator[str]:
        raise NotImplementedError

    def complete(self, messages: list[dict], settings: GenerationSettings | None = None) -> str:
        return self.generate([messages], settings)[0]

    def probe(self) -> str:
        """The name of the model that answers; raises `ChatError` when it cannot be reached."""
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        """Free what the model holds (weights, connections)."""


# ---------------------------------------------------------------------------------------------------
# Errors a person can read

_TIMEOUTS = {"APITimeoutError", "TimeoutException", "TimeoutError", "ReadTimeout"}
_UNREACHABLE = {"APIConnectionError", "ConnectError", "ConnectionError", "NetworkError"}


def describe_error(err: BaseException, location: str) -> str:
    """One readable sentence for a failed request; the details go to the log only."""
    log.warning("model server at %s failed: %r", location, err)
    names = {cls.__name__ for cls in type(err).__mro__}
    if names & _TIMEOUTS:
        return f"the model server at {location} did not answer in time"
    if names & _UNREACHABLE:
        return f"cannot reach the model server at {location} (is it running?)"
    status = getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)
    if status is not None:
        return f"the model server at {location} answered HTTP {status}: {_short(_server_reason(err))}"
    return f"the model at {location} failed ({type(err).__name__}): {_short(str(err))}"


def _server_reason(err: BaseException) -> str:
    """What the server said. The openai client keeps the response body in `err.body` and puts only
    "Error code: 422" in str(err); TGI, vLLM and OpenAI put the reason in body["message"] or
    body["error"] (itself a string or {"message": …})."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                return value
    if isinstance(body, str) and body.strip():
        return body
    text = str(err)
    return text.splitlines()[0] if text else type(err).__name__


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
