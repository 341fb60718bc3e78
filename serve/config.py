"""Serving configuration: environment variables first, command-line flags override them.

TUNEBENCH_BACKEND       openai | tgi | tgi-generate | inprocess          (default: openai)
TUNEBENCH_BACKEND_URL   the server, e.g. http://127.0.0.1:8000/v1 or http://tgi:80
TUNEBENCH_MODEL         model name the server expects (`transformers serve`: the folder path;
                        vLLM: the served name; TGI: any), or the folder for `inprocess`
TUNEBENCH_TOKENIZER     where `tgi-generate` reads the chat template (default: TUNEBENCH_MODEL)
TUNEBENCH_API_KEY_ENV   NAME of the variable holding an API key (the key itself never goes in a file)
TUNEBENCH_BACKEND_TIMEOUT  seconds per request (default 60)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tunebench.paths import models_root

BACKEND_NAMES = ("openai", "tgi", "tgi-generate", "inprocess")
_DEFAULT_URLS = {"openai": "http://127.0.0.1:8000/v1", "tgi": "http://127.0.0.1:8080"}
DEFAULT_RUN = "tiny-text-to-sql"


def default_model() -> Path:
    """The model `make train` leaves: models/tiny-text-to-sql/merged."""
    return models_root() / DEFAULT_RUN / "merged"


@dataclass(frozen=True)
class BackendConfig:
    backend: str = "openai"
    url: str | None = None
    model: str | None = None
    tokenizer: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 60.0
    # One retry: a demo user would rather see "server down" quickly than wait through backoff.
    max_retries: int = 1

    def default_url(self) -> str:
        return _DEFAULT_URLS["openai" if self.backend == "openai" else "tgi"]

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def with_overrides(self, **values) -> BackendConfig:
        return dataclasses.replace(self, **{k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BackendConfig:
        env = os.environ if env is None else env
        timeout = env.get("TUNEBENCH_BACKEND_TIMEOUT")
        return cls().with_overrides(
            backend=env.get("TUNEBENCH_BACKEND") or None,
            url=env.get("TUNEBENCH_BACKEND_URL") or None,
            model=env.get("TUNEBENCH_MODEL") or None,
            tokenizer=env.get("TUNEBENCH_TOKENIZER") or None,
            api_key_env=env.get("TUNEBENCH_API_KEY_ENV") or None,
            timeout_s=float(timeout) if timeout else None,
        )


def add_backend_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("backend (flags override TUNEBENCH_* environment variables)")
    g.add_argument("--backend", choices=BACKEND_NAMES, help="openai | tgi | tgi-generate | inprocess")
    g.add_argument(
        "--url", help="server URL, e.g. http://127.0.0.1:8000/v1 (openai) or http://host:8080 (tgi)"
    )
    g.add_argument("--model", help="model name on the server, or the model folder (inprocess)")
    g.add_argument("--tokenizer", help="chat template source for tgi-generate (default: --model)")
    g.add_argument("--api-key-env", help="NAME of the environment variable holding the API key")
    g.add_argument("--timeout", type=float, help="seconds per request")


def config_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> BackendConfig:
    return BackendConfig.from_env(env).with_overrides(
        backend=args.backend,
        url=args.url,
        model=args.model,
        tokenizer=args.tokenizer,
        api_key_env=args.api_key_env,
        timeout_s=args.timeout,
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
    concurrency_limit: int = 2  # generations at once; the in-process backend runs one anyway
    queue_size: int = 32  # requests waiting beyond that are refused
    examples_per_db: int = 8
