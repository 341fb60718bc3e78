"""MT-Bench for tunebench: `python -m tunebench.evaluate.mt_bench {answers,judge,results,run,smoke}`.

    answers  write model_answer/<model_id>.jsonl for a model (folder, hub id, URL[#name], answer file)
    judge    judge the answers (pairwise-baseline | pairwise-all | single) with any OpenAI-compatible judge
    results  results.json, results.md and plots from the FastChat-format judgment file
    run      answers for MODEL and BASELINE → judgments → results (what `make eval` runs)
    smoke    the chain on the embedded tiny model, which also judges (labelled SMOKE RUN)

Output goes to models/<run>/eval/mt_bench/ for a model inside a run, else to --out.
Keys only from the environment: OPENAI_API_KEY, or JUDGE_BASE_URL (+ JUDGE_API_KEY) for another judge.
Each command builds one frozen config (`config.py`) and calls one function of `pipeline.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tunebench.chat import ChatError, ModelSpec, is_model_spec
from tunebench.data.formats import DataFormatError
from tunebench.evaluate.mt_bench import pipeline
from tunebench.evaluate.mt_bench.answers import default_model_id
from tunebench.evaluate.mt_bench.config import (
    DEFAULT_BASELINE,
    DEFAULT_JUDGE,
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_MODE,
    AnswerConfig,
    AnswersCommand,
    JudgeCommand,
    JudgeConfig,
    NoJudgeError,
    QuestionsConfig,
    ResultsCommand,
    RunCommand,
    judge_name,
    resolve_judge,
)
from tunebench.evaluate.mt_bench.judge import FatalJudgeError
from tunebench.evaluate.mt_bench.matches import MODES, MissingDataError
from tunebench.runs.paths import RunPaths


def out_dir_for(out: str | None, model: str | None, model_id: str | None = None) -> Path:
    """--out, else models/<run>/eval/mt_bench for a model inside a run, else models/<model id>/…"""
    if out:
        return Path(out)
    if not model:
        raise MissingDataError("give --out (the folder holding model_answer/ and model_judgment/)")
    run = RunPaths.from_model_dir(model)
    if run is not None:
        return run.eval_mt_bench
    spec = ModelSpec.parse(model) if is_model_spec(model) else None
    if spec is None:
        raise MissingDataError(f"{model!r} is not a model folder, hub id or URL: give --out")
    mid = model_id or (default_model_id(spec.served_name) if spec.is_server and spec.served_name else None)
    if mid is None and spec.is_server:
        raise MissingDataError(f"{model}: name the served model (URL#name), or give --model-id or --out")
    return RunPaths.for_run((mid or default_model_id(model)).replace("/", "--")).eval_mt_bench


def questions_config(args) -> QuestionsConfig:
    ids = tuple(int(x) for x in args.question_ids.split(",")) if args.question_ids else None
    return QuestionsConfig(
        questions_dir=Path(args.questions_dir) if args.questions_dir else None,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        first_n=args.first_n,
        question_ids=ids,
    )


def answer_config(args) -> AnswerConfig:
    return AnswerConfig(
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        dtype=args.dtype,
        device=args.device,
        api_key_env=args.api_key_env,
        system_message=args.system_message,
    )


def judge_config(args, *, require_key: bool = True) -> JudgeConfig:
    endpoint = resolve_judge(
        args.judge,
        base_url=args.judge_base_url,
        api_key_env=args.judge_api_key_env,
        timeout_s=args.judge_timeout_s,
        max_retries=args.judge_max_retries,
        require_key=require_key,
    )
    return JudgeConfig(
        endpoint=endpoint,
        concurrency=args.judge_concurrency,
        max_tokens=args.judge_max_tokens,
        retry_rounds=args.retry_rounds,
        retry_wait_s=args.retry_wait_s,
        system_in_user=args.judge_system_in_user,
        make_references=args.make_references,
        reference_model=args.reference_model,
    )


def print_dry_run(estimate: dict) -> None:
    print("dry run, nothing spent:\n" + json.dumps(estimate, indent=2))


def print_results(files: dict[str, Path]) -> None:
    print(files["md"].read_text())
    print(f"results: {files['md']}  {files['json']}")


def cmd_answers(args) -> None:
    out = out_dir_for(args.out, args.model, args.model_id)
    cmd = AnswersCommand(out, args.model, args.model_id, questions_config(args), answer_config(args))
    pipeline.answers(cmd)


def cmd_judge(args) -> None:
    cmd = JudgeCommand(
        out=out_dir_for(args.out, None),
        judge=judge_config(args, require_key=not args.dry_run),
        mode=args.mode,
        models=tuple(args.models) if args.models else None,
        baseline=args.baseline,
        questions=questions_config(args),
        dry_run=args.dry_run,
    )
    outcome = pipeline.judge(cmd)
    if args.dry_run:
        print_dry_run(outcome)


def cmd_results(args) -> None:
    cmd = ResultsCommand(
        out=out_dir_for(args.out, None),
        judge_id=judge_name(args.judge),  # resolved exactly as `judge` resolves it
        mode=args.mode,
        baseline=args.baseline,
        questions=questions_config(args),
        smoke=args.smoke,
    )
    print_results(pipeline.results(cmd))


def cmd_run(args) -> None:
    judge = judge_config(args, require_key=not args.dry_run)  # before any answer: no judge, nothing spent
    cmd = RunCommand(
        out=out_dir_for(args.out, args.model, args.model_id),
        model=args.model,
        judge=judge,
        baseline=args.baseline or None,
        model_id=args.model_id,
        baseline_id=args.baseline_id,
        mode=args.mode,
        questions=questions_config(args),
        answering=answer_config(args),
        dry_run=args.dry_run,
        smoke=args.smoke,
    )
    outcome = pipeline.run(cmd)
    if args.dry_run:
        print_dry_run(outcome)
    else:
        print_results(outcome)


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--out", help="output folder (default: models/<run>/eval/mt_bench)")
    ap.add_argument(
        "--questions-dir",
        "--bench-dir",  # deprecated alias
        dest="questions_dir",
        help="FastChat's data/mt_bench folder (default: the pinned download)",
    )
    ap.add_argument("--cache-dir", help="where the pinned download is kept")
    ap.add_argument("--first-n", type=int, help="only the first N questions (debug, as FastChat)")
    ap.add_argument("--question-ids", help="comma-separated question ids")
    ap.add_argument("--mode", choices=MODES, default=DEFAULT_MODE)


def _answering(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (servers)")
    ap.add_argument("--batch-size", type=int, default=8, help="conversations per forward pass (in process)")
    ap.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    ap.add_argument("--device", default=None)
    ap.add_argument("--api-key-env", help="NAME of the env variable holding an answering server's key")
    ap.add_argument(
        "--system-message",
        help="system message for every conversation (default: FastChat's for servers, none in process)",
    )


def _judging(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--judge", help=f"judge model name (default $JUDGE_MODEL or {DEFAULT_JUDGE})")
    ap.add_argument("--judge-base-url", help="OpenAI-compatible judge (default $JUDGE_BASE_URL, else OpenAI)")
    ap.add_argument("--judge-api-key-env", help="NAME of the env variable holding the judge's key")
    ap.add_argument("--judge-concurrency", type=int, default=16)
    ap.add_argument("--judge-max-tokens", type=int, default=2048)
    ap.add_argument("--judge-timeout-s", type=float, default=120.0)
    ap.add_argument("--judge-max-retries", type=int, default=5, help="the openai client's own retries")
    ap.add_argument("--retry-rounds", type=int, default=3, help="further tries once the client gives up")
    ap.add_argument("--retry-wait-s", type=float, default=10.0)
    ap.add_argument("--judge-system-in-user", action="store_true", help="for judges without a system role")
    ap.add_argument("--make-references", action="store_true", help="the judge writes its own references")
    ap.add_argument(
        "--reference-model",
        help="whose reference answers (default: the judge's own if on disk, else FastChat's gpt-4)",
    )
    ap.add_argument("--dry-run", action="store_true", help="print calls and a token estimate; spend nothing")


def build_parser() -> argparse.ArgumentParser:
    from tunebench.evaluate.mt_bench.smoke import add_smoke_parser

    ap = argparse.ArgumentParser(
        prog="python -m tunebench.evaluate.mt_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("answers", help="generate answers for one model")
    _common(p)
    _answering(p)
    p.add_argument("--model", required=True)
    p.add_argument("--model-id")
    p.set_defaults(func=cmd_answers)

    p = sub.add_parser("judge", help="judge answers already on disk")
    _common(p)
    _judging(p)
    p.add_argument("--models", nargs="+", help="model ids to judge (default: every answer file)")
    p.add_argument("--baseline", help="baseline model id (pairwise-baseline)")
    p.set_defaults(func=cmd_judge)

    p = sub.add_parser("results", help="tables and plots from the judgments")
    _common(p)
    p.add_argument(
        "--judge", help=f"the judge whose verdicts to read (default $JUDGE_MODEL or {DEFAULT_JUDGE})"
    )
    p.add_argument("--baseline")
    p.add_argument("--smoke", action="store_true", help="label results a SMOKE RUN")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("run", help="answers → judgments → results")
    _common(p)
    _answering(p)
    _judging(p)
    p.add_argument("--model", required=True)
    p.add_argument("--model-id")
    p.add_argument("--baseline", default=DEFAULT_BASELINE, help="'' for none (pairwise-all, single)")
    p.add_argument("--baseline-id")
    p.add_argument("--smoke", action="store_true", help="label results a SMOKE RUN")
    p.set_defaults(func=cmd_run)

    add_smoke_parser(sub, _common)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (
        NoJudgeError,
        FatalJudgeError,
        MissingDataError,
        DataFormatError,
        FileNotFoundError,
        ChatError,
    ) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
