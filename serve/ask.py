"""Ask one question from the command line (the original notebooks' inference step, as a command).

    python -m tunebench.serve.ask "How many students are there?" --db school
    python -m tunebench.serve.ask "How many heads are older than 56?" --schema "CREATE TABLE head (age INTEGER);"
    python -m tunebench.serve.ask "…" --db path/to/file.sqlite --model http://127.0.0.1:8080/v1#<run>

Prints the SQL (streamed to stderr while the model writes it), then the rows: of the --db database,
or of an empty database built from the --schema (so an unknown table or column is an error).
The model is one spec (--model or $TUNEBENCH_MODEL): a folder, a hub id or a server URL.
Exit status: 0 answered, 1 model or SQL failure, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tunebench.chat import ChatError
from tunebench.serve.config import AppConfig, add_model_args, model_config_from_args
from tunebench.serve.context import budget_for
from tunebench.serve.question import DONE, ERROR, GENERATING, QuestionPipeline
from tunebench.serve.sample_dbs import resolve_db
from tunebench.sql.execute import SqlResult, schema_of


def format_rows(result: SqlResult, limit: int = 50) -> str:
    """A plain-text table: header, separator, one line per row."""
    rows = [[("NULL" if v is None else str(v)) for v in r] for r in result.rows[:limit]]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(result.columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if len(result.rows) > limit or result.truncated:
        lines.append(f"… (showing {min(limit, len(result.rows))} rows)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.serve.ask",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("question")
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--db", help="a .sqlite file or a sample database id (school, shop, …); the SQL is run"
    )
    where.add_argument("--schema", help="CREATE TABLE statements, or @file to read them from a file")
    ap.add_argument("--max-new-tokens", type=int, default=AppConfig.max_new_tokens)
    ap.add_argument("--quiet", action="store_true", help="do not stream the SQL to stderr")
    add_model_args(ap)
    args = ap.parse_args(argv)

    db_path: Path | None = None
    try:
        if args.db:
            db_path = resolve_db(args.db)
            schema = schema_of(db_path)
        else:
            schema = Path(args.schema[1:]).read_text() if args.schema.startswith("@") else args.schema
    except (KeyError, OSError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
    config = AppConfig(
        max_new_tokens=args.max_new_tokens, max_schema_chars=1_000_000, max_question_chars=100_000
    )
    try:
        model = model_config_from_args(args).open(config.settings)
    except ChatError as err:  # e.g. no such folder, or a spec that names nothing
        print(f"error: {err}", file=sys.stderr)
        return 2
    pipeline = QuestionPipeline(model, config, budget=budget_for(model))  # the SQL runs in a sandbox
    try:
        return _print_steps(pipeline.run(args.question, schema, db_path), args.quiet)
    finally:
        pipeline.close()
        model.close()


def _print_steps(steps, quiet: bool) -> int:
    shown = 0
    for step in steps:
        if step.state == GENERATING and not quiet:
            sys.stderr.write(step.text[shown:])
            sys.stderr.flush()
            shown = len(step.text)
            continue
        if step.state == GENERATING:
            continue
        if shown and not quiet:
            sys.stderr.write("\n")
        if step.sql:
            print(step.sql)
        if step.state == ERROR:
            print(f"error: {step.message}", file=sys.stderr)
            return 2 if step.failure == "input" else 1
        if step.state == DONE and step.result is not None:
            print(format_rows(step.result))
            print(step.message, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
