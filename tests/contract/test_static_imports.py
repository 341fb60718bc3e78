"""A type checker follows the layout with nothing installed or run: basedpyright (pyright's engine, a
dev dependency) resolves `tunebench.train.run` to train/run.py through the tunebench/train link.

Proof that it read the right file, not merely that it did not complain: it knows `build_trainer` (defined
in train/run.py) and reports `no_such_name` as an unknown attribute of that module."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HANG_S
from tests.test_architecture import REPO

PROBE = """\
import tunebench.evaluate.sql.cli
import tunebench.serve.app
import tunebench.train.run

tunebench.train.run.build_trainer
tunebench.evaluate.sql.cli.main
tunebench.train.run.no_such_name
"""


def _checker() -> str:
    found = shutil.which("basedpyright", path=str(Path(sys.executable).parent)) or shutil.which(
        "basedpyright"
    )
    if found is None:
        pytest.fail("basedpyright is not installed: it is part of the dev extra (make setup)")
    return found


def test_a_type_checker_resolves_the_stage_modules_to_their_folders(tmp_path):
    probe = REPO / f"_static_probe_{tmp_path.name}.py"  # inside the project: the checker's import root
    probe.write_text(PROBE)
    try:
        out = subprocess.run(
            [_checker(), "--outputjson", "--pythonpath", sys.executable, probe.name],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=HANG_S,
        )
    finally:
        probe.unlink()
    report = json.loads(out.stdout)
    problems = [
        (d["range"]["start"]["line"] + 1, d.get("rule", ""), d["message"])
        for d in report["generalDiagnostics"]
    ]
    unresolved = [p for p in problems if p[1] in ("reportMissingImports", "reportMissingModuleSource")]
    assert unresolved == []
    attribute_errors = [(line, msg) for line, rule, msg in problems if rule == "reportAttributeAccessIssue"]
    # build_trainer (line 5) and main (line 6) are known; only the made-up name is not
    assert attribute_errors == [
        (7, '"no_such_name" is not a known attribute of module "tunebench.train.run"')
    ]
