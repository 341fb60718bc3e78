"""MT-Bench as plain functions: answers → judge → results, each taking its command's frozen config.

The CLI, the smoke run and tests call these; none of them passes anything else down.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tunebench.chat import ChatModel, open_chat_model
from tunebench.evaluate.mt_bench.answers import (
    AnswerSource,
    AnswerStats,
    DeferredModel,
    default_model_id,
    fingerprint_of,
    generate_answers,
    import_answers,
    pending,
    resolve_source,
)
from tunebench.evaluate.mt_bench.config import (
    AnswerConfig,
    AnswersCommand,
    JudgeCommand,
    QuestionsConfig,
    ResultsCommand,
    RunCommand,
)
from tunebench.evaluate.mt_bench.data import QuestionSet, load_answers, load_question_set
from tunebench.evaluate.mt_bench.judge import JudgeStats, check_some_judged, estimate, run_judging
from tunebench.evaluate.mt_bench.matches import MissingDataError, make_matches, mode_kind
from tunebench.evaluate.mt_bench.references import (
    check_references,
    ensure_references,
    reference_author,
    reference_questions,
)
from tunebench.evaluate.mt_bench.results import compute_results, write_results
from tunebench.evaluate.mt_bench.store import changed_answers, judgment_file, results_dir


def load_questions_for(cfg: QuestionsConfig) -> QuestionSet:
    return load_question_set(cfg.questions_dir, cfg.first_n, cfg.question_ids, cfg.cache_dir)


def open_model(source: AnswerSource, cfg: AnswerConfig) -> ChatModel:
    return open_chat_model(
        source.spec,
        batch_size=cfg.batch_size,
        concurrency=cfg.concurrency,
        dtype=cfg.dtype,
        device=cfg.device,
        api_key_env=cfg.api_key_env,
    )


def model_id_of(source: AnswerSource, model: ChatModel | None) -> str:
    """The source's id; a server named without `#name` is asked which model it serves."""
    if source.model_id or model is None:
        return source.model_id
    return default_model_id(model.served_name).replace(":", "_")


def answers_for(
    spec: str,
    model_id: str | None,
    qs: QuestionSet,
    out: Path,
    cfg: AnswerConfig,
    *,
    progress: bool = True,
) -> str:
    """Answers for one model spec into out/model_answer/; returns the model id they are filed under."""
    answer_dir = Path(out) / "model_answer"
    source = resolve_source(spec, answer_dir, model_id)
    if source.spec is None:
        path, stale, aside = import_answers(source, answer_dir, qs.questions)
        if stale:
            print(
                f"answers {source.model_id}: {stale} stale (another answer file was given), kept in {aside}"
            )
        missing, _ = pending(qs.questions, path)
        if missing:
            raise MissingDataError(
                f"{path}: no answers to {len(missing)} question(s) "
                f"(ids {[q['question_id'] for q in missing[:10]]}) and no model to generate them"
            )
        print(f"answers {source.model_id}: {len(qs.questions)} on disk → {path}")
        return source.model_id
    # A server is only a client here; a local model is loaded when something is left to answer.
    model = (
        open_model(source, cfg)
        if source.spec.is_server
        else DeferredModel(source.spec, lambda: open_model(source, cfg))
    )
    try:
        mid = model_id_of(source, model)
        stats: AnswerStats = generate_answers(
            qs.questions, model, mid, answer_dir, cfg, fingerprint=fingerprint_of(model), progress=progress
        )
    finally:
        model.close()
    if stats.stale:
        print(
            f"answers {mid}: {stats.stale} stale (written by another version of the model or other "
            f"settings), kept in {stats.stale_file}; answered again"
        )
    restored = (
        f", {stats.restored} brought back from stale/ (the same model and settings)" if stats.restored else ""
    )
    print(
        f"answers {mid}: {stats.written} written, {stats.skipped} already on disk{restored} "
        f"({stats.wall_s} s) → {stats.path}"
    )
    return mid


def answers(cmd: AnswersCommand, *, progress: bool = True) -> str:
    qs = load_questions_for(cmd.questions)
    return answers_for(cmd.model, cmd.model_id, qs, cmd.out, cmd.answering, progress=progress)


def load_model_answers(out: Path, model_ids: list[str]) -> dict[str, dict[int, dict]]:
    found = {}
    for m in model_ids:
        p = Path(out) / "model_answer" / f"{m}.jsonl"
        if p.exists():
            found[m] = load_answers(p)
    return found


def answer_ids_on_disk(out: Path) -> list[str]:
    """Every answer file's model id (FastChat's get_model_list; an id `org/name` lies in a subfolder).
    Files set aside in a `stale/` folder are no model's current answers."""
    root = Path(out) / "model_answer"
    files = [p.relative_to(root) for p in root.rglob("*.jsonl")]
    return sorted(str(p.with_suffix("")) for p in files if "stale" not in p.parts[:-1])


def placeholder_answers(qs: QuestionSet, chars_per_turn: int = 1600) -> dict[int, dict]:
    """Answers of typical length (~400 tokens a turn) for a dry run before any answer exists."""
    text = "x" * chars_per_turn
    return {
        q["question_id"]: {"question_id": q["question_id"], "choices": [{"index": 0, "turns": [text] * 2}]}
        for q in qs.questions
    }


def _pairs(cmd: JudgeCommand, out: Path) -> tuple[list[str], str | None, list[str]]:
    """(models judged, baseline, every model whose answers are needed)."""
    models = list(cmd.models) if cmd.models else answer_ids_on_disk(out)
    baseline = cmd.baseline if cmd.mode == "pairwise-baseline" else None
    needed = sorted(set(models) | ({baseline} if baseline else set()))
    return models, baseline, needed


def dry_run(cmd: JudgeCommand, qs: QuestionSet) -> dict:
    """Calls and tokens the judging would spend; nothing is sent."""
    models, baseline, needed = _pairs(cmd, cmd.out)
    found = load_model_answers(cmd.out, needed)
    guessed = [m for m in needed if m not in found or len(found[m]) < len(qs.questions)]
    for m in guessed:
        found[m] = {**placeholder_answers(qs), **found.get(m, {})}
    try:
        refs = check_references(qs, cmd.out, cmd.judge) or {}
        reference_calls = 0
    except MissingDataError:
        refs, reference_calls = {}, None
    if cmd.judge.make_references and not refs:
        reference_calls = 2 * len(reference_questions(qs))
    refs = {**placeholder_answers(qs), **refs}
    matches = make_matches(cmd.mode, qs.questions, models, found, qs.prompts, refs, baseline)
    est = estimate(matches, cmd.out, cmd.judge)
    est["reference_answers"] = reference_author(qs, cmd.out, cmd.judge)
    est["reference_calls"] = reference_calls
    if reference_calls is None:
        est["note"] = "reference answers missing: the run needs --make-references or --reference-model"
    est["answers_guessed_for"] = guessed
    return est


def judge(cmd: JudgeCommand, *, progress: bool = True) -> JudgeStats | dict:
    """Judge every match not already on disk; a dry run returns its estimate instead."""
    qs = load_questions_for(cmd.questions)
    if cmd.dry_run:
        return dry_run(cmd, qs)
    _, refs = ensure_references(
        qs, cmd.out, cmd.judge, progress=progress, max_new_tokens=cmd.judge.reference_max_tokens
    )
    models, baseline, needed = _pairs(cmd, cmd.out)
    found = load_model_answers(cmd.out, needed)
    matches = make_matches(cmd.mode, qs.questions, models, found, qs.prompts, refs, baseline)
    stats = run_judging(matches, cmd.out, cmd.judge, progress=progress)
    print(
        f"judged {stats.matches} matches ({stats.already_done} already on disk): {stats.games} games played "
        f"in {stats.requests} HTTP requests, {stats.api_errors} API errors, {stats.parse_errors} "
        f"unparseable verdicts, {stats.wall_s} s"
    )
    check_some_judged(stats)
    return stats


def results(cmd: ResultsCommand) -> dict[str, Path]:
    """results.json, results.md and plots from the judgment file; a missing file changes nothing."""
    qs = load_questions_for(cmd.questions)
    path = judgment_file(cmd.out, cmd.judge_id, mode_kind(cmd.mode) == "pairwise")
    if not path.exists():
        raise MissingDataError(
            f"{path}: no judgments by `{cmd.judge_id}` (mode {cmd.mode}); run `judge` first "
            "(results are left as they were)"
        )
    baseline = cmd.baseline if cmd.mode == "pairwise-baseline" else None
    answers = load_model_answers(cmd.out, answer_ids_on_disk(cmd.out))
    res = compute_results(
        path,
        qs.questions,
        mode=cmd.mode,
        baseline=baseline,
        smoke=cmd.smoke,
        answer_dir=cmd.out / "model_answer",
        changed=lambda row: changed_answers(row, answers),
    )
    if res["stale_rows"]:
        print(
            f"results: {res['stale_rows']} judgment(s) left out, made on answers of "
            f"{', '.join(res['stale_models'])} that have changed since; run `judge` again",
            file=sys.stderr,
        )
    if not res["rows"]:
        raise MissingDataError(
            f"{path}: no current judgments for these questions (results are left as they were)"
        )
    return write_results(res, results_dir(cmd.out, cmd.judge_id, cmd.mode))


def run(cmd: RunCommand, *, progress: bool = True) -> dict[str, Path] | dict:
    """Answers for the model and the baseline → judgments → results. References are checked before
    any answer is generated, so a run that cannot be judged spends nothing."""
    qs = load_questions_for(cmd.questions)
    answer_dir = cmd.out / "model_answer"
    if cmd.dry_run:
        model_id = cmd.model_id or resolve_source(cmd.model, answer_dir).model_id
        baseline_id = cmd.baseline and (cmd.baseline_id or resolve_source(cmd.baseline, answer_dir).model_id)
    else:
        check_references(qs, cmd.out, cmd.judge)
        model_id = answers_for(cmd.model, cmd.model_id, qs, cmd.out, cmd.answering, progress=progress)
        baseline_id = cmd.baseline and answers_for(
            cmd.baseline, cmd.baseline_id, qs, cmd.out, cmd.answering, progress=progress
        )
    pairwise_baseline = cmd.mode == "pairwise-baseline"
    models = [model_id] + ([baseline_id] if baseline_id and not pairwise_baseline else [])
    judge_cmd = JudgeCommand(
        out=cmd.out,
        judge=cmd.judge,
        mode=cmd.mode,
        models=tuple(models),
        baseline=baseline_id if pairwise_baseline else None,
        questions=cmd.questions,
        dry_run=cmd.dry_run,
    )
    outcome = judge(judge_cmd, progress=progress)
    if cmd.dry_run:
        return outcome
    return results(
        ResultsCommand(
            out=cmd.out,
            judge_id=cmd.judge.judge_id,
            mode=cmd.mode,
            baseline=judge_cmd.baseline,
            questions=cmd.questions,
            smoke=cmd.smoke,
        )
    )
