"""MT-Bench's files in FastChat's formats: questions, judge prompts, model and reference answers.

A questions folder (FastChat's `data/mt_bench`) holds `question.jsonl`, `judge_prompts.jsonl` and
`reference_answer/<judge>.jsonl` (FastChat keeps `judge_prompts.jsonl` one level up; both places are
accepted). Without `--questions-dir` the three upstream files are downloaded once from FastChat's
GitHub, pinned to a commit and checked by sha256, into a cache. FastChat's own loaders
(`fastchat.llm_judge.common`) cannot be imported without `anthropic`, so they are re-read here with
errors that name the file, row and field.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import read_jsonl
from tunebench.runs.atomic_io import atomic_write_bytes

# Copied from fastchat/llm_judge/common.py (fschat 0.2.36); a test compares them with its source.
NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")
TEMPERATURE_CONFIG = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
    "arena-hard-200": 0.0,
}
DEFAULT_TEMPERATURE = 0.7  # FastChat's value for a category it does not know
API_ERROR_OUTPUT = "$ERROR$"  # FastChat's judgment text for a call that never succeeded

PAIR_PROMPTS = ("pair-v2", "pair-math-v1", "pair-v2-multi-turn", "pair-math-v1-multi-turn")
SINGLE_PROMPTS = ("single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn")
PROMPT_FIELDS = ("name", "type", "system_prompt", "prompt_template", "output_format")

# The canonical files: FastChat's repository, pinned. The sha256s are those of the copies in
# ../shared/reference/mt_bench/ (a test checks them there); a mismatch refuses the download.
FASTCHAT_COMMIT = "587d5cfa1609a43d192cedb8441cac3c17db105d"
_RAW = f"https://raw.githubusercontent.com/lm-sys/FastChat/{FASTCHAT_COMMIT}/fastchat/llm_judge/data"
CANONICAL_FILES = {
    "question.jsonl": (
        f"{_RAW}/mt_bench/question.jsonl",
        "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7",
    ),
    "judge_prompts.jsonl": (
        f"{_RAW}/judge_prompts.jsonl",
        "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6",
    ),
    "reference_answer/gpt-4.jsonl": (
        f"{_RAW}/mt_bench/reference_answer/gpt-4.jsonl",
        "f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f",
    ),
}


def temperature_for(category: str) -> float:
    return TEMPERATURE_CONFIG.get(category, DEFAULT_TEMPERATURE)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tunebench" / "mt_bench" / FASTCHAT_COMMIT[:12]


def download_questions(cache_dir: Path | None = None, *, timeout_s: float = 60.0) -> Path:
    """Fetch the pinned upstream files once (checked by sha256) and return the cached questions folder."""
    cache = Path(cache_dir or default_cache_dir())
    for rel, (url, digest) in CANONICAL_FILES.items():
        dest = cache / rel
        if dest.exists() and sha256_of(dest) == digest:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as r:
                data = r.read()
        except OSError as err:  # URLError, timeouts, no route: offline
            raise FileNotFoundError(
                f"MT-Bench's {rel} is not cached in {cache} and GitHub cannot be reached "
                f"({getattr(err, 'reason', err)}): run once where it can be (the files are cached), or pass "
                "--questions-dir with FastChat's data/mt_bench folder"
            ) from None
        got = hashlib.sha256(data).hexdigest()
        if got != digest:
            raise RuntimeError(
                f"{url}: sha256 {got} != pinned {digest}; refusing it (pass --questions-dir with your own copy)"
            )
        atomic_write_bytes(dest, data)
    return cache


def resolve_questions_dir(questions_dir: str | Path | None, cache_dir: Path | None = None) -> Path:
    if questions_dir:
        path = Path(questions_dir)
        if not (path / "question.jsonl").exists():
            raise FileNotFoundError(f"{path}: no question.jsonl (expected FastChat's data/mt_bench layout)")
        return path
    return download_questions(cache_dir)


def judge_prompts_file(questions_dir: Path) -> Path:
    for candidate in (questions_dir / "judge_prompts.jsonl", questions_dir.parent / "judge_prompts.jsonl"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{questions_dir}: no judge_prompts.jsonl here or in its parent folder")


# --- reading -----------------------------------------------------------------------------------


def _require(row: dict, field: str, kind: type | tuple, path: Path, i: int):
    if field not in row:
        raise DataFormatError(str(path), i, field, "missing")
    if not isinstance(row[field], kind) or isinstance(row[field], bool):
        raise DataFormatError(str(path), i, field, f"expected {getattr(kind, '__name__', kind)}")
    return row[field]


def load_questions(path: Path, limit: int | None = None, ids: Iterable[int] | None = None) -> list[dict]:
    rows = read_jsonl(path)
    seen = set()
    for i, q in enumerate(rows, start=1):
        qid = _require(q, "question_id", int, path, i)
        _require(q, "category", str, path, i)
        turns = _require(q, "turns", list, path, i)
        if not turns or not all(isinstance(t, str) for t in turns):
            raise DataFormatError(str(path), i, "turns", "expected a non-empty list of strings")
        if qid in seen:
            raise DataFormatError(str(path), i, "question_id", f"duplicate id {qid}")
        seen.add(qid)
    if ids is not None:
        wanted = set(ids)
        rows = [q for q in rows if q["question_id"] in wanted]
    return rows[:limit] if limit else rows


def load_judge_prompts(path: Path) -> dict[str, dict]:
    prompts = {}
    for i, p in enumerate(read_jsonl(path), start=1):
        for field in PROMPT_FIELDS:
            _require(p, field, str, path, i)
        prompts[p["name"]] = p
    return prompts


def load_answers(path: Path) -> dict[int, dict]:
    """FastChat's model_answer/<id>.jsonl (also reference_answer/<judge>.jsonl): question_id → row."""
    answers = {}
    for i, a in enumerate(read_jsonl(path), start=1):
        qid = _require(a, "question_id", int, path, i)
        choices = _require(a, "choices", list, path, i)
        if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("turns"), list):
            raise DataFormatError(str(path), i, "choices", "expected [{'index': 0, 'turns': [...]}]")
        answers[qid] = a  # a later line wins, as in FastChat's loader
    return answers


def answer_turns(answer: dict) -> list[str]:
    return answer["choices"][0]["turns"]


def reference_file(dirs: Iterable[Path], judge_id: str) -> Path | None:
    """reference_answer/<judge_id>.jsonl in the first folder that has it (the run's own first)."""
    for d in dirs:
        p = Path(d) / "reference_answer" / f"{judge_id}.jsonl"
        if p.exists():
            return p
    return None


@dataclass(frozen=True)
class QuestionSet:
    """The questions to ask and the judge prompts, from one questions folder."""

    dir: Path
    questions: list[dict]
    prompts: dict[str, dict]

    def by_id(self) -> dict[int, dict]:
        return {q["question_id"]: q for q in self.questions}


def load_question_set(
    questions_dir: str | Path | None,
    first_n: int | None = None,
    ids: Iterable[int] | None = None,
    cache_dir: str | Path | None = None,
) -> QuestionSet:
    d = resolve_questions_dir(questions_dir, Path(cache_dir) if cache_dir else None)
    questions = load_questions(d / "question.jsonl", limit=first_n, ids=ids)
    return QuestionSet(d, questions, load_judge_prompts(judge_prompts_file(d)))
