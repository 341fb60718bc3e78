"""What both evaluators' command lines share (`python -m tunebench.evaluate.sql` and
`python -m tunebench.evaluate.mt_bench`): subcommands, one flag vocabulary, one default output folder
and one rule for a rerun with changed settings.

- **Subcommands**, argparse subparsers both: `sql {run,score,across}`, `mt_bench {answers,judge,results,
  run,smoke}`. A command line that starts with a flag is `run` (`python -m tunebench.evaluate.sql
  --model_name_or_path M` works as before).
- **Flags** are spelled as transformers and TRL spell theirs (`--model_name_or_path`, `--output_dir`,
  `--max_new_tokens`, `--per_device…`-style snake case); each also answers to its dashed spelling
  (`--max-new-tokens`, as `HfArgumentParser` allows) and to the older short names (`--model`, `--out`).
- **Output folder**: `--output_dir`, else `models/<run>/eval/<evaluator>/` for a model of a training
  run (its merged/ or adapter/ folder), else `models/<model id>/eval/<evaluator>/`, the model id being
  the folder's or hub id's last part (or a server's model name).
- **Rerun**: what was made with the same settings is kept and only what is missing is made; what was
  made with other settings (model, data, generation, metrics; for MT-Bench the answers, references,
  prompts or judge) is moved to `stale/` beside its file, never deleted and never mixed in, and made
  again; work set aside earlier whose settings match again is brought back instead of redone, so the
  same inputs never cost twice. One line says what was set aside or brought back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tunebench.chat import ChatError, ModelSpec
from tunebench.runs.paths import RunPaths

EVALUATORS = ("sql", "mt_bench")


class OutputDirError(ValueError):
    """No output folder can be derived: one line asking for --output_dir."""


def add_flag(parser, name: str, *aliases: str, **kwargs) -> argparse.Action:
    """`--name` in snake case plus its dashed spelling and any older `aliases`; the value lands in
    `args.<name>`."""
    names = [f"--{name}"]
    for alias in (f"--{name.replace('_', '-')}", *aliases):
        if alias not in names:
            names.append(alias)
    kwargs.setdefault("dest", name)
    return parser.add_argument(*names, **kwargs)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def add_model_flags(parser, *, required: bool = True) -> None:
    add_flag(
        parser,
        "model_name_or_path",
        "--model",
        required=required,
        help="the model: a folder (merged/, adapter/), a hub id org/name, or http://host:port/v1#served-name",
    )


def add_output_flag(parser, *, required: bool = False, help: str | None = None) -> None:
    add_flag(
        parser,
        "output_dir",
        "--out",
        required=required,
        help=help
        or "output folder (default: models/<run>/eval/<evaluator> for a model of a training run, "
        "else models/<model id>/eval/<evaluator>)",
    )


def add_generation_flags(parser, *, max_new_tokens: int, batch_size: int, concurrency: int) -> None:
    """How a model answers, the same flags for both evaluators."""
    add_flag(parser, "max_new_tokens", type=positive_int, default=max_new_tokens)
    add_flag(
        parser,
        "batch_size",
        type=positive_int,
        default=batch_size,
        help="in process: prompts per forward pass",
    )
    add_flag(
        parser, "concurrency", type=positive_int, default=concurrency, help="servers: requests in flight"
    )
    add_flag(parser, "device", help="in process: cpu, cuda, … (default: cuda when available)")
    add_flag(parser, "dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    add_flag(parser, "api_key_env", help="servers: NAME of the environment variable holding the key")


def with_default_subcommand(argv: list[str], subcommands, default: str = "run") -> list[str]:
    """`argv` with `default` put first when it starts with a flag (not --help or a subcommand)."""
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return [default, *argv]
    return argv


def default_model_id(spec: str) -> str:
    """A model's id: the run name for models/<run>/merged (`-adapter` for its adapter), else the last part
    of the folder or hub id (FastChat names answer files this way)."""
    p = Path(spec)
    run = RunPaths.from_model_dir(p) if p.exists() else None
    if run is not None:
        return run.root.name + ("-adapter" if p.name == "adapter" else "")
    parts = [s for s in spec.replace("\\", "/").split("/") if s]
    if len(parts) >= 2 and parts[-1] in ("merged", "adapter"):
        return parts[-2]
    return parts[-1] if parts else spec


def output_dir_for(
    out: str | Path | None, model: str | None, evaluator: str, model_id: str | None = None
) -> Path:
    """The output folder by the convention above."""
    if evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}")
    if out:
        return Path(out)
    if not model:
        raise OutputDirError("give --output_dir (the folder of the evaluation)")
    run = RunPaths.from_model_dir(model)
    if run is not None:
        return run.eval_dir / evaluator
    try:
        spec = ModelSpec.parse(model)  # a mistyped folder says so here, in one line
    except ChatError as err:
        if evaluator == "mt_bench":  # MT-Bench also takes answer files and ids of answers on disk
            raise OutputDirError(f"{err} (answers rather than a model need --output_dir)") from None
        raise
    mid = model_id or (default_model_id(spec.served_name) if spec.is_server and spec.served_name else None)
    if mid is None and spec.is_server:
        raise OutputDirError(f"{model}: name the served model (URL#name), or give --model_id or --output_dir")
    return RunPaths.for_run((mid or default_model_id(model)).replace("/", "--")).eval_dir / evaluator


class OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes are one line on stderr (`error: …`, naming the flag) and exit 2, like
    every other bad input; `--help` stays whole."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def check_output_dir(path: Path) -> Path:
    """An output folder that can be written: not an existing file (checked before any work)."""
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"--output_dir {path}: is a file, not a folder")
    return path
