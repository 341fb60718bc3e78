"""`python -m tunebench.evaluate.sql --model M [--baseline B]`: text-to-SQL execution accuracy,
before vs after, with predictions, summary.json, report.md and plots.

Output: `models/<run>/eval/sql/` for a model inside a training run (found from its merged/ or
adapter/ folder), else `--out`. The model's predictions go to `predictions.jsonl`, the baseline's
to `baseline/predictions.jsonl`; both are resumable. Either model can be served by any
OpenAI-compatible server instead of loaded in process (`--endpoint`, `--baseline-endpoint`).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

from tunebench.atomic_io import atomic_write_json
from tunebench.evaluate.sql import data as datasets
from tunebench.evaluate.sql.generate import EndpointBackend, GenerationSettings, InProcessBackend
from tunebench.evaluate.sql.predictions import (
    METRICS_VERSION,
    ResumeMismatch,
    Scorer,
    check_meta,
    predict_and_score,
)
from tunebench.evaluate.sql.report import plot_by_group, render_report, summarize
from tunebench.openai_compat import Endpoint, normalize_base_url
from tunebench.paths import RunPaths, data_root, embedded_sql_dir
from tunebench.sql_sandbox import SqlSandbox


def _manifest(model: str) -> dict | None:
    run = RunPaths.from_model_dir(model)
    return json.loads(run.manifest.read_text()) if run is not None else None


def describe_model(model: str) -> dict:
    """What a model is, honestly: random-init tiny base, a tunebench fine-tune of something, or other."""
    path = Path(model)
    if (path / "tunebench_tiny.json").exists():
        return {
            "path": model,
            "random_weights": True,
            "description": "the embedded tiny base: a small Llama-architecture model with **random weights** "
            "(tunebench_tiny.json; its README says so). It has never seen SQL or English, so its score is a "
            "floor (about 0%), not the score of a pre-trained model.",
        }
    manifest = _manifest(model)
    if manifest is not None:
        recipe = manifest.get("recipe", {})
        base = str(recipe.get("model_name_or_path", "?"))
        steps = manifest.get("training", {}).get("global_step")
        from_tiny = (Path(base) / "tunebench_tiny.json").exists()
        return {
            "path": model,
            "random_weights": False,
            "base_model": base,
            "description": f"fine-tuned by tunebench ({manifest.get('method', '?')}, {steps} optimizer steps on "
            f"{', '.join(manifest.get('datasets', []))}) from `{base}`"
            + (
                " — the random-init tiny base, so everything it knows comes from this training."
                if from_tiny
                else "."
            ),
        }
    where = "a local model folder" if path.is_dir() else "a hub id or a served model name"
    return {"path": model, "random_weights": False, "description": f"{where}, not from a tunebench run."}


def load_examples(args) -> tuple[list[datasets.SqlExample], dict]:
    if args.dataset == "embedded":
        data_dir = Path(args.data_dir or embedded_sql_dir())
        examples = datasets.load_embedded(data_dir, args.split or "test", args.limit)
        info = {
            "name": "embedded text-to-SQL",
            "source": str(data_dir.resolve()),
            "split": args.split or "test",
        }
        info["description"] = (
            f"tunebench's generated set, {info['split']} split, 6 populated SQLite databases"
        )
        return examples, info
    if args.dataset == "sql-create-context":
        sample = dict(datasets.RECIPE_SAMPLE)
        recipe = (_manifest(args.model) or {}).get("recipe", {})
        if recipe.get("dataset_format") == "sql-create-context":  # hold out what this run held out
            sample = {
                "max_samples": recipe.get("max_train_samples"),
                "eval_fraction": recipe.get("eval_fraction", sample["eval_fraction"]),
                "sample_seed": recipe.get("sample_seed", sample["sample_seed"]),
            }
        for key in sample:
            if getattr(args, key) is not None:
                sample[key] = getattr(args, key)
        source = args.source or datasets.SQL_CREATE_CONTEXT
        examples = datasets.load_sql_create_context(
            source,
            cache_dir=data_root() / "sql-create-context" / "databases",
            split=args.split or "train",
            heldout=not args.all_rows,
            limit=args.limit,
            seed=args.seed,
            **sample,
        )
        held = "all rows" if args.all_rows else f"held-out rows of the seeded sample {sample}"
        info = {"name": "sql-create-context", "source": source, "split": args.split or "train", **sample}
        info["description"] = f"{held}; one database per question built from its CREATE TABLE + gold literals"
        return examples, info
    if not args.source:
        raise SystemExit("--dataset spider needs --source <folder with database/<db_id>/<db_id>.sqlite>")
    examples = datasets.load_spider(args.source, args.questions, db_dir=args.db_dir, limit=args.limit)
    info = {"name": "spider-format", "source": str(Path(args.source).resolve()), "questions": args.questions}
    info["description"] = f"Spider-format folder {args.source}"
    return examples, info


def output_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    run = RunPaths.from_model_dir(args.model)
    if run is None:
        raise SystemExit(f"{args.model} is not inside a tunebench run (models/<run>/merged): pass --out DIR")
    return run.eval_sql


def check_model(model: str, endpoint_url: str | None) -> None:
    """Fail early, before any work, on a local model folder that is not there."""
    if not endpoint_url and not Path(model).exists() and model.startswith((".", "/", "~", "models")):
        raise SystemExit(f"{model}: no such model folder (train one first: make train)")


def make_backend(model: str, endpoint_url: str | None, endpoint_model: str | None, args, settings):
    if endpoint_url:
        endpoint = Endpoint(
            normalize_base_url(endpoint_url), endpoint_model or model, api_key_env=args.api_key_env
        )
        return EndpointBackend(endpoint, settings, concurrency=args.concurrency)
    return InProcessBackend(model, settings, batch_size=args.batch_size, device=args.device, dtype=args.dtype)


def evaluate(args) -> dict:
    check_model(args.model, args.endpoint)
    if args.baseline:
        check_model(args.baseline, args.baseline_endpoint)
    examples, dataset = load_examples(args)
    if not examples:
        raise SystemExit("no examples to evaluate")
    out = output_dir(args)
    settings = GenerationSettings(args.max_new_tokens, args.temperature, args.seed)
    dataset_key = {k: v for k, v in dataset.items() if k != "description"}
    jobs = [
        (
            "fine-tuned" if _manifest(args.model) else "model",
            args.model,
            args.endpoint,
            args.endpoint_model,
            out,
        )
    ]
    if args.baseline:
        model_base = (_manifest(args.model) or {}).get("recipe", {}).get("model_name_or_path")
        same = model_base is not None and Path(model_base).resolve() == Path(args.baseline).resolve()
        jobs.insert(
            0, ("base" if same else "baseline", args.baseline, args.baseline_endpoint, None, out / "baseline")
        )
    execution = {"timeout_s": args.timeout_s, "max_rows": args.max_rows}
    summaries, models, records_by = {}, {}, {}
    with SqlSandbox() as sandbox:
        scorer = Scorer(sandbox, timeout_s=args.timeout_s, max_rows=args.max_rows)
        for label, model, url, served, folder in jobs:
            signature = {
                "dataset": dataset_key,
                "model": str(Path(model).resolve()) if Path(model).exists() else model,
                "generation": settings.to_json(),
                "execution": execution,
                "metrics_version": METRICS_VERSION,
            }
            check_meta(folder, {"signature": signature, "label": label}, args.fresh)
            backend = make_backend(model, url, served, args, settings)
            records = predict_and_score(
                examples, backend, scorer, folder, chunk_size=args.chunk_size, label=label
            )
            records_by[label], summaries[label] = records, summarize(records)
            models[label] = {**describe_model(model), **backend.describe()}
            del backend  # free the model before loading the next one
            gc.collect()
    plots = [
        plot_by_group(
            summaries, "by_difficulty", out / "accuracy_by_difficulty.png", "Execution accuracy by difficulty"
        ).name,
        plot_by_group(
            summaries, "by_query_type", out / "accuracy_by_query_type.png", "Execution accuracy by query type"
        ).name,
    ]
    meta = {"dataset": dataset, "generation": settings.to_json(), "execution": execution}
    summary = {**meta, "models": {lb: {**models[lb], **summaries[lb]} for lb in summaries}}
    if len(summaries) == 2:
        a, b = (summaries[lb]["exec_accuracy"] or 0.0 for lb in summaries)
        summary["exec_accuracy_delta_points"] = round(100 * (b - a), 2)
    atomic_write_json(out / "summary.json", summary)
    report = render_report(meta, summaries, models, plots, records_by)
    tmp = out / "report.md.tmp"
    tmp.write_text(report)
    tmp.replace(out / "report.md")
    return {"out": out, "summary": summary}


def headline(summary: dict) -> str:
    parts = [
        f"{lb} {100 * (s['exec_accuracy'] or 0):.1f}% ({s['path']})" for lb, s in summary["models"].items()
    ]
    line = "execution accuracy: " + " | ".join(parts)
    if "exec_accuracy_delta_points" in summary:
        line += f" | {summary['exec_accuracy_delta_points']:+.1f} points"
    n = next(iter(summary["models"].values()))["n"]
    return f"{line}  [{summary['dataset']['name']}, {n} questions]"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m tunebench.evaluate.sql", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--model", required=True, help="model folder (merged/ or adapter/), hub id, or served name"
    )
    ap.add_argument("--baseline", help="a second model scored the same way, e.g. models/tiny-base")
    ap.add_argument("--out", help="output folder (default: models/<run>/eval/sql)")
    ap.add_argument("--fresh", action="store_true", help="discard earlier predictions instead of resuming")
    g = ap.add_argument_group("data")
    g.add_argument("--dataset", choices=["embedded", "sql-create-context", "spider"], default="embedded")
    g.add_argument("--data-dir", help="embedded: dataset folder (default data/text2sql)")
    g.add_argument(
        "--split", help="embedded: test|train (default test); sql-create-context: hub split (train)"
    )
    g.add_argument("--source", help="sql-create-context: hub id or local file; spider: the folder")
    g.add_argument("--questions", help="spider: questions JSON (default <source>/dev.json)")
    g.add_argument("--db-dir", help="spider: databases folder (default <source>/database)")
    g.add_argument(
        "--all-rows", action="store_true", help="sql-create-context: all rows, not the held-out ones"
    )
    g.add_argument("--max-samples", dest="max_samples", type=int, help="sql-create-context: sample size")
    g.add_argument(
        "--eval-fraction", dest="eval_fraction", type=float, help="sql-create-context: held-out share"
    )
    g.add_argument(
        "--sample-seed", dest="sample_seed", type=int, help="sql-create-context: sample/split seed"
    )
    g.add_argument("--limit", type=int, help="first N examples only")
    g = ap.add_argument_group("generation")
    g.add_argument("--max-new-tokens", type=int, default=256)
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--batch-size", type=int, default=16, help="in-process: prompts per forward pass")
    g.add_argument("--chunk-size", type=int, default=64, help="examples generated between checkpoints")
    g.add_argument("--device", help="in-process: cpu, cuda, … (default: cuda when available)")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    g.add_argument(
        "--endpoint", help="OpenAI-compatible base URL serving --model (TGI, vLLM, transformers serve)"
    )
    g.add_argument("--endpoint-model", help="model name the endpoint expects (default: --model)")
    g.add_argument("--baseline-endpoint", help="OpenAI-compatible base URL serving --baseline")
    g.add_argument("--api-key-env", help="name of the environment variable holding the endpoint's key")
    g.add_argument("--concurrency", type=int, default=8, help="endpoint: requests in flight")
    g = ap.add_argument_group("execution")
    g.add_argument("--timeout-s", type=float, default=5.0, help="per query")
    g.add_argument("--max-rows", type=int, default=10000, help="rows fetched per query")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = evaluate(args)
    except ResumeMismatch as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {result['out'] / 'report.md'}")
    print(headline(result["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
