"""Serving configuration: environment variables first, command-line flags override them.

TUNEBENCH_MODEL           the model, as one spec (`tunebench.chat.ModelSpec`): a folder (loaded in the
                          app's process), a hub id (org/name) or an OpenAI-compatible server
                          `http://host:port/v1#served-name` (TGI, vLLM, SGLang, `transformers serve`)
                          (default: models/tiny-text-to-sql/merged)
TUNEBENCH_API_KEY_ENV     NAME of the variable holding the server's API key (the key never goes in a file)
TUNEBENCH_TIMEOUT         seconds the app waits for a server's first token, and between two tokens
                          (default 15; no retry: a frozen server costs a user 15 s, not minutes)
TUNEBENCH_DEVICE          device for a folder loaded in process (default: cuda when present, else cpu)
TUNEBENCH_ADAPTERS        where the app looks for LoRA adapters to offer (default: the models volume)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tunebench.chat import ChatModel, GenerationSettings, open_chat_model
from tunebench.runs.paths import models_root

MODEL_ENV = "TUNEBENCH_MODEL"
DEFAULT_RUN = "tiny-text-to-sql"


def default_model() -> Path:
    """The model `make train` leaves: models/tiny-text-to-sql/merged."""
    return models_root() / DEFAULT_RUN / "merged"


@dataclass(frozen=True)
class ModelConfig:
    """Which model answers, and how long to wait for it."""

    spec: str = ""  # empty: default_model()
    api_key_env: str | None = None
    # A streamed answer's first token (and each next one) must come within this; the openai client's
    # timeout is per read, so it bounds the wait a user sees without cutting a long answer short.
    timeout_s: float = 15.0
    # No retry: a demo user would rather see "server down" at once than wait through backoff (a
    # supervised server is restarted by `make serve` itself, see serve/supervisor.py).
    max_retries: int = 0
    device: str | None = None

    @property
    def resolved_spec(self) -> str:
        return self.spec or str(default_model())

    def with_overrides(self, **values) -> ModelConfig:
        return dataclasses.replace(self, **{k: v for k, v in values.items() if v is not None})

    def open(self, settings: GenerationSettings, *, concurrency: int = 2) -> ChatModel:
        """The `ChatModel` the spec names; raises `ChatError` (one sentence) when it cannot be opened."""
        return open_chat_model(
            self.resolved_spec,
            settings,
            batch_size=1,  # the app asks one question per request
            concurrency=concurrency,
            device=self.device,
            api_key_env=self.api_key_env,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ModelConfig:
        env = os.environ if env is None else env
        timeout = env.get("TUNEBENCH_TIMEOUT")
        return cls().with_overrides(
            spec=env.get(MODEL_ENV) or None,
            api_key_env=env.get("TUNEBENCH_API_KEY_ENV") or None,
            timeout_s=float(timeout) if timeout else None,
            device=env.get("TUNEBENCH_DEVICE") or None,
        )


def add_model_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model (flags override TUNEBENCH_* environment variables)")
    g.add_argument(
        "--model",
        help="a model folder, a hub id (org/name) or a server http://host:port/v1#served-name "
        "(default: $TUNEBENCH_MODEL, else models/tiny-text-to-sql/merged)",
    )
    g.add_argument("--api-key-env", help="NAME of the environment variable holding the server's API key")
    g.add_argument(
        "--timeout", type=float, help="seconds to wait for a server's first token, and between tokens"
    )
    g.add_argument("--device", help="device for a folder loaded in process (cpu, cuda)")


def model_config_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> ModelConfig:
    return ModelConfig.from_env(env).with_overrides(
        spec=args.model, api_key_env=args.api_key_env, timeout_s=args.timeout, device=args.device
    )


@dataclass(frozen=True)
class AppConfig:
    """Limits of the demo page; each one protects the server from a user or a runaway model."""

    data_dir: Path | None = None  # sample databases (default: data/text2sql, built when missing)
    max_question_chars: int = 500
    max_schema_chars: int = 8000  # a first cap; the prompt's tokens are then checked against the model
    max_sql_chars: int = 10_000  # SQL a user edits and runs again
    max_new_tokens: int = 256
    # A prompt must leave at least this many of the model's positions for the SQL (the answer is
    # then cut to what is left); fewer, and the question is refused before the model is asked.
    min_answer_tokens: int = 32
    temperature: float = 0.0
    sql_timeout_s: float = 2.0
    max_rows: int = 200
    concurrency_limit: int = 2  # generations at once; a model in the app's process runs one anyway
    queue_size: int = 32  # questions waiting beyond the running ones; more are answered "busy"
    max_upload_bytes: int = 64 << 20  # an uploaded SQLite file
    examples_per_db: int = 8
    health_every_s: float = 2.0  # how often the model's health is checked in the background
    health_timeout_s: float = 1.0  # a health check waits this long for the server, no more

    @property
    def settings(self) -> GenerationSettings:
        return GenerationSettings(max_new_tokens=self.max_new_tokens, temperature=self.temperature)
