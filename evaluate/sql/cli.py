"""Text-to-SQL execution accuracy, before vs after: `python -m tunebench.evaluate.sql --model M [--baseline B]`.

A model is named the same way everywhere in tunebench: a local folder (merged/, adapter/, the tiny
base), a hub id (org/name), or a model behind an OpenAI-compatible server (TGI, vLLM,
`transformers serve`): `http://host:port/v1#served-name` (without `#name` the server is asked).

Output: `models/<run>/eval/sql/` for a model of a training run (found from its merged/ or adapter/
folder), else `--out`. The model's predictions go to `predictions.jsonl`, the baseline's to
`baseline/predictions.jsonl`; both are resumable. Then summary.json, report.md and plots.

Predictions made by any other system are scored the same way:
  python -m tunebench.evaluate.sql score --dataset spider --source DIR --predictions preds.txt --out DIR
(one SQL per line in the questions' order, Spider's format; or JSONL with {"id", "sql"} per line).
Several two-model evaluations (the same comparison over seeds) in one table, with mean and spread:
  python -m tunebench.evaluate.sql across DIR [DIR ...] [--out table.md]
Errors in the data or paths print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tunebench.chat import ChatError, GenerationSettings
from tunebench.chat.template import IM_END
from tunebench.data.formats import DataFormatError
from tunebench.evaluate.sql import across_runs, score_file
from tunebench.evaluate.sql.config import DATASETS, DatasetChoice, EvalConfig, ExecutionLimits
from tunebench.evaluate.sql.pipeline import headline, run_evaluation
from tunebench.evaluate.sql.predictions import ResumeMismatch
from tunebench.runs.record import IncompleteRecipe

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _add_data_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("data")
    g.add_argument("--dataset", choices=DATASETS, default="embedded")
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
    g.add_argument("--max-samples", type=int, help="sql-create-context: sample size")
    g.add_argument("--eval-fraction", type=float, help="sql-create-context: held-out share")
    g.add_argument("--sample-seed", type=int, help="sql-create-context: sample/split seed")
    g.add_argument("--limit", type=int, help="first N examples only")
    g.add_argument(
        "--single-db",
        action="store_true",
        help="score on each question's own database only, not its test suite of variants",
    )


def _add_execution_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("execution")
    g.add_argument("--timeout-s", type=float, default=5.0, help="per query")
    g.add_argument("--max-rows", type=int, default=10000, help="rows fetched per query")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.evaluate.sql",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--model", required=True, help="model spec: folder, hub id or http://host:port/v1#name")
    ap.add_argument("--baseline", help="a second model spec scored the same way, e.g. models/tiny-base")
    ap.add_argument("--out", help="output folder (default: models/<run>/eval/sql)")
    ap.add_argument("--fresh", action="store_true", help="discard earlier predictions instead of resuming")
    _add_data_args(ap)
    g = ap.add_argument_group("generation")
    g.add_argument("--max-new-tokens", type=int, default=256)
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--batch-size", type=int, default=16, help="in process: prompts per forward pass")
    g.add_argument("--chunk-size", type=int, default=64, help="examples generated between checkpoints")
    g.add_argument("--device", help="in process: cpu, cuda, … (default: cuda when available)")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    g.add_argument("--concurrency", type=int, default=8, help="servers: requests in flight")
    g.add_argument("--api-key-env", help="servers: name of the environment variable holding the key")
    _add_execution_args(ap)
    return ap


def build_score_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.evaluate.sql score",
        description=score_file.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--predictions", required=True, help="one SQL per line (Spider's format) or JSONL {id, sql}"
    )
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--label", help="the system's name in the report (default: the file's name)")
    _add_data_args(ap)
    _add_execution_args(ap)
    return ap


def build_across_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.evaluate.sql across",
        description=across_runs.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("folders", nargs="+", type=Path, help="evaluation folders of two models each")
    ap.add_argument(
        "--out", type=Path, help="also write the table here (markdown; figures beside it as .json)"
    )
    ap.add_argument(
        "--labels",
        nargs=2,
        metavar=("FIRST", "SECOND"),
        help="names of the two models in the table (say SFT DPO)",
    )
    return ap


def _across(argv: list[str]) -> int:
    from tunebench.runs.atomic_io import atomic_write_json, atomic_write_text

    args = build_across_parser().parse_args(argv)
    table, figures = across_runs.across_table(args.folders, tuple(args.labels) if args.labels else None)
    print(table, end="")
    if args.out:
        atomic_write_text(args.out, table)
        atomic_write_json(args.out.with_suffix(".json"), figures)
    return 0


def _dataset(args: argparse.Namespace) -> DatasetChoice:
    return DatasetChoice(
        name=args.dataset,
        data_dir=args.data_dir,
        split=args.split,
        source=args.source,
        questions=args.questions,
        db_dir=args.db_dir,
        all_rows=args.all_rows,
        max_samples=args.max_samples,
        eval_fraction=args.eval_fraction,
        sample_seed=args.sample_seed,
        limit=args.limit,
        test_suite=not args.single_db,
    )


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(
        model=args.model,
        baseline=args.baseline,
        out=Path(args.out) if args.out else None,
        fresh=args.fresh,
        dataset=_dataset(args),
        # Stop at ChatML's end of turn on servers too (in process, the template's end-of-turn id stops it).
        generation=GenerationSettings(
            max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed, stop=(IM_END,)
        ),
        execution=ExecutionLimits(timeout_s=args.timeout_s, max_rows=args.max_rows),
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        concurrency=args.concurrency,
        device=args.device,
        dtype=args.dtype,
        api_key_env=args.api_key_env,
        seed=args.seed,
    )


def _one_line(err: BaseException) -> str:
    """The error as one line, without terminal colour codes (datasets and servers add some)."""
    return " ".join(_ANSI.sub("", str(err)).split())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["across"]:
            return _across(argv[1:])
        if argv[:1] == ["score"]:
            args = build_score_parser().parse_args(argv[1:])
            config = score_file.ScoreConfig(
                predictions=Path(args.predictions).expanduser(),
                out=Path(args.out),
                dataset=_dataset(args),
                execution=ExecutionLimits(timeout_s=args.timeout_s, max_rows=args.max_rows),
                label=args.label,
            )
            result = score_file.score_predictions(config)
        else:
            result = run_evaluation(config_from_args(build_parser().parse_args(argv)))
    except (ResumeMismatch, DataFormatError, ChatError, IncompleteRecipe, OSError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    print(f"report: {result.out / 'report.md'}")
    print(headline(result.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
