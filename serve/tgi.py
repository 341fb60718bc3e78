"""TGI's two routes, through `huggingface_hub.InferenceClient` (never the PyPI `text-generation` package:
it pins huggingface-hub<1.0, which would break transformers, datasets and gradio).

- `tgi`: the Messages API (`/v1/chat/completions`); TGI applies the model's chat template itself.
- `tgi-generate`: the native `/generate_stream`, which takes raw text: the prompt is rendered here with
  the model's own chat template (AutoTokenizer from the model folder), exactly as in training.
"""

from __future__ import annotations

import logging
from functools import cached_property

from tunebench.openai_compat import NO_KEY
from tunebench.serve.backends import Backend, BackendError

log = logging.getLogger(__name__)

_HUB_HOSTS = ("huggingface.co", "hf.co")
_offline_hook_installed = False


def _let_offline_mode_reach_own_servers() -> None:
    """HF_HUB_OFFLINE=1 makes huggingface_hub refuse HTTP to every host, a local TGI included.

    Offline mode is about the Hub (and is set on purpose in containers and tests), not about the
    user's own inference server: keep blocking the Hub, let requests to other hosts through.
    """
    global _offline_hook_installed
    if _offline_hook_installed:
        return
    from urllib.parse import urlparse

    from huggingface_hub import constants, set_client_factory
    from huggingface_hub.utils._http import default_client_factory, hf_request_event_hook

    hub_hosts = {urlparse(constants.ENDPOINT).hostname or "", *_HUB_HOSTS}

    def hook(request):
        host = request.url.host or ""
        is_hub = any(host == h or host.endswith("." + h) for h in hub_hosts if h)
        if constants.is_offline_mode() and not is_hub:
            return None
        return hf_request_event_hook(request)

    def factory():
        client = default_client_factory()
        client.event_hooks = {**client.event_hooks, "request": [hook]}
        return client

    set_client_factory(factory)
    _offline_hook_installed = True


class _TGIBase(Backend):
    """Shared by both TGI routes: one `InferenceClient` on the server's root URL."""

    @property
    def location(self) -> str:
        return (self.config.url or self.config.default_url()).rstrip("/").removesuffix("/v1")

    @cached_property
    def client(self):
        from huggingface_hub import InferenceClient

        _let_offline_mode_reach_own_servers()
        # An explicit token (or a placeholder) keeps the client from sending the user's saved HF token.
        return InferenceClient(
            model=self.location,
            provider="hf-inference",  # the provider that talks to a URL (TGI, Inference Endpoints)
            token=self.config.api_key() or NO_KEY,
            timeout=self.config.timeout_s,
        )

    def _probe(self) -> str | None:
        if not self.client.health_check():
            raise BackendError(f"{self.location}/health is not OK")
        try:  # TGI's /info names the model it serves; other servers may not have the route
            return self.client.get_endpoint_info().get("model_id") or self.config.model
        except Exception as err:
            log.info("no model info at %s/info: %r", self.location, err)
            return self.config.model


class TGIMessagesBackend(_TGIBase):
    name = "tgi"

    @property
    def model(self) -> str:
        # The URL comes from the client; this is only the request's `model` field, which TGI ignores
        # (it serves one model) but other OpenAI-compatible servers check.
        return self.config.model or "tgi"

    def _stream(self, messages, *, max_new_tokens, temperature):
        # TGI maps temperature 0 to greedy decoding; leaving it out would mean sampling at 1.0.
        for chunk in self.client.chat_completion(
            messages, model=self.model, stream=True, max_tokens=max_new_tokens, temperature=temperature
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


class TGIGenerateBackend(_TGIBase):
    name = "tgi-generate"

    @cached_property
    def tokenizer(self):
        from transformers import AutoTokenizer

        source = self.config.tokenizer or self.config.model
        if not source:
            raise BackendError(
                "tgi-generate renders the prompt locally: set TUNEBENCH_TOKENIZER (or --model)"
            )
        return AutoTokenizer.from_pretrained(source)

    def render(self, messages: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _stream(self, messages, *, max_new_tokens, temperature):
        sampling = (
            {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        )
        stop = [self.tokenizer.eos_token] if self.tokenizer.eos_token else None
        for event in self.client.text_generation(
            self.render(messages),
            model=f"{self.location}/generate_stream",
            stream=True,
            details=True,
            max_new_tokens=max_new_tokens,
            stop=stop,
            **sampling,
        ):
            if not event.token.special:  # the stop token comes as a special token: not part of the answer
                yield event.token.text
