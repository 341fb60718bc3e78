"""The MT-Bench chain on CPU with nothing paid: a SMOKE RUN of the plumbing.

The embedded fine-tuned tiny model, served by a real `transformers serve` on 127.0.0.1, answers
(over HTTP) and judges; the tiny base model answers in-process as the baseline. Questions and judge
prompts come from tunebench's sample bench (or --bench-dir). The judge writes its own reference
answers. The tiny model cannot follow the judge's format, so most verdicts count as errors; the
results are labelled SMOKE RUN everywhere.
"""

from __future__ import annotations

from pathlib import Path

from tunebench.evaluate.mt_bench import pipeline as pipe
from tunebench.evaluate.mt_bench.answers import ModelSource, default_model_id, generate_answers
from tunebench.evaluate.mt_bench.judge import JudgeConfig
from tunebench.evaluate.mt_bench.sample import write_sample_bench
from tunebench.openai_compat import Endpoint
from tunebench.paths import RunPaths, models_root, tiny_base_dir

SMOKE_JUDGE_ID = "smoke-tiny-judge"


def smoke_out_dir(model: str | Path) -> Path:
    run = RunPaths.from_model_dir(model)
    root = (
        run.eval_mt_bench
        if run
        else RunPaths.for_run(default_model_id(str(model)), models_root()).eval_mt_bench
    )
    return root / "smoke"


def run_smoke(
    model: str | Path,
    baseline: str | Path,
    out: Path,
    *,
    bench_dir: str | Path | None = None,
    n_questions: int = 3,
    max_new_tokens: int = 48,
    judge_max_tokens: int = 64,
    endpoint: Endpoint | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Answers (served model over HTTP, baseline in-process) → judgments by the served model → results."""
    out = Path(out)
    bench_dir = bench_dir or write_sample_bench(out / "sample_bench")
    bench = pipe.load_bench(bench_dir, first_n=n_questions)
    model_id, baseline_id = default_model_id(str(model)), default_model_id(str(baseline))
    if model_id == baseline_id:
        baseline_id += "-baseline"

    def chain(ep: Endpoint) -> dict[str, Path]:
        answers = out / "model_answer"
        for stats in (
            generate_answers(
                bench.questions,
                ModelSource("endpoint", ep.base_url, model_id, ep.model),
                answers,
                max_new_tokens=max_new_tokens,
                concurrency=2,
                endpoint=ep,
                progress=progress,
            ),
            generate_answers(
                bench.questions,
                ModelSource("local", str(baseline), baseline_id),
                answers,
                max_new_tokens=max_new_tokens,
                progress=progress,
            ),
        ):
            if stats.failed:
                raise RuntimeError(f"{stats.failed} answer(s) failed for {stats.model_id}")
        judge = Endpoint(ep.base_url, ep.model, timeout_s=300, max_retries=1)
        cfg = JudgeConfig(
            judge, SMOKE_JUDGE_ID, concurrency=2, max_tokens=judge_max_tokens, retry_rounds=1, retry_wait_s=1
        )
        refs = pipe.ensure_references(
            bench, out, cfg, reference_model=None, make=True, progress=progress, max_new_tokens=max_new_tokens
        )
        stats = pipe.judge_step(
            bench,
            out,
            cfg,
            mode="pairwise-baseline",
            models=[model_id],
            baseline=baseline_id,
            refs=refs,
            progress=progress,
        )
        print(
            f"SMOKE RUN judged {stats.matches} matches: {stats.calls} calls, {stats.parse_errors} "
            f"unparseable verdicts, {stats.api_errors} API errors"
        )
        return pipe.results_step(
            bench, out, SMOKE_JUDGE_ID, mode="pairwise-baseline", baseline=baseline_id, smoke=True
        )

    if endpoint is not None:
        return chain(endpoint)
    from tunebench.local_server import transformers_serve

    out.mkdir(parents=True, exist_ok=True)
    with transformers_serve(model, log_path=out / "transformers-serve.log") as ep:
        return chain(ep)


def cmd_smoke(args) -> None:
    model = Path(args.model)
    if not (model / "config.json").exists():
        raise FileNotFoundError(f"{model}: no model here; `make train` builds the embedded default")
    out = Path(args.out) if args.out else smoke_out_dir(model)
    files = run_smoke(
        model,
        args.baseline,
        out,
        bench_dir=args.bench_dir,
        n_questions=args.first_n or 3,
        max_new_tokens=args.max_new_tokens,
        judge_max_tokens=args.judge_max_tokens,
    )
    print(files["md"].read_text())
    print(f"SMOKE RUN results: {files['md']}")


def add_smoke_parser(sub, parents) -> None:
    p = sub.add_parser("smoke", parents=parents, help="SMOKE RUN on the embedded tiny model (CPU, offline)")
    p.add_argument("--model", default=str(models_root() / "tiny-text-to-sql" / "merged"))
    p.add_argument("--baseline", default=str(tiny_base_dir()))
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--judge-max-tokens", type=int, default=64)
    p.set_defaults(func=cmd_smoke)
