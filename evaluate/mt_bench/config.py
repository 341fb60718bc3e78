"""What each MT-Bench command runs with: one frozen object per command, built by the CLI (or a test,
or the smoke run) and handed to the plain functions of `pipeline`.

The judge is resolved here once, for `judge`, `results` and `run` alike: the flag, then the
`JUDGE_MODEL` environment variable, then `DEFAULT_JUDGE`. Its key is read from the environment only,
when a request is made (`Endpoint.api_key_env` names the variable; no key is ever stored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tunebench.chat import GenerationSettings
from tunebench.chat.openai_compat import Endpoint, normalize_base_url

DEFAULT_JUDGE = "gpt-4-turbo"
DEFAULT_BASELINE = "mistralai/Mistral-7B-Instruct-v0.2"
DEFAULT_MODE = "pairwise-baseline"
# FastChat ships GPT-4's reference answers only (and looks up the judge's own name, so any other judge
# fails there without references of its own); tunebench falls back to GPT-4's for every judge.
DEFAULT_REFERENCE_MODEL = "gpt-4"
DEFAULT_MAX_NEW_TOKENS = 1024  # FastChat's gen_model_answer default
REFERENCE_MAX_TOKENS = 1024  # FastChat's gen_api_answer default
OPENAI_BASE_URL = "https://api.openai.com/v1"
# FastChat's gen_api_answer sends an API model its "chatgpt" conversation template's system message.
API_SYSTEM_MESSAGE = "You are a helpful assistant."


class NoJudgeError(RuntimeError):
    """No judge is configured; raised before anything is spent."""


@dataclass(frozen=True)
class QuestionsConfig:
    """Which questions: FastChat's `data/mt_bench` folder (default: the pinned download), a subset."""

    questions_dir: Path | None = None
    cache_dir: Path | None = None
    first_n: int | None = None
    question_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class AnswerConfig:
    """How a model answers: FastChat's token limit; batched in process, concurrent over HTTP."""

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    batch_size: int = 8  # conversations per forward pass (local models)
    concurrency: int = 8  # requests in flight (servers)
    dtype: str = "auto"
    device: str | None = None
    api_key_env: str | None = None  # NAME of the variable holding a server's key (API answerers)
    # None: FastChat's API system message for servers, none for local models (their own template).
    system_message: str | None = None
    seed: int = 0

    def settings(self, temperature: float) -> GenerationSettings:
        return GenerationSettings(max_new_tokens=self.max_new_tokens, temperature=temperature, seed=self.seed)


@dataclass(frozen=True)
class JudgeConfig:
    """The judge: an OpenAI-compatible model, FastChat's settings (temperature 0, 2048 tokens)."""

    endpoint: Endpoint
    concurrency: int = 16
    max_tokens: int = 2048
    temperature: float = 0.0
    retry_rounds: int = 3  # further tries once the client's own retries gave up
    retry_wait_s: float = 10.0
    system_in_user: bool = False  # for judges without a system role
    make_references: bool = False  # the judge writes its own reference answers
    reference_model: str | None = None  # whose reference answers (default: the judge's, else gpt-4)
    reference_max_tokens: int = REFERENCE_MAX_TOKENS  # length of the references the judge writes
    label: str | None = None  # a name for files and rows other than the model's (the smoke run's)

    @property
    def judge_id(self) -> str:
        """The judge's model name: it names the judgment file (FastChat's layout, `org/model_pair.jsonl`
        for `org/model`) and fills the rows' `judge` field."""
        return self.label or self.endpoint.model


def judge_name(flag: str | None = None) -> str:
    """Who judges: the flag, then $JUDGE_MODEL, then the default (judge and results agree)."""
    name = (flag or os.environ.get("JUDGE_MODEL") or DEFAULT_JUDGE).strip()
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise NoJudgeError(f"judge name {name!r}: expected a model name such as gpt-4-turbo or org/model")
    return name


def resolve_judge(
    judge: str | None = None,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 120.0,
    max_retries: int = 5,
    require_key: bool = True,
) -> Endpoint:
    """OpenAI by default (key in OPENAI_API_KEY) or any OpenAI-compatible server (JUDGE_BASE_URL)."""
    model = judge_name(judge)
    base_url = base_url or os.environ.get("JUDGE_BASE_URL") or None
    key_env = api_key_env or os.environ.get("JUDGE_API_KEY_ENV") or None
    if base_url:
        key_env, base_url = key_env or "JUDGE_API_KEY", normalize_base_url(base_url)
    else:
        # OPENAI_BASE_URL is the openai client's own setting (a proxy, a gateway): honoured here too.
        key_env = key_env or "OPENAI_API_KEY"
        base_url = normalize_base_url(os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL)
        if require_key and not os.environ.get(key_env):
            raise NoJudgeError(
                f"no judge configured, nothing was spent: the judge `{model}` on OpenAI needs {key_env}.\n"
                f"  export OPENAI_API_KEY=...        # then: make eval JUDGE={model}\n"
                "or use any OpenAI-compatible server (vLLM, TGI, `transformers serve`) as the judge:\n"
                "  export JUDGE_BASE_URL=http://HOST:PORT/v1   # its key, if any, in JUDGE_API_KEY\n"
                "  make eval JUDGE=<the model name that server expects>"
            )
    return Endpoint(base_url, model, api_key_env=key_env, timeout_s=timeout_s, max_retries=max_retries)


@dataclass(frozen=True)
class AnswersCommand:
    out: Path
    model: str  # a folder, hub id, URL[#name], answer file (*.jsonl) or the id of answers on disk
    model_id: str | None = None
    questions: QuestionsConfig = field(default_factory=QuestionsConfig)
    answering: AnswerConfig = field(default_factory=AnswerConfig)


@dataclass(frozen=True)
class JudgeCommand:
    out: Path
    judge: JudgeConfig
    mode: str = DEFAULT_MODE
    models: tuple[str, ...] | None = None  # model ids (default: every answer file, as FastChat)
    baseline: str | None = None  # the baseline's model id (pairwise-baseline)
    questions: QuestionsConfig = field(default_factory=QuestionsConfig)
    dry_run: bool = False


@dataclass(frozen=True)
class ResultsCommand:
    out: Path
    judge_id: str
    mode: str = DEFAULT_MODE
    baseline: str | None = None
    questions: QuestionsConfig = field(default_factory=QuestionsConfig)
    smoke: bool = False


@dataclass(frozen=True)
class RunCommand:
    """answers for the model and the baseline → judgments → results (what `make eval` runs)."""

    out: Path
    model: str
    judge: JudgeConfig
    baseline: str | None = DEFAULT_BASELINE
    model_id: str | None = None
    baseline_id: str | None = None
    mode: str = DEFAULT_MODE
    questions: QuestionsConfig = field(default_factory=QuestionsConfig)
    answering: AnswerConfig = field(default_factory=AnswerConfig)
    dry_run: bool = False
    smoke: bool = False
