"""One way to reach a model: a spec string names it, one `ChatModel` answers it.

A model spec is one of
- a local folder (a merged model, an adapter folder with `adapter_config.json`, or the tiny base),
- a hub id (`org/name`, loaded with `from_pretrained`),
- an OpenAI-compatible server: `http://host:port/v1#served-name` (TGI's Messages API, vLLM, SGLang,
  `transformers serve`, OpenAI). Without `#served-name` the server is asked which model it serves.

`open_chat_model(spec)` returns a `ChatModel` that answers a batch of conversations (`generate`) or
streams one (`stream`) with one `GenerationSettings`. In process: batched, left-padded, the model's
own chat template, the dtype rule written once (`resolve_dtype`). Remote: the `openai` client with
at most `concurrency` requests at a time (`map_bounded`, also used by the MT-Bench judge).

Evaluation (text-to-SQL, MT-Bench answers), the Gradio app and bench/ all reach models through here.
This module imports torch and transformers only when a local model is opened: the serve image has
neither. It is the one import; its parts are `chat_base` (spec, settings, interface, errors,
`map_bounded`), `chat_local` (in process) and `chat_remote` (servers).
"""

from __future__ import annotations

from pathlib import Path

from tunebench.chat.base import (
    ChatError,
    ChatModel,
    GenerationSettings,
    ModelSpec,
    describe_error,
    is_model_spec,
    map_bounded,
)
from tunebench.chat.local import END_OF_TURN_TOKENS, LocalChatModel, end_of_turn_ids, resolve_dtype
from tunebench.chat.remote import RemoteChatModel

__all__ = [
    "END_OF_TURN_TOKENS",
    "ChatError",
    "ChatModel",
    "GenerationSettings",
    "LocalChatModel",
    "ModelSpec",
    "RemoteChatModel",
    "describe_error",
    "end_of_turn_ids",
    "is_model_spec",
    "map_bounded",
    "open_chat_model",
    "resolve_dtype",
]


def open_chat_model(
    spec: str | Path | ModelSpec,
    settings: GenerationSettings = GenerationSettings(),
    *,
    batch_size: int = 16,
    concurrency: int = 8,
    dtype: str = "auto",
    device: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 120.0,
    max_retries: int = 5,
    chatml_fallback: bool = False,
) -> ChatModel:
    """The `ChatModel` a spec names: in process for a folder or hub id, over HTTP for a URL."""
    spec = spec if isinstance(spec, ModelSpec) else ModelSpec.parse(str(spec))
    if spec.is_server:
        return RemoteChatModel(
            spec,
            settings,
            concurrency=concurrency,
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
    return LocalChatModel(
        spec, settings, batch_size=batch_size, dtype=dtype, device=device, chatml_fallback=chatml_fallback
    )
