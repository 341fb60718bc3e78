"""Answers to text-to-SQL prompts, greedy by default: in-process (Hugging Face, batched, left
padding) or from any OpenAI-compatible server (TGI, vLLM, `transformers serve`, …) with a
concurrency limit.

Both send the same chat messages (`tunebench.prompts.sql_messages`); the chat template applied is
the model's own (the tokenizer's in process, the server's otherwise), so the model sees exactly
its training format. Answers are raw text; `tunebench.sql_text.extract_sql` turns them into SQL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tunebench.chat_template import CHATML_TEMPLATE, IM_END
from tunebench.openai_compat import Endpoint


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 256
    temperature: float = 0.0  # greedy; > 0 samples (seeded), as the seed's evaluation did at 0.7
    seed: int = 0

    def to_json(self) -> dict:
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "seed": self.seed}


class Backend(Protocol):
    settings: GenerationSettings

    def generate(self, conversations: list[list[dict]], *, progress: bool = False) -> list[str]: ...

    def describe(self) -> dict: ...


class InProcessBackend:
    """`tunebench.generation.HFGenerator`: many prompts per forward pass, left-padded."""

    def __init__(
        self,
        model_path: str | Path,
        settings: GenerationSettings = GenerationSettings(),
        *,
        batch_size: int = 16,
        device: str | None = None,
        dtype: str = "auto",
    ):
        from tunebench.generation import HFGenerator

        self.model_path = str(model_path)
        self.settings = settings
        self.batch_size = batch_size
        self.generator = HFGenerator(model_path, dtype=dtype, device=device, seed=settings.seed)
        self.chat_template = "the model's own"
        if not self.generator.tokenizer.chat_template:
            # A pre-trained base without a chat template (e.g. CodeLlama-7b-hf): prompt it in the ChatML
            # format its fine-tune is trained with, the fair "before" measurement. Reports say so.
            self.generator.tokenizer.chat_template = CHATML_TEMPLATE
            self.chat_template = "tunebench ChatML (the model has no chat template of its own)"

    def generate(self, conversations: list[list[dict]], *, progress: bool = False) -> list[str]:
        return self.generator.generate(
            conversations,
            max_new_tokens=self.settings.max_new_tokens,
            temperature=self.settings.temperature,
            batch_size=self.batch_size,
            progress=progress,
        )

    def describe(self) -> dict:
        return {
            "backend": "in-process",
            "model": self.model_path,
            "batch_size": self.batch_size,
            "device": str(self.generator.device),
            "chat_template": self.chat_template,
            "parameters": sum(p.numel() for p in self.generator.model.parameters()),
        }


class EndpointBackend:
    """Chat completions from an OpenAI-compatible server, at most `concurrency` requests at a time."""

    def __init__(
        self, endpoint: Endpoint, settings: GenerationSettings = GenerationSettings(), *, concurrency: int = 8
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.endpoint = endpoint
        self.settings = settings
        self.concurrency = concurrency
        self._client = None

    def _complete(self, messages: list[dict]) -> str:
        # The openai client retries 429/5xx/timeouts itself (Endpoint.max_retries, with backoff).
        response = self._client.chat.completions.create(
            model=self.endpoint.model,
            messages=messages,
            temperature=self.settings.temperature,
            max_tokens=self.settings.max_new_tokens,
            seed=self.settings.seed,
            stop=[IM_END],
        )
        return (response.choices[0].message.content or "").strip()

    def generate(self, conversations: list[list[dict]], *, progress: bool = False) -> list[str]:
        from tqdm.auto import tqdm

        if self._client is None:
            self._client = self.endpoint.client()  # one client (one connection pool) for all threads
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sql-gen") as pool:
            futures = [pool.submit(self._complete, m) for m in conversations]
            # Results come back in the caller's order; a failed request (after retries) raises here.
            return [f.result() for f in tqdm(futures, desc="generating", disable=not progress, unit="q")]

    def describe(self) -> dict:
        return {
            "backend": "openai-compatible endpoint",
            "base_url": self.endpoint.base_url,
            "model": self.endpoint.model,
            "concurrency": self.concurrency,
        }
