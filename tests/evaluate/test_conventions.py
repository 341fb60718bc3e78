"""The two evaluators built one way (issue 23, item 13): argparse subcommands both, one flag vocabulary
(transformers/TRL spellings, dashed spellings and the old short names as aliases), one default output
folder, one line and exit 2 for a bad flag; evaluate/sql exports what it documents."""

from __future__ import annotations

import json

import pytest

from tunebench.evaluate.conventions import output_dir_for
from tunebench.evaluate.mt_bench import cli as mt_bench_cli
from tunebench.evaluate.sql import cli as sql_cli

EVALUATORS = {"sql": sql_cli, "mt_bench": mt_bench_cli}


def _subcommands(cli) -> dict:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sub.choices


@pytest.mark.parametrize("name", EVALUATORS)
def test_subcommands_and_one_flag_vocabulary(name):
    run = _subcommands(EVALUATORS[name])["run"]
    strings = {s for a in run._actions for s in a.option_strings}
    for flag in ("--model_name_or_path", "--output_dir", "--max_new_tokens", "--batch_size", "--concurrency",
                 "--dtype", "--device", "--api_key_env"):  # fmt: skip
        assert flag in strings and flag.replace("_", "-") in strings, flag
    assert {"--model", "--out"} <= strings  # the older spellings still work
    spellings = (
        ["--model_name_or_path", "org/m", "--output_dir", "o", "--max_new_tokens", "7"],
        ["--model", "org/m", "--out", "o", "--max-new-tokens", "7"],
    )
    parsed = [run.parse_args(argv) for argv in spellings]
    for args in parsed:
        assert (args.model_name_or_path, args.output_dir, args.max_new_tokens) == ("org/m", "o", 7)


def test_a_command_line_that_starts_with_a_flag_is_run():
    from tunebench.evaluate.conventions import with_default_subcommand

    assert with_default_subcommand(["--model", "m"], sql_cli.SUBCOMMANDS) == ["run", "--model", "m"]
    assert with_default_subcommand(["score", "--x"], sql_cli.SUBCOMMANDS) == ["score", "--x"]
    assert with_default_subcommand(["--help"], mt_bench_cli.SUBCOMMANDS) == ["--help"]


@pytest.mark.parametrize("name", EVALUATORS)
def test_a_bad_flag_is_one_line_and_exit_2(name, capsys):
    assert EVALUATORS[name].main(["run", "--model", "org/m", "--max_new_tokens", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "--max_new_tokens" in err
    assert err.endswith("must be a whole number of at least 1, not 0")


def test_one_default_output_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_MODELS", str(tmp_path / "models"))
    run = tmp_path / "models" / "my-run"
    (run / "merged").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"run_name": "my-run"}))
    for evaluator in ("sql", "mt_bench"):
        assert output_dir_for(None, str(run / "merged"), evaluator) == run / "eval" / evaluator
        assert (
            output_dir_for(None, "org/some-model", evaluator)
            == tmp_path / "models" / "some-model" / "eval" / evaluator
        )
        assert output_dir_for("x", "org/some-model", evaluator).as_posix() == "x"
    # The SQL evaluator used to refuse a model outside a run; MT-Bench used models/<model id>/: now both do.
    args = _subcommands(sql_cli)["run"].parse_args(["--model", "org/some-model"])
    assert sql_cli.config_from_args(args).out == tmp_path / "models" / "some-model" / "eval" / "sql"


def test_evaluate_sql_exports_what_it_documents():
    import tunebench.evaluate.sql as sql

    for name in ("run_evaluation", "load_embedded", "SqlExample", "EvalConfig"):
        assert name in sql.__all__ and name in sql.__doc__ and callable(getattr(sql, name))
