"""An OpenAI-compatible server (`tunebench.chat.RemoteChatModel`) through the `openai` client: TGI's
Messages API, vLLM, SGLang, `transformers serve`, OpenAI. At most `concurrency` requests at a time."""

from __future__ import annotations

from typing import Any

from tunebench.chat.base import (
    ChatError,
    ChatModel,
    GenerationSettings,
    ModelSpec,
    describe_error,
    map_bounded,
)
from tunebench.chat.openai_compat import Endpoint


class RemoteChatModel(ChatModel):
    """An OpenAI-compatible server through the `openai` client, at most `concurrency` requests at once."""

    def __init__(
        self,
        spec: ModelSpec,
        settings: GenerationSettings = GenerationSettings(),
        *,
        concurrency: int = 8,
        api_key_env: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 5,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.spec, self.settings, self.concurrency = spec, settings, concurrency
        self.endpoint = Endpoint(
            base_url=spec.ref,
            model=spec.served_name or "",
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
        self._client = None
        self._served: str | None = spec.served_name

    @property
    def location(self) -> str:
        return self.spec.ref

    @property
    def client(self):
        if self._client is None:
            self._client = self.endpoint.client()  # one client (one connection pool) for all threads
        return self._client

    @property
    def served_name(self) -> str:
        """The name requests carry: the spec's `#name`, else the one model the server lists."""
        if self._served is None:
            try:
                models = [m.id for m in self.client.models.list()]
            except Exception as err:
                raise ChatError(describe_error(err, self.location)) from err
            if len(models) != 1:
                raise ChatError(
                    f"{self.location} serves {len(models)} models ({', '.join(models[:5])}): "
                    f"name one as {self.location}#<model>"
                )
            self._served = models[0]
        return self._served

    def _request(self, messages: list[dict], s: GenerationSettings, *, stream: bool):
        kw: dict[str, Any] = {
            "model": self.served_name,
            "messages": messages,
            "max_tokens": s.max_new_tokens,
            # TGI maps temperature 0 to greedy; leaving it out would mean sampling at 1.0 there.
            "temperature": s.temperature,
            "seed": s.seed,
            "stream": stream,
        }
        if s.temperature > 0 and s.top_p < 1.0:
            kw["top_p"] = s.top_p
        if s.stop:
            kw["stop"] = list(s.stop)
        return self.client.chat.completions.create(**kw)

    def _complete(self, messages: list[dict], s: GenerationSettings) -> str:
        try:
            response = self._request(messages, s, stream=False)
        except Exception as err:  # the openai client already retried 429/5xx/timeouts with backoff
            raise ChatError(describe_error(err, self.location)) from err
        return (response.choices[0].message.content or "").strip()

    def generate(self, conversations, settings=None, *, progress=False, on_done=None):
        s = settings or self.settings
        return map_bounded(
            lambda m: self._complete(m, s),
            conversations,
            concurrency=self.concurrency,
            progress=progress,
            desc="generating",
            on_done=on_done,
        )

    def stream(self, messages, settings=None):
        s = settings or self.settings
        try:
            with self._request(messages, s, stream=True) as chunks:
                for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except ChatError:
            raise
        except Exception as err:
            raise ChatError(describe_error(err, self.location)) from err

    def probe(self) -> str:
        self._served = self.spec.served_name  # ask again: the server may have restarted
        try:
            listed = [m.id for m in self.client.models.list()]
        except Exception as err:
            raise ChatError(describe_error(err, self.location)) from err
        return self.spec.served_name or (listed[0] if len(listed) == 1 else self.served_name)

    def describe(self) -> dict:
        return {
            "backend": "openai-compatible server",
            "base_url": self.spec.ref,
            "model": self._served or self.spec.served_name or "(asked from the server)",
            "concurrency": self.concurrency,
        }

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
