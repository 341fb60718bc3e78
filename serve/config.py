"""Serving configuration: environment variables first, command-line flags override them.

TUNEBENCH_MODEL           the model, as one spec (`tunebench.chat.ModelSpec`): a folder (loaded in the
                          app's process), a hub id (org/name) or an OpenAI-compatible server
                          `http://host:port/v1#served-name` (TGI, vLLM, SGLang, `transformers serve`)
                          (default: models/tiny-text-to-sql/merged)
TUNEBENCH_API_KEY_ENV     NAME of the variable holding the server's API key (the key never goes in a file)
TUNEBENCH_TIMEOUT         seconds per request to a server (default 60)
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
    timeout_s: float = 60.0
    # One retry: a demo user would rather see "server down" quickly than wait through backoff.
    max_retries: int = 1
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
    g.add_argument("--timeout", type=float, help="seconds per request to a server")
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
    max_schema_chars: int = 8000
    max_new_tokens: int = 256
    temperature: float = 0.0
    sql_timeout_s: float = 2.0
    max_rows: int = 200
    concurrency_limit: int = 2  # generations at once; a model in the app's process runs one anyway
    queue_size: int = 32  # requests waiting beyond that are refused
    examples_per_db: int = 8

    @property
    def settings(self) -> GenerationSettings:
        return GenerationSettings(max_new_tokens=self.max_new_tokens, temperature=self.temperature)
