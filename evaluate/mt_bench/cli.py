"""MT-Bench for tunebench: `python -m tunebench.evaluate.mt_bench {answers,judge,results,run,smoke}`.

    answers  write model_answer/<model_id>.jsonl for a model (folder, hub id, URL[#name], answer file)
    judge    judge the answers (pairwise-baseline | pairwise-all | single) with any OpenAI-compatible judge
    results  results/<judge>/<mode>/results.{json,md} and plots from the FastChat-format judgment file
    run      answers for MODEL and BASELINE → judgments → results (what `make eval` runs; the default
             subcommand, so `python -m tunebench.evaluate.mt_bench --model_name_or_path M` runs it)
    smoke    the chain on the embedded tiny model, which also judges (labelled SMOKE RUN)

Output: --output_dir, else models/<run>/eval/mt_bench/ for a model inside a run, else
models/<model id>/eval/mt_bench/. A rerun keeps what is current; answers and judgments made with other
inputs move to stale/ beside their file and are made again, and ones set aside earlier whose inputs
match again are brought back, never paid for twice. Flags are spelled as in transformers and TRL
(--model_name_or_path, --output_dir, --max_new_tokens); dashed spellings and --model/--out work too.
Keys only from the environment: OPENAI_API_KEY, or JUDGE_BASE_URL (+ JUDGE_API_KEY) for another judge.
Each command builds one frozen config (`config.py`) and calls one function of `pipeline.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tunebench.chat import ChatError
from tunebench.data.formats import DataFormatError
from tunebench.evaluate import conventions as conv
from tunebench.evaluate.mt_bench import pipeline
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
from tunebench.evaluate.mt_bench.judge import AllGamesFailed, FatalJudgeError, JudgingInterrupted
from tunebench.evaluate.mt_bench.matches import MODES, MissingDataError


def out_dir_for(out: str | None, model: str | None, model_id: str | None = None) -> Path:
    """--output_dir, else the evaluators' default folder (`tunebench.evaluate.conventions`)."""
    try:
        return conv.check_output_dir(conv.output_dir_for(out, model, "mt_bench", model_id))
    except conv.OutputDirError as err:
        raise MissingDataError(str(err)) from None


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
    out = out_dir_for(args.output_dir, args.model_name_or_path, args.model_id)
    cmd = AnswersCommand(
        out, args.model_name_or_path, args.model_id, questions_config(args), answer_config(args)
    )
    pipeline.answers(cmd)


def cmd_judge(args) -> None:
    cmd = JudgeCommand(
        out=out_dir_for(args.output_dir, None),
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
        out=out_dir_for(args.output_dir, None),
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
        out=out_dir_for(args.output_dir, args.model_name_or_path, args.model_id),
        model=args.model_name_or_path,
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


def _common(ap) -> None:
    conv.add_output_flag(ap)
    conv.add_flag(
        ap,
        "questions_dir",
        "--bench-dir",  # deprecated alias
        "--bench_dir",
        help="FastChat's data/mt_bench folder (default: the pinned download)",
    )
    conv.add_flag(ap, "cache_dir", help="where the pinned download is kept")
    conv.add_flag(
        ap, "first_n", type=conv.positive_int, help="only the first N questions (debug, as FastChat)"
    )
    conv.add_flag(ap, "question_ids", help="comma-separated question ids")
    conv.add_flag(ap, "mode", choices=MODES, default=DEFAULT_MODE)


def _answering(ap, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> None:
    conv.add_generation_flags(ap, max_new_tokens=max_new_tokens, batch_size=8, concurrency=8)
    conv.add_flag(
        ap,
        "system_message",
        help="system message for every conversation (default: FastChat's for servers, none in process)",
    )


def _judging(ap, judge_max_tokens: int = 2048) -> None:
    conv.add_flag(ap, "judge", help=f"judge model name (default $JUDGE_MODEL or {DEFAULT_JUDGE})")
    conv.add_flag(ap, "judge_base_url", help="OpenAI-compatible judge (default $JUDGE_BASE_URL, else OpenAI)")
    conv.add_flag(ap, "judge_api_key_env", help="NAME of the env variable holding the judge's key")
    conv.add_flag(ap, "judge_concurrency", type=conv.positive_int, default=16)
    conv.add_flag(ap, "judge_max_tokens", type=conv.positive_int, default=judge_max_tokens)
    conv.add_flag(ap, "judge_timeout_s", type=conv.positive_float, default=120.0)
    conv.add_flag(ap, "judge_max_retries", type=int, default=5, help="the openai client's own retries")
    conv.add_flag(ap, "retry_rounds", type=int, default=3, help="further tries once the client gives up")
    conv.add_flag(ap, "retry_wait_s", type=float, default=10.0)
    conv.add_flag(ap, "judge_system_in_user", action="store_true", help="for judges without a system role")
    conv.add_flag(ap, "make_references", action="store_true", help="the judge writes its own references")
    conv.add_flag(
        ap,
        "reference_model",
        help="whose reference answers (default: the judge's own if on disk, else FastChat's gpt-4)",
    )
    conv.add_flag(ap, "dry_run", action="store_true", help="print calls and a token estimate; spend nothing")


SUBCOMMANDS = ("answers", "judge", "results", "run", "smoke")
INTERRUPTED = (
    "interrupted: every finished answer and judgment is kept on disk; rerun the same command to go on"
)


def build_parser() -> conv.OneLineParser:
    from tunebench.evaluate.mt_bench.smoke import add_smoke_parser

    ap = conv.OneLineParser(
        prog="python -m tunebench.evaluate.mt_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("answers", help="generate answers for one model")
    _common(p)
    _answering(p)
    conv.add_model_flags(p)
    conv.add_flag(p, "model_id")
    p.set_defaults(func=cmd_answers)

    p = sub.add_parser("judge", help="judge answers already on disk")
    _common(p)
    _judging(p)
    conv.add_flag(p, "models", nargs="+", help="model ids to judge (default: every answer file)")
    conv.add_flag(p, "baseline", help="baseline model id (pairwise-baseline)")
    p.set_defaults(func=cmd_judge)

    p = sub.add_parser("results", help="tables and plots from the judgments")
    _common(p)
    conv.add_flag(
        p, "judge", help=f"the judge whose verdicts to read (default $JUDGE_MODEL or {DEFAULT_JUDGE})"
    )
    conv.add_flag(p, "baseline")
    conv.add_flag(p, "smoke", action="store_true", help="label results a SMOKE RUN")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("run", help="answers → judgments → results (the default)")
    _common(p)
    _answering(p)
    _judging(p)
    conv.add_model_flags(p)
    conv.add_flag(p, "model_id")
    conv.add_flag(p, "baseline", default=DEFAULT_BASELINE, help="'' for none (pairwise-all, single)")
    conv.add_flag(p, "baseline_id")
    conv.add_flag(p, "smoke", action="store_true", help="label results a SMOKE RUN")
    p.set_defaults(func=cmd_run)

    add_smoke_parser(sub, _common, _answering)
    return ap


def main(argv=None) -> int:
    argv = conv.with_default_subcommand(sys.argv[1:] if argv is None else list(argv), SUBCOMMANDS)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a flag's one-line error
        return int(done.code or 0)
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
    except AllGamesFailed as e:  # the judge answered nothing: a failed run, not a bad input
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        if not isinstance(e, JudgingInterrupted):  # judging has said it already, in one line
            print(INTERRUPTED, file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
