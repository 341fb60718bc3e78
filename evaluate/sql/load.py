"""load: the examples the command line chose, and what they are (for reports)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tunebench.data.formats import DataFormatError
from tunebench.evaluate.sql.config import DatasetChoice
from tunebench.evaluate.sql.data import SqlExample, load_embedded, load_spider
from tunebench.evaluate.sql.sql_create_context import (
    RECIPE_SAMPLE,
    SQL_CREATE_CONTEXT,
    load_sql_create_context,
    local_file,
)
from tunebench.evaluate.sql.suite_dbs import populated_suite
from tunebench.runs.paths import data_root, embedded_sql_dir
from tunebench.runs.record import RunManifest


def _same_file(a: str | None, b: str) -> bool:
    return bool(a) and Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _sql_create_context(choice: DatasetChoice, run: RunManifest | None, seed: int):
    source = choice.source or SQL_CREATE_CONTEXT
    trained_on_it = (
        run is not None
        and run.recipe_value("dataset_format") == "sql-create-context"
        and (
            run.dataset_name == source
            or (local_file(source) is not None and _same_file(run.dataset_name, source))
        )
    )
    asked = {k: getattr(choice, k) for k in RECIPE_SAMPLE if getattr(choice, k) is not None}
    sample = dict(RECIPE_SAMPLE)
    if trained_on_it:  # hold out what this run held out, as its record says (no default restated)
        keys = {
            "max_samples": "max_train_samples",
            "eval_fraction": "eval_fraction",
            "sample_seed": "sample_seed",
        }
        sample = {k: asked[k] if k in asked else run.recipe_value(key) for k, key in keys.items()}
    sample.update(asked)
    # A local file is scored whole unless a split is asked for (or the model trained on that file).
    heldout = not choice.all_rows and (local_file(source) is None or trained_on_it or bool(asked))
    examples = load_sql_create_context(
        source,
        cache_dir=data_root() / "sql-create-context" / "databases",
        split=choice.split or "train",
        heldout=heldout,
        limit=choice.limit,
        seed=seed,
        test_suite=choice.test_suite,
        **sample,
    )
    held = f"held-out rows of the seeded sample {sample}" if heldout else "all rows"
    info = {
        "name": "sql-create-context",
        "source": source,
        "split": choice.split or "train",
        "heldout": heldout,
    }
    if heldout:
        info.update(sample)
    info["description"] = f"{held}; one database per question built from its CREATE TABLE + gold literals"
    return examples, info


def with_suites(examples: list[SqlExample]) -> list[SqlExample]:
    """Populated databases (embedded, Spider-format) with their test-suite variants beside them."""
    cache = data_root() / "suites"
    return [replace(ex, db_variants=populated_suite(ex.db_path, ex.query, cache)) for ex in examples]


def load_examples(choice: DatasetChoice, *, run: RunManifest | None = None, seed: int = 0):
    """(examples, what they are) for the dataset the command line chose, each with its test suite;
    no question at all is an error."""
    _check_choice(choice)
    examples, info = _load(choice, run, seed)
    if not examples:
        raise DataFormatError(str(info.get("source", choice.name)), None, None, "no questions to score")
    n = 1 + max((len(ex.db_variants) for ex in examples), default=0)
    info["databases_per_question"] = n
    if n > 1:
        info["description"] += (
            f"; each question scored on a test suite of {n} databases (a match on all counts)"
        )
    return examples, info


EMBEDDED_SPLITS = ("test", "train")


def _check_choice(choice: DatasetChoice) -> None:
    """Mistakes in the choice itself, before anything is read or built."""
    if choice.name == "embedded":
        if choice.split is not None and choice.split not in EMBEDDED_SPLITS:
            raise DataFormatError(
                "--split",
                None,
                None,
                f"{choice.split!r} is not a split of the embedded set ({', '.join(EMBEDDED_SPLITS)})",
            )
        if choice.data_dir is not None:
            folder = Path(choice.data_dir).expanduser()
            if not folder.is_dir():
                raise DataFormatError(f"--data_dir {choice.data_dir}", None, None, "no such folder")
            split = choice.split or "test"
            if not (folder / f"{split}.jsonl").is_file():
                raise DataFormatError(
                    f"--data_dir {choice.data_dir}",
                    None,
                    None,
                    f"no {split}.jsonl (an embedded text-to-SQL folder?)",
                )


def _load(choice: DatasetChoice, run: RunManifest | None, seed: int):
    """(examples, what they are) for the dataset the command line chose.

    `run` is the training run of the model being scored: for sql-create-context its recipe says which
    rows it held out, and those are the ones scored.
    """
    examples: list[SqlExample]
    if choice.name == "embedded":
        data_dir = Path(choice.data_dir or embedded_sql_dir())
        split = choice.split or "test"
        examples = load_embedded(data_dir, split, choice.limit)
        examples = with_suites(examples) if choice.test_suite else examples
        info = {"name": "embedded text-to-SQL", "source": str(data_dir.resolve()), "split": split}
        info["description"] = f"tunebench's generated set, {split} split, 6 populated SQLite databases"
        return examples, info
    if choice.name == "sql-create-context":
        return _sql_create_context(choice, run, seed)
    if not choice.source:
        raise DataFormatError("--source", None, None, "--dataset spider needs the Spider-format folder")
    examples = load_spider(choice.source, choice.questions, db_dir=choice.db_dir, limit=choice.limit)
    examples = with_suites(examples) if choice.test_suite else examples
    info = {
        "name": "spider-format",
        "source": str(Path(choice.source).resolve()),
        "questions": choice.questions,
    }
    info["description"] = f"Spider-format folder {choice.source}"
    return examples, info
