"""The demo's sample databases: built when missing, and the schema it shows is the training schema."""

from __future__ import annotations

import pytest

from tunebench.embedded.sqlgen import load_split
from tunebench.serve.sample_dbs import SampleDatabases, resolve_db
from tunebench.sql.execute import schema_of


def test_schema_shown_to_the_model_is_the_training_schema(embedded):
    samples = SampleDatabases.load(embedded.data_dir)
    rows = load_split(embedded.data_dir, "train") + load_split(embedded.data_dir, "test")
    schemas: dict[str, set[str]] = {}
    for r in rows:
        schemas.setdefault(r["db_id"], set()).add(r["schema"])
    assert sorted(schemas) == samples.ids
    for db_id, seen in schemas.items():
        # One schema string per database in the dataset, and it is exactly what the app sends.
        assert seen == {samples.schema(db_id)} == {schema_of(samples.path(db_id))}


def test_sample_databases_are_built_when_missing(tmp_path, monkeypatch, embedded):
    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    samples = SampleDatabases.load()
    assert samples.root == tmp_path / "data" / "text2sql"
    assert (samples.root / "test.jsonl").is_file()
    reference = SampleDatabases.load(embedded.data_dir)
    assert samples.ids == reference.ids and len(samples.ids) == 6
    for db_id in samples.ids:  # same generator, same seed: the same databases
        assert samples.schema(db_id) == reference.schema(db_id)
        assert samples.examples(db_id) == reference.examples(db_id)
    # A second load reuses the build instead of regenerating it.
    before = (samples.root / "test.jsonl").stat().st_mtime_ns
    SampleDatabases.load()
    assert (samples.root / "test.jsonl").stat().st_mtime_ns == before


def test_examples_are_held_out_questions_of_the_chosen_database(embedded):
    samples = SampleDatabases.load(embedded.data_dir)
    test_rows = load_split(embedded.data_dir, "test")
    for db_id in samples.ids:
        examples = samples.examples(db_id, limit=6)
        assert len(examples) == 6 and len(set(examples)) == 6
        own = {r["question"]: r for r in test_rows if r["db_id"] == db_id}
        assert set(examples) <= set(own)
        # Varied: the first examples come from different question templates.
        assert len({own[q]["template"] for q in examples[:3]}) == 3


def test_resolve_db_accepts_a_path_or_a_sample_id(embedded):
    samples = SampleDatabases.load(embedded.data_dir)
    path = samples.path("school")
    assert resolve_db(str(path)) == path
    assert resolve_db("school", samples) == path
    with pytest.raises(KeyError, match="unknown sample database 'nope'"):
        resolve_db("nope", samples)
