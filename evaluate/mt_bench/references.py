"""Reference answers for the math, reasoning and coding questions, keyed by who wrote them as FastChat
does (`reference_answer/<model>.jsonl`, in the run's folder or the questions folder).

Which references a judge sees: `--reference-model` when given; else the judge's own when they exist
(or `--make-references`, which has the judge write them); else FastChat's GPT-4 references, the ones
FastChat ships and uses for every judge.
"""

from __future__ import annotations

from pathlib import Path

from tunebench.chat import ModelSpec, open_chat_model
from tunebench.evaluate.mt_bench.answers import generate_answers
from tunebench.evaluate.mt_bench.config import (
    DEFAULT_REFERENCE_MODEL,
    REFERENCE_MAX_TOKENS,
    AnswerConfig,
    JudgeConfig,
)
from tunebench.evaluate.mt_bench.data import QuestionSet, load_answers, reference_file
from tunebench.evaluate.mt_bench.matches import MissingDataError, needs_reference


def reference_questions(qs: QuestionSet) -> list[dict]:
    return [q for q in qs.questions if needs_reference(q["category"])]


def reference_author(qs: QuestionSet, out: Path, cfg: JudgeConfig) -> str:
    """Whose reference answers the judge sees (see the module's docstring)."""
    if cfg.reference_model:
        return cfg.reference_model
    if cfg.make_references or reference_file([out, qs.dir], cfg.judge_id):
        return cfg.judge_id
    return DEFAULT_REFERENCE_MODEL


def check_references(qs: QuestionSet, out: Path, cfg: JudgeConfig) -> dict[int, dict] | None:
    """The references if complete, None if the judge is to write them; raises (before anything is
    spent) when they are missing and may not be made."""
    author = reference_author(qs, out, cfg)
    path = reference_file([out, qs.dir], author)
    refs = load_answers(path) if path else {}
    missing = [q for q in reference_questions(qs) if q["question_id"] not in refs]
    if not missing:
        return refs
    if not cfg.make_references or author != cfg.judge_id:
        raise MissingDataError(
            f"no reference answers by `{author}` for {len(missing)} math/reasoning/coding question(s) "
            f"(looked for reference_answer/{author}.jsonl in {out} and {qs.dir}). Add --make-references "
            f"to have the judge write its own ({2 * len(missing)} calls), or --reference-model NAME."
        )
    return None


def ensure_references(
    qs: QuestionSet,
    out: Path,
    cfg: JudgeConfig,
    *,
    progress: bool = True,
    max_new_tokens: int = REFERENCE_MAX_TOKENS,
) -> tuple[str, dict[int, dict]]:
    """(author, references); with `make_references` the judge writes those still missing."""
    refs = check_references(qs, out, cfg)
    if refs is not None:
        return reference_author(qs, out, cfg), refs
    ep = cfg.endpoint
    judge = open_chat_model(
        ModelSpec("server", ep.base_url, ep.model),
        concurrency=cfg.concurrency,
        api_key_env=ep.api_key_env,
        timeout_s=ep.timeout_s,
        max_retries=ep.max_retries,
    )
    try:
        generate_answers(
            reference_questions(qs),
            judge,
            cfg.judge_id,
            out / "reference_answer",
            AnswerConfig(max_new_tokens=max_new_tokens, concurrency=cfg.concurrency),
            progress=progress,
        )
    finally:
        judge.close()
    return cfg.judge_id, load_answers(out / "reference_answer" / f"{cfg.judge_id}.jsonl")
