"""Where the demo's SQL comes from: one small interface, four implementations.

- `openai`       any OpenAI-compatible server (vLLM, `transformers serve`, TGI's Messages API, OpenAI)
                 through the `openai` client (`tunebench.openai_compat.Endpoint`);
- `tgi`          TGI's Messages API (`/v1/chat/completions`) through `huggingface_hub.InferenceClient`;
- `tgi-generate` TGI's native `/generate_stream` through `InferenceClient.text_generation`: that route
                 takes raw text, so the prompt is rendered here with the model's own chat template;
- `inprocess`    the model loaded in this process (`tunebench.generation.HFGenerator`), for a machine
                 with no server at all.
The two TGI backends live in `tunebench.serve.tgi`. All stream text pieces, greedy by default, and turn
every failure into a `BackendError` whose message can be shown to a user as is (never a stack trace).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from tunebench.openai_compat import Endpoint, normalize_base_url
from tunebench.serve.config import BackendConfig, default_model

log = logging.getLogger(__name__)


class BackendError(Exception):
    """A failure to show in the page: server down, HTTP error, timeout, bad configuration."""


class Backend:
    """Streams a chat completion. Subclasses implement `_stream` and `_probe`."""

    name = "backend"

    def __init__(self, config: BackendConfig):
        self.config = config

    @property
    def model(self) -> str:
        return self.config.model or "(server default)"

    @property
    def location(self) -> str:
        return self.config.url or "in this process"

    def stream(
        self, messages: list[dict], *, max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield the answer piece by piece; raises only `BackendError`."""
        try:
            yield from self._stream(messages, max_new_tokens=max_new_tokens, temperature=temperature)
        except BackendError:
            raise
        except Exception as err:  # every client library has its own errors: name them for the user
            raise BackendError(describe_error(err, self.name, self.location)) from err

    def complete(self, messages: list[dict], **kw) -> str:
        return "".join(self.stream(messages, **kw))

    def health(self) -> Health:
        """Which backend and model are live; never raises."""
        try:
            model = self._probe()
        except Exception as err:
            label = self.config.model or "(unknown)"  # not self.model: that may ask the server again
            return Health(
                self.name, label, self.location, False, describe_error(err, self.name, self.location)
            )
        return Health(self.name, model or self.model, self.location, True, "live")

    def _stream(self, messages: list[dict], *, max_new_tokens: int, temperature: float) -> Iterator[str]:
        raise NotImplementedError

    def _probe(self) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Health:
    backend: str
    model: str
    location: str
    ok: bool
    detail: str  # "live", or why not

    def markdown(self) -> str:
        state = "**live**" if self.ok else f"**not reachable**: {self.detail}"
        return f"**Backend** `{self.backend}` · **model** `{self.model}` · `{self.location}` · {state}"


_TIMEOUTS = {"APITimeoutError", "TimeoutException", "TimeoutError"}
_UNREACHABLE = {"APIConnectionError", "ConnectError", "ConnectionError", "NetworkError"}


def describe_error(err: BaseException, backend: str, location: str) -> str:
    """One readable sentence for the page; the details go to the server log only."""
    log.warning("backend %s at %s failed: %r", backend, location, err)
    # By class name: the openai client uses httpx, huggingface_hub uses httpx2; both name them alike.
    names = {cls.__name__ for cls in type(err).__mro__}
    if names & _TIMEOUTS:
        return f"the model server at {location} did not answer in time"
    if names & _UNREACHABLE:
        return f"cannot reach the model server at {location} (is it running?)"
    status = _status_code(err) or _status_code(err.__cause__)  # huggingface_hub re-raises TGI's errors
    if status is not None:
        return f"the model server at {location} answered HTTP {status}: {_short(str(err).splitlines()[0])}"
    if isinstance(err, OSError | ValueError):
        return f"{backend} backend: {_short(str(err))}"
    return f"{backend} backend failed ({type(err).__name__}): {_short(str(err))}"


def _status_code(err: BaseException | None) -> int | None:
    if err is None:
        return None
    return getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OpenAIBackend(Backend):
    """vLLM, `transformers serve`, TGI's Messages API or OpenAI, through the `openai` client."""

    name = "openai"

    @property
    def location(self) -> str:
        return self.endpoint.base_url

    @cached_property
    def endpoint(self) -> Endpoint:
        c = self.config
        return Endpoint(
            base_url=normalize_base_url(c.url or c.default_url()),
            model=c.model or "",
            api_key_env=c.api_key_env,
            timeout_s=c.timeout_s,
            max_retries=c.max_retries,
        )

    @cached_property
    def client(self):
        return self.endpoint.client()

    @cached_property
    def served_models(self) -> list[str]:
        return [m.id for m in self.client.models.list()]

    @property
    def model(self) -> str:
        if self.config.model:
            return self.config.model
        # Without a configured name, ask the server: vLLM and TGI list exactly the model they serve.
        if len(self.served_models) != 1:
            raise BackendError(
                f"{self.location} serves {len(self.served_models)} models: set TUNEBENCH_MODEL (--model)"
            )
        return self.served_models[0]

    def _stream(self, messages, *, max_new_tokens, temperature):
        with self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            stream=True,
            max_tokens=max_new_tokens,
            temperature=temperature,
        ) as chunks:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    def _probe(self) -> str | None:
        self.__dict__.pop("served_models", None)  # ask again: the server may have restarted
        _ = self.served_models  # raises when the server is down
        return self.model


class InProcessBackend(Backend):
    name = "inprocess"

    def __init__(self, config: BackendConfig):
        super().__init__(config if config.model else config.with_overrides(model=str(default_model())))

    @cached_property
    def generator(self):
        from tunebench.generation import HFGenerator

        return HFGenerator(self.model)

    def _stream(self, messages, *, max_new_tokens, temperature):
        yield from self.generator.stream(messages, max_new_tokens=max_new_tokens, temperature=temperature)

    def _probe(self) -> str | None:
        return self.generator.model_path


def backend_classes() -> dict[str, type[Backend]]:
    from tunebench.serve.tgi import TGIGenerateBackend, TGIMessagesBackend

    return {
        "openai": OpenAIBackend,
        "tgi": TGIMessagesBackend,
        "tgi-generate": TGIGenerateBackend,
        "inprocess": InProcessBackend,
    }


def make_backend(config: BackendConfig) -> Backend:
    classes = backend_classes()
    try:
        cls = classes[config.backend]
    except KeyError:
        raise BackendError(
            f"unknown backend {config.backend!r}: choose one of {', '.join(classes)}"
        ) from None
    return cls(config)
