"""`python -m tunebench.train.merge`: which adapter it merges, and what it writes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO, TINY_RECIPE
from tunebench.train.merge import locate


def test_no_argument_names_the_tiny_recipes_run():
    adapter, _ = locate(None, None)
    assert adapter == REPO.joinpath("models", "tiny-text-to-sql", "adapter").relative_to(REPO)


def test_a_recipe_names_its_run_and_a_run_folder_or_adapter_names_itself(tmp_path):
    recipe = yaml.safe_load(TINY_RECIPE.read_text())
    recipe["output_dir"] = str(tmp_path / "my-run")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    (tmp_path / "my-run").mkdir()
    (tmp_path / "my-run" / "manifest.json").write_text('{"run_name": "my-run"}')
    adapter, run = locate(None, str(tmp_path / "r.yaml"))
    assert adapter == tmp_path / "my-run" / "adapter" and run.root == tmp_path / "my-run"
    assert locate(str(tmp_path / "my-run"), None)[0] == adapter
    assert locate(str(adapter), None)[1].root == tmp_path / "my-run"
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "adapter_config.json").write_text("{}")
    assert locate(str(loose), None) == (loose, None)


def test_missing_adapter_is_one_line_not_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tunebench.train.merge", str(tmp_path / "nothing")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nothing' / 'adapter'}: no LoRA adapter here (adapter_config.json); "
        "train the run first"
    ]


@pytest.mark.slow
def test_merging_a_run_again_reproduces_its_merged_model(trained_run, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "again"
    proc = subprocess.run(
        [sys.executable, "-m", "tunebench.train.merge", str(trained_run.root), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = load_file(trained_run.merged / "model.safetensors")
    second = load_file(out / "model.safetensors")
    assert first.keys() == second.keys() and all((first[k] == second[k]).all() for k in first)
    assert (out / "README.md").read_text().startswith("---\n")
