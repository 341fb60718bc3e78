"""The run record (tunebench/runs/record.py): typed, round-trips, keeps what it does not know."""

from __future__ import annotations

import json

import pytest

from tunebench.runs.paths import RunPaths
from tunebench.runs.record import ModelInfo, RunManifest, TrainingStats


def _manifest() -> RunManifest:
    return RunManifest(
        run_name="tiny-sql",
        method="lora",
        recipe={
            "model_name_or_path": "models/tiny-base",
            "dataset_name": "data/t.jsonl",
            "eval_fraction": 0.1,
        },
        seed=42,
        datasets=["data/t.jsonl"],
        model=ModelInfo(attn_implementation="sdpa", dtype="float32", parameters=935040, new_token_ids=[3, 4]),
        training=TrainingStats(global_step=800, last_loss=0.25, loss_curve=[[10, 2.5], [800, 0.25]]),
        trainable_parameters=283000,
        paths={"adapter": "models/tiny-sql/adapter", "merged": "models/tiny-sql/merged"},
        environment={"python": "3.11", "packages": {"trl": "1.16"}},
    )


def test_round_trip(tmp_path):
    path = tmp_path / "manifest.json"
    written = _manifest()
    written.save(path)
    read = RunManifest.load(path)
    assert read == written
    assert read.training.global_step == 800 and read.model.attn_implementation == "sdpa"
    assert read.base_model == "models/tiny-base" and read.dataset_name == "data/t.jsonl"
    assert read.recipe_value("eval_fraction") == 0.1
    assert json.loads(path.read_text())["training"]["global_step"] == 800  # plain JSON on disk
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # written atomically, no leftovers


def test_a_key_the_record_lacks_is_an_error_never_a_guessed_default():
    """A reader that restated a default (evaluation's 0.2 eval_fraction against training's 0.0) scored
    rows the model trained on as held out. A whole record names a missing key as a bug; an older record
    that kept only the user's keys says it is too old for the question."""
    from tunebench.runs.record import IncompleteRecipe

    whole = RunManifest(run_name="r", method="lora", recipe={"eval_fraction": 0.0}, recipe_complete=True)
    assert whole.recipe_value("eval_fraction") == 0.0
    with pytest.raises(KeyError, match="'no_such_key' is not a key of run 'r'"):
        whole.recipe_value("no_such_key")
    old = RunManifest(run_name="old", method="lora", recipe={"lora_r": 16})
    with pytest.raises(IncompleteRecipe, match="recorded before tunebench kept whole recipes"):
        old.recipe_value("eval_fraction")


def test_keys_it_does_not_know_are_kept_and_written_back(tmp_path):
    path = tmp_path / "manifest.json"
    data = _manifest().to_dict()
    data["written_by"] = "a newer tunebench"
    data["training"]["tokens_per_second_by_rank"] = [1.0, 2.0]
    data["model"]["rope_scaling"] = {"type": "linear"}
    path.write_text(json.dumps(data))
    read = RunManifest.load(path)
    assert read.extra == {"written_by": "a newer tunebench"}
    read.training.global_step = 801
    read.save(path)
    again = json.loads(path.read_text())
    assert again["written_by"] == "a newer tunebench" and again["training"]["global_step"] == 801
    assert again["training"]["tokens_per_second_by_rank"] == [1.0, 2.0]
    assert again["model"]["rope_scaling"] == {"type": "linear"}


def test_an_old_record_with_missing_fields_loads_with_defaults(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"run_name": "old", "method": "qlora", "recipe": {}}))
    read = RunManifest.load(path)
    assert read.training == TrainingStats() and read.model == ModelInfo() and read.base_model is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"run_name": "x", ', r"manifest.json: not valid JSON \(Expecting .*line 1\)"),
        ("[1, 2]", "manifest.json: not a tunebench run record"),
        ('{"method": "lora"}', r"not a tunebench run record \(no 'run_name'\)"),
        ('{"run_name": "x", "method": "lora", "recipe": {}, "training": [1]}', "field 'training' must be an"),
        ('{"run_name": "x"}', "missing .*required .*argument"),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path, text, says):
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=says) as err:
        RunManifest.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_missing_file_names_itself(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        RunManifest.load(tmp_path / "manifest.json")


def test_the_record_of_a_model_folder(tmp_path):
    run = RunPaths(tmp_path / "tiny-sql")
    run.merged.mkdir(parents=True)
    run.adapter.mkdir()
    assert RunManifest.for_model(run.merged) is None  # no record yet
    _manifest().save(run.manifest)
    assert RunManifest.for_model(run.merged).run_name == "tiny-sql"
    assert RunManifest.for_model(run.adapter).training.global_step == 800
    assert RunManifest.for_model(tmp_path / "tiny-sql") is None  # the run folder is not a model
    outside = tmp_path / "elsewhere" / "merged"
    outside.mkdir(parents=True)
    assert RunManifest.for_model(outside) is None
