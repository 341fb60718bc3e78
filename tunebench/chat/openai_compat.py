"""One client for every OpenAI-compatible server: TGI's Messages API, vLLM, `transformers serve`,
OpenAI itself. The demo, the answer generator and the judge all talk through it.

Keys come from the environment only (`api_key_env`), never from a file or an argument that could
be logged. The `openai` client retries 429/5xx/timeouts with exponential backoff (`max_retries`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Servers that need no key still need a non-empty string in the client.
NO_KEY = "not-needed"


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # e.g. http://127.0.0.1:8000/v1
    model: str  # the model name the server expects (for `transformers serve`: the folder path)
    api_key_env: str | None = None  # name of the environment variable holding the key
    timeout_s: float = 120.0
    max_retries: int = 5

    def client(self, *, on_request=None):
        """The `openai` client; `on_request()` is called for every HTTP request the server answers, with
        any status, the client's own retries included (what a paid API counts; a request whose
        connection failed before the server saw it is not)."""
        from openai import DefaultHttpxClient, OpenAI

        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        hooks = {"response": [lambda _response: on_request()]} if on_request else None
        return OpenAI(
            base_url=self.base_url,
            api_key=key or NO_KEY,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
            http_client=DefaultHttpxClient(event_hooks=hooks) if hooks else None,
        )


def normalize_base_url(url: str) -> str:
    """Accept `http://host:port`, `…/v1` or `…/v1/`; return the `/v1` base the client wants."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"
