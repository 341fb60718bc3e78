"""Does a prompt fit the model? Counted with the model's own tokenizer and chat template, against its
context (`max_position_embeddings`), before the model is asked, so a schema the model cannot read is
one line about the schema, not a model failure.

The tokenizer comes from the model in the app's process, or from the model's folder when the app can
read it (`make serve` starts `transformers serve` on a folder; a server names its model by folder or by
run, `models/<run>/merged`) and transformers is installed. The serve image has no transformers: there
the server's own refusal ("the prompt has N tokens") is what the user reads, labelled as input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunebench.chat import ChatError, ChatModel, GenerationSettings
from tunebench.chat.context import folder_context, model_context
from tunebench.runs.paths import models_root

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptBudget:
    """The model's context in tokens, and how to count a conversation's prompt tokens."""

    context: int
    count: Callable[[list[dict]], int]

    def fit(
        self, messages: list[dict], settings: GenerationSettings, min_answer: int
    ) -> tuple[GenerationSettings, str | None]:
        """The settings with the answer cut to the positions the prompt leaves, or why it cannot fit."""
        used = self.count(messages)
        left = self.context - used
        if left < min_answer:
            return settings, (
                f"the prompt is {used:,} tokens (schema and question) and the model reads at most "
                f"{self.context:,}, with {min_answer} left for the SQL: shorten the schema to the tables "
                "the question needs"
            )
        return settings.replace(max_new_tokens=min(settings.max_new_tokens, left)), None


def model_folder(model: ChatModel, hint: str | Path | None = None) -> Path | None:
    """A folder holding the model's tokenizer and config, when the app can read one."""
    candidates = [hint] if hint else []
    served = getattr(model.spec, "served_name", None)
    if served:
        candidates += [served, models_root() / served / "merged"]
    for candidate in candidates:
        path = Path(candidate)
        if (path / "config.json").is_file():
            return path
    return None


def budget_for(model: ChatModel, folder_hint: str | Path | None = None) -> PromptBudget | None:
    """The model's prompt budget, or None when neither the model nor a readable folder gives one."""
    found = model_context(model)
    folder = model_folder(model, folder_hint) if found is None else None
    if folder is not None:
        try:
            found = folder_context(folder)
        except (OSError, ValueError) as err:
            log.warning("no prompt budget from %s: %s", folder, err)
    return PromptBudget(*found) if found else None


_TOO_LONG = re.compile(r"token|context|too long|max_model_len|maximum.*length", re.I)


def prompt_too_long(err: ChatError) -> bool:
    """Whether a server refused the request because the prompt does not fit (HTTP 400/413/422 saying so)."""
    cause = err.__cause__
    status = getattr(cause, "status_code", None)
    return status in (400, 413, 422) and bool(_TOO_LONG.search(str(err)))
