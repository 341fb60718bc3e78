"""generate → execute → score → report, for one model or a baseline beside it.

`run_evaluation(config)` is what `python -m tunebench.evaluate.sql` does: load the questions, for each
model generate its answers (resumable), run gold and predicted SQL in one sandbox process and score
them, then write summary.json, report.md and the plots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from tunebench.chat import ModelSpec
from tunebench.evaluate.conventions import check_output_dir, output_dir_for
from tunebench.evaluate.sql.config import EvalConfig
from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.generate import describe_model, is_base_of, model_key, open_model, run_of
from tunebench.evaluate.sql.load import load_examples
from tunebench.evaluate.sql.predictions import METRICS_VERSION, Scorer, check_meta, predict_and_score
from tunebench.evaluate.sql.report import plot_by_group, render_report
from tunebench.evaluate.sql.summary import paired_difference, summarize
from tunebench.runs.atomic_io import atomic_write_json, atomic_write_text
from tunebench.sql.sandbox import SqlSandbox


@dataclass(frozen=True)
class ModelJob:
    label: str  # "base", "baseline", "fine-tuned" or "model": how tables and plots name it
    spec: str
    folder: Path  # where its predictions go


@dataclass(frozen=True)
class Evaluation:
    out: Path
    summary: dict


def output_dir(config: EvalConfig) -> Path:
    """`config.out`, else the evaluators' default folder (`tunebench.evaluate.conventions`)."""
    return check_output_dir(output_dir_for(config.out, config.model, "sql"))


def plan_jobs(config: EvalConfig, out: Path) -> list[ModelJob]:
    """The baseline first (the report reads "base → fine-tuned"), then the model."""
    jobs = [ModelJob("fine-tuned" if run_of(config.model) else "model", config.model, out)]
    if config.baseline:
        label = "base" if is_base_of(config.baseline, config.model) else "baseline"
        jobs.insert(0, ModelJob(label, config.baseline, out / "baseline"))
    return jobs


def score_model(
    config: EvalConfig, job: ModelJob, examples: list[SqlExample], dataset_key: dict, scorer: Scorer
) -> tuple[list[dict], dict]:
    """(records, description) of one model: its answers generated (or resumed) and scored."""
    signature = {
        "dataset": dataset_key,
        "model": model_key(job.spec),
        "generation": config.generation.to_json(),
        "execution": asdict(config.execution),
        "metrics_version": METRICS_VERSION,
    }
    for line in check_meta(job.folder, {"signature": signature, "label": job.label}, config.fresh):
        print(f"[{job.label}] {line}")
    model = open_model(job.spec, config)
    try:
        records = predict_and_score(
            examples, model, scorer, job.folder, chunk_size=config.chunk_size, label=job.label
        )
        return records, {**describe_model(job.spec), **model.describe()}
    finally:
        model.close()  # free the weights before the next model loads


def write_outputs(out: Path, meta: dict, summaries: dict, models: dict, records_by: dict) -> dict:
    plots = [
        plot_by_group(
            summaries, "by_difficulty", out / "accuracy_by_difficulty.png", "Execution accuracy by difficulty"
        ).name,
        plot_by_group(
            summaries, "by_query_type", out / "accuracy_by_query_type.png", "Execution accuracy by query type"
        ).name,
    ]
    summary = {**meta, "models": {lb: {**models[lb], **summaries[lb]} for lb in summaries}}
    if len(summaries) == 2 and all(s["exec_accuracy"] is not None for s in summaries.values()):
        a, b = (summaries[lb]["exec_accuracy"] for lb in summaries)
        summary["exec_accuracy_delta_points"] = round(100 * (b - a), 2)
        first, second = summaries
        summary["paired"] = {"first": first, "second": second, **paired_difference(*records_by.values())}
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(
        out / "report.md", render_report(meta, summaries, models, plots, records_by, summary.get("paired"))
    )
    return summary


def run_evaluation(config: EvalConfig) -> Evaluation:
    for spec in filter(None, (config.model, config.baseline)):
        ModelSpec.parse(spec)  # a mistyped folder fails here, before any work
    out = output_dir(config)
    examples, dataset = load_examples(config.dataset, run=run_of(config.model), seed=config.seed)
    dataset_key = {k: v for k, v in dataset.items() if k != "description"}
    summaries, models, records_by = {}, {}, {}
    with SqlSandbox() as sandbox:
        scorer = Scorer(sandbox, timeout_s=config.execution.timeout_s, max_rows=config.execution.max_rows)
        for job in plan_jobs(config, out):
            records, models[job.label] = score_model(config, job, examples, dataset_key, scorer)
            records_by[job.label], summaries[job.label] = records, summarize(records)
    meta = {
        "dataset": dataset,
        "generation": config.generation.to_json(),
        "execution": asdict(config.execution),
    }
    return Evaluation(out, write_outputs(out, meta, summaries, models, records_by))


def _accuracy(s: dict) -> str:
    """A model's headline figure; a model with no question it could be scored on has none."""
    if s["exec_accuracy"] is None:
        return f"n/a (no question could be scored: {s['gold_errors']} gold errors, {s.get('undecided', 0)} undecided)"
    return f"{100 * s['exec_accuracy']:.1f}%"


def headline(summary: dict) -> str:
    parts = [f"{lb} {_accuracy(s)} ({s['path']})" for lb, s in summary["models"].items()]
    line = "execution accuracy: " + " | ".join(parts)
    if "exec_accuracy_delta_points" in summary:
        line += f" | {summary['exec_accuracy_delta_points']:+.1f} points"
        ci = summary.get("paired", {}).get("delta_ci95")
        if ci:
            line += f" (paired 95% CI {100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})"
    n = next(iter(summary["models"].values()))["n"]
    return f"{line}  [{summary['dataset']['name']}, {n} questions]"
