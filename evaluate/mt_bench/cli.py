"""MT-Bench for tunebench: `python -m tunebench.evaluate.mt_bench {answers,judge,results,run,smoke}`.

    answers  write model_answer/<model_id>.jsonl for a model (folder, adapter, hub id or URL[#name])
    judge    judge the answers (pairwise-baseline | pairwise-all | single) with any OpenAI-compatible judge
    results  results.json, results.md and plots from the FastChat-format judgment file
    run      answers for MODEL and BASELINE → judgments → results (what `make eval` runs)
    smoke    the chain on the embedded tiny model, which also judges (labelled SMOKE RUN)

Output goes to models/<run>/eval/mt_bench/ for a model inside a run, else to --out.
Keys only from the environment: OPENAI_API_KEY, or JUDGE_BASE_URL (+ JUDGE_API_KEY) for another judge.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tunebench.evaluate.mt_bench import pipeline as pipe
from tunebench.evaluate.mt_bench.answers import (
    DEFAULT_MAX_NEW_TOKENS,
    default_model_id,
    generate_answers,
    resolve_model,
)
from tunebench.evaluate.mt_bench.judge import FatalJudgeError
from tunebench.evaluate.mt_bench.matches import MODES, MissingDataError
from tunebench.formats import DataFormatError
from tunebench.paths import RunPaths

DEFAULT_BASELINE = "mistralai/Mistral-7B-Instruct-v0.2"


def out_dir_for(args) -> Path:
    if args.out:
        return Path(args.out)
    model = getattr(args, "model", None)
    if not model:
        raise SystemExit("give --out (the folder holding model_answer/ and model_judgment/)")
    run = RunPaths.from_model_dir(model)
    if run is not None:
        return run.eval_mt_bench
    mid = getattr(args, "model_id", None)
    if not mid:
        is_url = model.startswith(("http://", "https://"))
        mid = resolve_model(model, Path(".")).model_id if is_url else default_model_id(model)
    return RunPaths.for_run(pipe.safe_id(mid)).eval_mt_bench


def _bench(args) -> pipe.Bench:
    ids = [int(x) for x in args.question_ids.split(",")] if args.question_ids else None
    return pipe.load_bench(args.bench_dir, args.first_n, ids, args.cache_dir)


def _answers(args, bench, out: Path, spec: str, model_id: str | None) -> str:
    source = resolve_model(spec, out / "model_answer", model_id)
    stats = generate_answers(
        bench.questions,
        source,
        out / "model_answer",
        max_new_tokens=args.max_new_tokens,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        dtype=args.dtype,
        device=args.device,
    )
    print(
        f"answers {stats.model_id}: {stats.written} written, {stats.skipped} already on disk, "
        f"{stats.failed} failed ({stats.wall_s} s) → {stats.path}"
    )
    if stats.failed:
        raise SystemExit(f"{stats.failed} question(s) got no answer from {spec}; rerun to retry only those")
    return source.model_id


def _judge_cfg(args):
    return pipe.judge_config(
        args.judge,
        judge_id=args.judge_id,
        base_url=args.judge_base_url,
        api_key_env=args.judge_api_key_env,
        concurrency=args.judge_concurrency,
        max_tokens=args.judge_max_tokens,
        retry_rounds=args.retry_rounds,
        retry_wait_s=args.retry_wait_s,
        system_in_user=args.judge_system_in_user,
        timeout_s=args.judge_timeout_s,
        max_retries=args.judge_max_retries,
    )


def _judge(args, bench, out: Path, cfg, models: list[str], baseline: str | None) -> None:
    if args.dry_run:
        est = pipe.dry_run_report(
            bench,
            out,
            cfg,
            mode=args.mode,
            models=models,
            baseline=baseline,
            reference_model=args.reference_model,
        )
        if est["reference_calls"] and not args.make_references:
            est["note"] = "references missing: the run needs --make-references or --reference-model gpt-4"
        print("dry run, nothing spent:\n" + json.dumps(est, indent=2))
        return
    refs = pipe.ensure_references(
        bench, out, cfg, reference_model=args.reference_model, make=args.make_references
    )
    stats = pipe.judge_step(bench, out, cfg, mode=args.mode, models=models, baseline=baseline, refs=refs)
    print(
        f"judged {stats.matches} matches ({stats.already_done} already on disk): {stats.calls} calls, "
        f"{stats.api_errors} API errors, {stats.parse_errors} unparseable verdicts, {stats.wall_s} s"
    )


def _results(args, bench, out: Path, judge_id: str, baseline: str | None) -> None:
    files = pipe.results_step(bench, out, judge_id, mode=args.mode, baseline=baseline, smoke=args.smoke)
    print(files["md"].read_text())
    print(f"results: {files['md']}  {files['json']}")


def cmd_answers(args) -> None:
    out = out_dir_for(args)
    _answers(args, _bench(args), out, args.model, args.model_id)


def _model_list(args, out: Path) -> list[str]:
    if args.models:
        return args.models
    return sorted(p.stem for p in (out / "model_answer").glob("*.jsonl"))  # FastChat's get_model_list


def cmd_judge(args) -> None:
    out, bench = out_dir_for(args), _bench(args)
    cfg = _judge_cfg(args)
    baseline = args.baseline if args.mode == "pairwise-baseline" else None
    _judge(args, bench, out, cfg, _model_list(args, out), baseline)


def cmd_results(args) -> None:
    out, bench = out_dir_for(args), _bench(args)
    judge_id = args.judge_id or pipe.safe_id(args.judge or pipe.DEFAULT_JUDGE)
    _results(args, bench, out, judge_id, args.baseline if args.mode == "pairwise-baseline" else None)


def cmd_run(args) -> None:
    out = out_dir_for(args)
    try:
        cfg = _judge_cfg(args)  # before any answer is generated: no judge, nothing spent
    except pipe.NoJudgeError as e:
        if not args.dry_run:
            raise
        print(f"note: {e}\n", file=sys.stderr)
        cfg = pipe.judge_config(args.judge, judge_id=args.judge_id, base_url="http://judge.invalid/v1")
    bench = _bench(args)
    if args.dry_run:
        model_id = args.model_id or resolve_model(args.model, out / "model_answer").model_id
        baseline_id = args.baseline_id or resolve_model(args.baseline, out / "model_answer").model_id
    else:
        # References too are checked before any answer is generated.
        pipe.check_references(
            bench, out, cfg, reference_model=args.reference_model, make=args.make_references
        )
        model_id = _answers(args, bench, out, args.model, args.model_id)
        baseline_id = _answers(args, bench, out, args.baseline, args.baseline_id) if args.baseline else None
    models = [model_id] + ([baseline_id] if baseline_id and args.mode != "pairwise-baseline" else [])
    base = baseline_id if args.mode == "pairwise-baseline" else None
    _judge(args, bench, out, cfg, models, base)
    if not args.dry_run:
        _results(args, bench, out, cfg.judge_id, base)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.evaluate.mt_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", help="output folder (default: models/<run>/eval/mt_bench)")
    common.add_argument("--bench-dir", help="FastChat's data/mt_bench folder (default: pinned download)")
    common.add_argument("--cache-dir", help="where the pinned download is kept")
    common.add_argument("--first-n", type=int, help="only the first N questions (debug, as FastChat)")
    common.add_argument("--question-ids", help="comma-separated question ids")
    common.add_argument("--mode", choices=MODES, default="pairwise-baseline")
    gen = argparse.ArgumentParser(add_help=False)
    gen.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    gen.add_argument("--concurrency", type=int, default=8, help="concurrent conversations (endpoints)")
    gen.add_argument("--batch-size", type=int, default=8, help="questions per forward pass (in-process)")
    gen.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    gen.add_argument("--device", default=None)
    jd = argparse.ArgumentParser(add_help=False)
    jd.add_argument("--judge", help=f"judge model name (default $JUDGE_MODEL or {pipe.DEFAULT_JUDGE})")
    jd.add_argument("--judge-id", help="name in file names and reference answers (default: the model name)")
    jd.add_argument("--judge-base-url", help="OpenAI-compatible judge (default $JUDGE_BASE_URL, else OpenAI)")
    jd.add_argument("--judge-api-key-env", help="NAME of the env variable holding the judge's key")
    jd.add_argument("--judge-concurrency", type=int, default=16)
    jd.add_argument("--judge-max-tokens", type=int, default=2048)
    jd.add_argument("--judge-timeout-s", type=float, default=120.0)
    jd.add_argument("--judge-max-retries", type=int, default=5, help="the openai client's own retries")
    jd.add_argument("--retry-rounds", type=int, default=3, help="further tries once the client gives up")
    jd.add_argument("--retry-wait-s", type=float, default=10.0)
    jd.add_argument("--judge-system-in-user", action="store_true", help="for judges without a system role")
    jd.add_argument("--make-references", action="store_true", help="the judge writes its reference answers")
    jd.add_argument(
        "--reference-model", help="use another model's references (e.g. gpt-4, as FastChat ships)"
    )
    jd.add_argument("--dry-run", action="store_true", help="print calls and a token estimate; spend nothing")
    res = argparse.ArgumentParser(add_help=False)
    res.add_argument("--smoke", action="store_true", help="label results a SMOKE RUN")

    p = sub.add_parser("answers", parents=[common, gen], help="generate answers for one model")
    p.add_argument("--model", required=True)
    p.add_argument("--model-id")
    p.set_defaults(func=cmd_answers)
    p = sub.add_parser("judge", parents=[common, jd], help="judge answers already on disk")
    p.add_argument("--models", nargs="+", help="model ids to judge (default: every answer file)")
    p.add_argument("--baseline", help="baseline model id (pairwise-baseline)")
    p.set_defaults(func=cmd_judge)
    p = sub.add_parser("results", parents=[common, res], help="tables and plots from the judgments")
    p.add_argument("--judge")
    p.add_argument("--judge-id")
    p.add_argument("--baseline")
    p.set_defaults(func=cmd_results)
    p = sub.add_parser("run", parents=[common, gen, jd, res], help="answers → judgments → results")
    p.add_argument("--model", required=True)
    p.add_argument("--model-id")
    p.add_argument("--baseline", default=DEFAULT_BASELINE)
    p.add_argument("--baseline-id")
    p.set_defaults(func=cmd_run)
    from tunebench.evaluate.mt_bench.smoke import add_smoke_parser

    add_smoke_parser(sub, [common])
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (pipe.NoJudgeError, FatalJudgeError, MissingDataError, DataFormatError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
