"""Text-to-SQL execution accuracy: `python -m tunebench.evaluate.sql {run,score,across} …`.

    run     generate SQL with a model (and a baseline) and score it: the default subcommand, so
            `python -m tunebench.evaluate.sql --model_name_or_path M [--baseline B]` runs it
    score   score predictions made by any other system (Spider's one SQL per line, or JSON/JSONL
            {"id", "sql"}) with the same execution, metrics and report
    across  several two-model evaluations (the same comparison over seeds) in one table

A model is named the same way everywhere in tunebench: a local folder (merged/, adapter/, the tiny
base), a hub id (org/name), or a model behind an OpenAI-compatible server (TGI, vLLM,
`transformers serve`): `http://host:port/v1#served-name` (without `#name` the server is asked).

Output: --output_dir, else models/<run>/eval/sql/ for a model of a training run (its merged/ or adapter/
folder), else models/<model id>/eval/sql/. The model's predictions go to predictions.jsonl, the
baseline's to baseline/predictions.jsonl, then summary.json, report.md and plots. A rerun keeps what
was scored with the same settings; predictions made with other settings move to stale/ and are made
again (--fresh: set everything aside and start over). Flags are spelled as in transformers and TRL
(--model_name_or_path, --output_dir, --max_new_tokens), dashed spellings and --model/--out work too.
Errors in the data, paths or flags print one line and exit with status 2, before any model loads.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tunebench.chat import ChatError, GenerationSettings
from tunebench.chat.template import IM_END
from tunebench.data.formats import DataFormatError
from tunebench.evaluate import conventions as conv
from tunebench.evaluate.sql import across_runs, score_file
from tunebench.evaluate.sql.config import DATASETS, DatasetChoice, EvalConfig, ExecutionLimits
from tunebench.evaluate.sql.pipeline import headline, run_evaluation
from tunebench.runs.record import IncompleteRecipe

SUBCOMMANDS = ("run", "score", "across")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _add_data_args(ap) -> None:
    g = ap.add_argument_group("data")
    conv.add_flag(g, "dataset", choices=DATASETS, default="embedded")
    conv.add_flag(g, "data_dir", help="embedded: dataset folder (default data/text2sql, built on first use)")
    conv.add_flag(
        g, "split", help="embedded: test|train (default test); sql-create-context: hub split (train)"
    )
    conv.add_flag(g, "source", help="sql-create-context: hub id or local file; spider: the folder")
    conv.add_flag(g, "questions", help="spider: questions JSON (default <source>/dev.json)")
    conv.add_flag(g, "db_dir", help="spider: databases folder (default <source>/database)")
    conv.add_flag(
        g, "all_rows", action="store_true", help="sql-create-context: all rows, not the held-out ones"
    )
    conv.add_flag(
        g,
        "max_samples",
        "--max_train_samples",
        type=conv.positive_int,
        help="sql-create-context: sample size",
    )
    conv.add_flag(g, "eval_fraction", type=float, help="sql-create-context: held-out share")
    conv.add_flag(g, "sample_seed", type=int, help="sql-create-context: sample/split seed")
    conv.add_flag(g, "limit", type=conv.positive_int, help="first N examples only")
    conv.add_flag(
        g,
        "single_db",
        action="store_true",
        help="score on each question's own database only, not its test suite of variants",
    )


def _add_execution_args(ap) -> None:
    g = ap.add_argument_group("execution")
    conv.add_flag(g, "timeout_s", type=conv.positive_float, default=5.0, help="per query")
    conv.add_flag(
        g,
        "max_rows",
        type=conv.positive_int,
        default=None,
        help="rows fetched per query (default: no cap, whole results compared, at most 32 MB of values; "
        "with a cap, a question whose gold and prediction both reach it is undecided)",
    )


def _add_run_parser(sub) -> None:
    ap = sub.add_parser("run", help="generate and score (the default)", description=__doc__)
    conv.add_model_flags(ap)
    conv.add_flag(ap, "baseline", help="a second model spec scored the same way, e.g. models/tiny-base")
    conv.add_output_flag(ap)
    conv.add_flag(
        ap, "fresh", action="store_true", help="set earlier predictions aside (stale/) and start over"
    )
    _add_data_args(ap)
    g = ap.add_argument_group("generation")
    conv.add_generation_flags(g, max_new_tokens=256, batch_size=16, concurrency=8)
    conv.add_flag(g, "temperature", type=float, default=0.0, help="0 = greedy (default)")
    conv.add_flag(g, "seed", type=int, default=0)
    conv.add_flag(
        g, "chunk_size", type=conv.positive_int, default=64, help="examples generated between checkpoints"
    )
    _add_execution_args(ap)


def _add_score_parser(sub) -> None:
    ap = sub.add_parser("score", help="score predictions made elsewhere", description=score_file.__doc__)
    conv.add_flag(
        ap, "predictions", required=True, help="one SQL per line (Spider's format), or JSON/JSONL {id, sql}"
    )
    conv.add_output_flag(ap, required=True, help="output folder")
    conv.add_flag(ap, "label", help="the system's name in the report (default: the file's name)")
    _add_data_args(ap)
    _add_execution_args(ap)


def _add_across_parser(sub) -> None:
    ap = sub.add_parser("across", help="several evaluations in one table", description=across_runs.__doc__)
    ap.add_argument("folders", nargs="+", type=Path, help="evaluation folders of two models each")
    conv.add_flag(
        ap,
        "output_file",
        "--out",
        help="also write the table to this file (markdown; figures beside it as .json)",
    )
    conv.add_flag(
        ap, "labels", nargs=2, metavar=("FIRST", "SECOND"), help="the two models' names (say SFT DPO)"
    )


def build_parser() -> conv.OneLineParser:
    import argparse

    ap = conv.OneLineParser(
        prog="python -m tunebench.evaluate.sql",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="{run,score,across}")
    for add in (_add_run_parser, _add_score_parser, _add_across_parser):
        add(sub)
    for parser in sub.choices.values():
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return ap


def _across(args) -> int:
    from tunebench.runs.atomic_io import atomic_write_json, atomic_write_text

    table, figures = across_runs.across_table(args.folders, tuple(args.labels) if args.labels else None)
    print(table, end="")
    if args.output_file:
        out = Path(args.output_file)
        atomic_write_text(out, table)
        atomic_write_json(out.with_suffix(".json"), figures)
    return 0


def _dataset(args) -> DatasetChoice:
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


def config_from_args(args) -> EvalConfig:
    return EvalConfig(
        model=args.model_name_or_path,
        baseline=args.baseline,
        out=conv.check_output_dir(conv.output_dir_for(args.output_dir, args.model_name_or_path, "sql")),
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


def score_config_from_args(args) -> score_file.ScoreConfig:
    return score_file.ScoreConfig(
        predictions=Path(args.predictions).expanduser(),
        out=conv.check_output_dir(Path(args.output_dir)),
        dataset=_dataset(args),
        execution=ExecutionLimits(timeout_s=args.timeout_s, max_rows=args.max_rows),
        label=args.label,
    )


def _one_line(err: BaseException) -> str:
    """The error as one line, without terminal colour codes (datasets and servers add some)."""
    return " ".join(_ANSI.sub("", str(err)).split())


def main(argv: list[str] | None = None) -> int:
    argv = conv.with_default_subcommand(sys.argv[1:] if argv is None else list(argv), SUBCOMMANDS)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a flag's one-line error
        return int(done.code or 0)
    try:
        if args.cmd == "across":
            return _across(args)
        if args.cmd == "score":
            result = score_file.score_predictions(score_config_from_args(args))
        else:
            result = run_evaluation(config_from_args(args))
    except (DataFormatError, ChatError, IncompleteRecipe, conv.OutputDirError, OSError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: every scored prediction is kept; rerun the same command to go on", file=sys.stderr
        )
        return 130
    print(f"report: {result.out / 'report.md'}")
    print(headline(result.summary))
    unscored = [lb for lb, s in result.summary["models"].items() if s["exec_accuracy"] is None]
    if unscored:  # a result with no number is no result: say so and fail
        print(
            f"error: no question could be scored for {', '.join(unscored)} (see {result.out / 'report.md'})",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
