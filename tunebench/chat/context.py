"""How long a prompt is for a model, and how long a prompt the model can read: counted with the model's
own tokenizer and chat template, against its context (`max_position_embeddings`).

For a model in this process (its tokenizer is loaded) or a model folder (the tokenizer is loaded from it,
which needs transformers: the serve image has none, and gets None).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tunebench.chat.base import ChatModel
from tunebench.chat.local import LocalChatModel

PromptCounter = Callable[[list[dict]], int]


def context_length(config: dict) -> int | None:
    """The positions a model reads (its text model's, for a multimodal config), or None."""
    text = config.get("text_config") or config
    value = text.get("max_position_embeddings") or config.get("max_position_embeddings")
    return int(value) if isinstance(value, int) and value > 0 else None


def prompt_counter(tokenizer) -> PromptCounter:
    """Prompt tokens of a conversation, rendered as generation renders it (the chat template, then the
    answer's start), without the tokenizer's own special tokens (the template writes those)."""

    def count(messages: list[dict]) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(
            tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        )  # no "too long" warning: that is our question

    return count


def model_context(model: ChatModel) -> tuple[int, PromptCounter] | None:
    """(context, counter) for a model loaded in this process, or None."""
    if not isinstance(model, LocalChatModel):
        return None
    context = getattr(model.model.config.get_text_config(), "max_position_embeddings", None)
    return (int(context), prompt_counter(model.tokenizer)) if context else None


def folder_context(folder: str | Path) -> tuple[int, PromptCounter] | None:
    """(context, counter) from a model folder's config and tokenizer, or None (no transformers, no
    chat template, no context in the config)."""
    folder = Path(folder)
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    context = context_length(json.loads((folder / "config.json").read_text()))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if context is None or not tokenizer.chat_template:
        return None
    return context, prompt_counter(tokenizer)
