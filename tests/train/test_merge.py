"""`python -m tunebench.train.merge`: which adapter it merges, and what it writes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import HANG_S, REPO, TINY_RECIPE
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
        timeout=HANG_S,
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
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = load_file(trained_run.merged / "model.safetensors")
    second = load_file(out / "model.safetensors")
    assert first.keys() == second.keys() and all((first[k] == second[k]).all() for k in first)
    assert (out / "README.md").read_text().startswith("---\n")


def test_a_tiny_base_rebuilt_since_training_is_refused_not_merged(trained_run, embedded, tmp_path):
    """A rebuild of the tiny base with another seed replaces its random weights in place; an adapter
    trained on the old ones, merged into the new ones, answers noise. The run records the build it
    trained on and the merge refuses another, in one line."""
    import json
    import shutil

    from tunebench.runs.paths import TINY_MARKER
    from tunebench.runs.record import RunManifest

    run = shutil.copytree(trained_run.root, tmp_path / "run", ignore=shutil.ignore_patterns("checkpoints"))
    base = shutil.copytree(embedded.base_dir, tmp_path / "tiny-base")
    manifest = RunManifest.load(run / "manifest.json")
    assert manifest.extra["tiny_base"] == json.loads((embedded.base_dir / TINY_MARKER).read_text())
    manifest.recipe["model_name_or_path"] = str(base)
    manifest.save(run / "manifest.json")
    stamp = json.loads((base / TINY_MARKER).read_text())
    (base / TINY_MARKER).write_text(
        json.dumps({**stamp, "seed": stamp["seed"] + 1})
    )  # as a rebuild leaves it

    before = (run / "merged" / "model.safetensors").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "tunebench.train.merge", str(run)],
        cwd=REPO, capture_output=True, text=True, timeout=HANG_S,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert f"{base} is not the base this run trained on (seed {stamp['seed']})" in line
    assert f"python -m tunebench.embedded --seed {stamp['seed']} --force" in line
    assert (run / "merged" / "model.safetensors").read_bytes() == before  # nothing half-written


def test_the_training_seed_does_not_rebuild_the_embedded_default(monkeypatch):
    """`make train ARGS=--seed=1` once rebuilt data/text2sql and models/tiny-base with seed 1 (other
    questions, other random weights) under every run trained before it."""
    from tunebench.train import run as train_run
    from tunebench.train.recipe import parse_recipe

    built = []

    class Stop(Exception):
        pass

    def fake_build(seed=0, force=False):
        built.append(seed)
        raise Stop

    monkeypatch.setattr("tunebench.embedded.build_embedded", fake_build)
    recipe = parse_recipe(
        ["--config", str(TINY_RECIPE), "--seed=7", "--data_seed=7", "--output_dir=/nonexistent/r"]
    )
    assert (recipe.config.seed, recipe.args.embedded_seed) == (7, 0)
    with pytest.raises(Stop):
        train_run.train(recipe)
    assert built == [0]
