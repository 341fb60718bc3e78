"""The MT-Bench steps the CLI and the smoke run share: bench, judge configuration, references,
judging (or its dry-run estimate) and results."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tunebench.evaluate.mt_bench.answers import ModelSource, generate_answers
from tunebench.evaluate.mt_bench.data import (
    judge_prompts_file,
    load_answers,
    load_judge_prompts,
    load_questions,
    reference_file,
    resolve_bench_dir,
)
from tunebench.evaluate.mt_bench.judge import JudgeConfig, estimate, judgment_file, run_judging
from tunebench.evaluate.mt_bench.matches import MissingDataError, make_matches, mode_kind, needs_reference
from tunebench.evaluate.mt_bench.results import compute_results, write_results
from tunebench.openai_compat import Endpoint, normalize_base_url

DEFAULT_JUDGE = "gpt-4-turbo"
OPENAI_BASE_URL = "https://api.openai.com/v1"
REFERENCE_MAX_TOKENS = 1024  # FastChat's gen_api_answer default


class NoJudgeError(RuntimeError):
    """No judge is configured; raised before anything is spent."""


@dataclass(frozen=True)
class Bench:
    dir: Path
    questions: list[dict]
    prompts: dict[str, dict]


def load_bench(bench_dir: str | Path | None, first_n: int | None = None, ids=None, cache_dir=None) -> Bench:
    d = resolve_bench_dir(bench_dir, Path(cache_dir) if cache_dir else None)
    questions = load_questions(d / "question.jsonl", limit=first_n, ids=ids)
    return Bench(d, questions, load_judge_prompts(judge_prompts_file(d)))


def safe_id(name: str) -> str:
    """A file-name-safe id for a model name or path (FastChat names files after the judge model)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", name.strip()).strip("-.") or "judge"


def judge_config(
    judge: str | None = None,
    *,
    judge_id: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    **kw,
) -> JudgeConfig:
    """OpenAI by default (key in OPENAI_API_KEY) or any OpenAI-compatible server (JUDGE_BASE_URL)."""
    model = judge or os.environ.get("JUDGE_MODEL") or DEFAULT_JUDGE
    base_url = base_url or os.environ.get("JUDGE_BASE_URL") or None
    if base_url:
        key_env = api_key_env or os.environ.get("JUDGE_API_KEY_ENV") or "JUDGE_API_KEY"
        base_url = normalize_base_url(base_url)
    else:
        key_env = api_key_env or os.environ.get("JUDGE_API_KEY_ENV") or "OPENAI_API_KEY"
        if not os.environ.get(key_env):
            raise NoJudgeError(
                f"no judge configured, nothing was spent: the judge `{model}` on OpenAI needs {key_env}.\n"
                f"  export OPENAI_API_KEY=...        # then: make eval JUDGE={model}\n"
                "or use any OpenAI-compatible server (vLLM, TGI, `transformers serve`) as the judge:\n"
                "  export JUDGE_BASE_URL=http://HOST:PORT/v1   # its key, if any, in JUDGE_API_KEY\n"
                "  make eval JUDGE=<the model name that server expects>"
            )
        base_url = OPENAI_BASE_URL
    endpoint = Endpoint(
        base_url,
        model,
        api_key_env=key_env,
        timeout_s=kw.pop("timeout_s", 120.0),
        max_retries=kw.pop("max_retries", 5),
    )
    return JudgeConfig(endpoint=endpoint, judge_id=judge_id or safe_id(model), **kw)


def reference_questions(bench: Bench) -> list[dict]:
    return [q for q in bench.questions if needs_reference(q["category"])]


def check_references(
    bench: Bench, out: Path, cfg: JudgeConfig, *, reference_model: str | None, make: bool
) -> dict[int, dict] | None:
    """The references if complete, None if the judge is to write them; raises (before anything is
    spent) when they are missing and may not be made."""
    ref_qs = reference_questions(bench)
    ref_id = reference_model or cfg.judge_id
    path = reference_file([out, bench.dir], ref_id)
    refs = load_answers(path) if path else {}
    missing = [q for q in ref_qs if q["question_id"] not in refs]
    if not missing:
        return refs
    if not make or ref_id != cfg.judge_id:
        raise MissingDataError(
            f"no reference answers by `{ref_id}` for {len(missing)} math/reasoning/coding question(s) "
            f"(looked for reference_answer/{ref_id}.jsonl in {out} and {bench.dir}). Add --make-references "
            f"to have the judge write them ({2 * len(missing)} calls), or --reference-model gpt-4 to use "
            "the GPT-4 references FastChat ships."
        )
    return None


def ensure_references(
    bench: Bench,
    out: Path,
    cfg: JudgeConfig,
    *,
    reference_model: str | None,
    make: bool,
    progress: bool = True,
    max_new_tokens: int = REFERENCE_MAX_TOKENS,
) -> dict[int, dict]:
    """Reference answers keyed by judge as FastChat does: reference_answer/<judge>.jsonl in the run's
    folder or the bench folder. `make` writes the judge's own (FastChat ships gpt-4's only)."""
    refs = check_references(bench, out, cfg, reference_model=reference_model, make=make)
    if refs is not None:
        return refs
    ref_qs = reference_questions(bench)
    src = ModelSource("endpoint", cfg.endpoint.base_url, cfg.judge_id, cfg.endpoint.model)
    stats = generate_answers(
        ref_qs,
        src,
        out / "reference_answer",
        max_new_tokens=max_new_tokens,
        concurrency=cfg.concurrency,
        endpoint=cfg.endpoint,
        progress=progress,
    )
    if stats.failed:
        raise MissingDataError(f"{stats.failed} reference answer(s) failed; rerun to retry them")
    return load_answers(out / "reference_answer" / f"{cfg.judge_id}.jsonl")


def load_model_answers(out: Path, model_ids: list[str]) -> dict[str, dict[int, dict]]:
    answers = {}
    for m in model_ids:
        p = out / "model_answer" / f"{m}.jsonl"
        if p.exists():
            answers[m] = load_answers(p)
    return answers


def placeholder_answers(bench: Bench, chars_per_turn: int = 1600) -> dict[int, dict]:
    """Answers of typical length (~400 tokens a turn) for a dry run before any answer exists."""
    text = "x" * chars_per_turn
    return {
        q["question_id"]: {"question_id": q["question_id"], "choices": [{"index": 0, "turns": [text] * 2}]}
        for q in bench.questions
    }


def dry_run_report(
    bench: Bench,
    out: Path,
    cfg: JudgeConfig,
    *,
    mode: str,
    models: list[str],
    baseline: str | None,
    reference_model: str | None,
) -> dict:
    all_models = sorted(set(models) | ({baseline} if baseline else set()))
    answers = load_model_answers(out, all_models)
    guessed = [m for m in all_models if m not in answers or len(answers[m]) < len(bench.questions)]
    for m in guessed:
        answers[m] = {**placeholder_answers(bench), **answers.get(m, {})}
    ref_id = reference_model or cfg.judge_id
    ref_path = reference_file([out, bench.dir], ref_id)
    refs = load_answers(ref_path) if ref_path else {}
    ref_missing = [q for q in reference_questions(bench) if q["question_id"] not in refs]
    refs = {**placeholder_answers(bench), **refs}
    matches = make_matches(mode, bench.questions, models, answers, bench.prompts, refs, baseline)
    est = estimate(matches, out, cfg)
    est["reference_calls"] = 2 * len(ref_missing)
    est["answers_guessed_for"] = guessed
    return est


def judge_step(
    bench: Bench,
    out: Path,
    cfg: JudgeConfig,
    *,
    mode: str,
    models: list[str],
    baseline: str | None,
    refs: dict[int, dict],
    progress: bool = True,
):
    all_models = sorted(set(models) | ({baseline} if baseline and mode == "pairwise-baseline" else set()))
    answers = load_model_answers(out, all_models)
    matches = make_matches(mode, bench.questions, models, answers, bench.prompts, refs, baseline)
    return run_judging(matches, out, cfg, progress=progress)


def results_step(
    bench: Bench, out: Path, judge_id: str, *, mode: str, baseline: str | None, smoke: bool = False
) -> dict[str, Path]:
    path = judgment_file(out, judge_id, mode_kind(mode) == "pairwise")
    res = compute_results(path, bench.questions, mode=mode, baseline=baseline, smoke=smoke)
    return write_results(res, out)
