"""The MT-Bench chain on CPU with nothing paid: a SMOKE RUN of the plumbing.

The embedded fine-tuned tiny model, served by a real `transformers serve` on 127.0.0.1, answers
(over HTTP) and judges; the tiny base model answers in process as the baseline. Questions and judge
prompts come from tunebench's sample questions (or --questions-dir). The judge writes its own
reference answers. The tiny model cannot follow the judge's format, so most verdicts count as
errors; the results are labelled SMOKE RUN everywhere.
"""

from __future__ import annotations

from pathlib import Path

from tunebench.chat.openai_compat import Endpoint
from tunebench.evaluate.conventions import default_model_id
from tunebench.evaluate.mt_bench import pipeline
from tunebench.evaluate.mt_bench.config import AnswerConfig, JudgeConfig, QuestionsConfig, RunCommand
from tunebench.evaluate.mt_bench.matches import MissingDataError
from tunebench.evaluate.mt_bench.sample import write_sample_questions
from tunebench.runs.paths import RunPaths, models_root, tiny_base_dir

SMOKE_JUDGE_ID = "smoke-tiny-judge"


def smoke_out_dir(model: str | Path) -> Path:
    run = RunPaths.from_model_dir(model)
    root = run.eval_mt_bench if run else RunPaths.for_run(default_model_id(str(model))).eval_mt_bench
    return root / "smoke"


def smoke_command(
    endpoint: Endpoint,
    baseline: str | Path,
    out: Path,
    *,
    questions_dir: Path,
    n_questions: int = 3,
    max_new_tokens: int = 48,
    judge_max_tokens: int = 64,
) -> RunCommand:
    """The served model answers and judges; the baseline answers in process."""
    model_id = default_model_id(endpoint.model)
    baseline_id = default_model_id(str(baseline))
    if baseline_id == model_id:
        baseline_id += "-baseline"
    judge = JudgeConfig(
        endpoint=Endpoint(endpoint.base_url, endpoint.model, timeout_s=300, max_retries=1),
        concurrency=2,
        max_tokens=judge_max_tokens,
        retry_rounds=1,
        retry_wait_s=1,
        make_references=True,
        # A judge as small as the tiny model has a 1,024-token context: a reference answer as long as
        # FastChat's (1,024 tokens) fills it, and the second turn, which repeats the first, cannot fit.
        reference_max_tokens=max_new_tokens,
        label=SMOKE_JUDGE_ID,
    )
    return RunCommand(
        out=Path(out),
        model=f"{endpoint.base_url}#{endpoint.model}",
        judge=judge,
        baseline=str(baseline),
        model_id=model_id,
        baseline_id=baseline_id,
        questions=QuestionsConfig(questions_dir=questions_dir, first_n=n_questions),
        answering=AnswerConfig(max_new_tokens=max_new_tokens, concurrency=2, system_message=""),
        smoke=True,
    )


def run_smoke(
    model: str | Path,
    baseline: str | Path,
    out: Path,
    *,
    questions_dir: str | Path | None = None,
    n_questions: int = 3,
    max_new_tokens: int = 48,
    judge_max_tokens: int = 64,
    endpoint: Endpoint | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Serve `model` (unless `endpoint` is given) and run the whole chain against it."""
    out = Path(out)
    qdir = Path(questions_dir) if questions_dir else write_sample_questions(out / "sample_questions")

    def chain(ep: Endpoint) -> dict[str, Path]:
        cmd = smoke_command(
            ep,
            baseline,
            out,
            questions_dir=qdir,
            n_questions=n_questions,
            max_new_tokens=max_new_tokens,
            judge_max_tokens=judge_max_tokens,
        )
        return pipeline.run(cmd, progress=progress)

    if endpoint is not None:
        return chain(endpoint)
    from tunebench.chat.local_server import transformers_serve

    out.mkdir(parents=True, exist_ok=True)
    with transformers_serve(model, log_path=out / "transformers-serve.log") as ep:
        return chain(ep)


def cmd_smoke(args) -> None:
    model = Path(args.model_name_or_path)
    if not (model / "config.json").exists():
        raise MissingDataError(
            f"{model}: no model here. Train it first (`make train` builds the embedded default "
            "models/tiny-text-to-sql/merged), or pass MODEL=<a merged model folder>"
        )
    if not (Path(args.baseline) / "config.json").exists():
        raise MissingDataError(
            f"{args.baseline}: no baseline model here (the smoke run is offline: a folder). `make train` "
            "builds the embedded tiny base models/tiny-base"
        )
    out = Path(args.output_dir) if args.output_dir else smoke_out_dir(model)
    files = run_smoke(
        model,
        args.baseline,
        out,
        questions_dir=args.questions_dir,
        n_questions=args.first_n or 3,
        max_new_tokens=args.max_new_tokens,
        judge_max_tokens=args.judge_max_tokens,
    )
    print(files["md"].read_text())
    print(f"SMOKE RUN results: {files['md']}")


def add_smoke_parser(sub, add_common, add_answering) -> None:
    from tunebench.evaluate.conventions import add_flag, positive_int

    p = sub.add_parser("smoke", help="SMOKE RUN on the embedded tiny model (CPU, offline)")
    add_common(p)
    add_flag(p, "model_name_or_path", "--model", default=str(models_root() / "tiny-text-to-sql" / "merged"))
    add_flag(p, "baseline", default=str(tiny_base_dir()))
    add_flag(p, "max_new_tokens", type=positive_int, default=48)
    add_flag(p, "judge_max_tokens", type=positive_int, default=64)
    p.set_defaults(func=cmd_smoke)
