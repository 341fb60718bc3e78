"""Evaluation sets: sql-create-context (a local JSONL in its format, through `datasets.load_dataset`,
databases built from the schemas and the gold literals), Spider-format folders, the embedded set."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pytest

from tests.evaluate.sql.samples import HEAD, make_spider_dir, scc_rows
from tunebench.data.formats import DataFormatError
from tunebench.evaluate.sql.data import load_embedded, load_spider
from tunebench.evaluate.sql.sql_create_context import load_sql_create_context
from tunebench.sql.execute import execute_readonly


@pytest.fixture(scope="module")
def scc_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scc") / "sql_create_context_v4.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in scc_rows()))
    return path


def test_heldout_rows_are_the_ones_training_held_out(scc_file, tmp_path):
    from tunebench.train.data import load_train_eval

    sample = {"max_samples": 30, "eval_fraction": 0.25, "sample_seed": 7}
    examples = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "dbs", **sample)
    tb_args = SimpleNamespace(
        dataset_name=str(scc_file),
        dataset_train_split="train",
        dataset_config=None,
        dataset_format="sql-create-context",
        max_train_samples=30,
        sample_seed=7,
        dataset_test_split=None,
        eval_fraction=0.25,
    )
    train, heldout = load_train_eval(tb_args)
    assert [m["messages"][1]["content"] for m in heldout] == [ex.question for ex in examples]
    assert [m["messages"][2]["content"] for m in heldout] == [ex.query for ex in examples]
    assert {ex.question for ex in examples}.isdisjoint(m["messages"][1]["content"] for m in train)
    assert examples[0].messages()[0]["content"].endswith(examples[0].schema)


def _mutate(sql: str) -> str | None:
    """A near miss: flip the first comparison, the kind of error a model makes."""
    for old, new in (
        (" <> ", " = "),
        (" = ", " <> "),
        (" > ", " <= "),
        (" < ", " >= "),
        (" LIKE ", " NOT LIKE "),
        (" BETWEEN ", " NOT BETWEEN "),
        (" IN (", " NOT IN ("),
    ):
        where = sql.find(" WHERE ")
        at = sql.find(old, where)
        if where >= 0 and at >= 0:
            return sql[:at] + new + sql[at + len(old) :]
    return None


def test_synthesized_databases_discriminate(scc_file, tmp_path):
    examples = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "dbs", heldout=False)
    assert len(examples) == 40
    nonempty = discriminated = mutated = 0
    for ex in examples:
        gold = execute_readonly(ex.db_path, ex.query)
        assert gold.ok, (ex.query, gold.error)
        nonempty += bool(gold.rows)
        near_miss = _mutate(ex.query)
        if near_miss is not None:
            mutated += 1
            other = execute_readonly(ex.db_path, near_miss)
            discriminated += other.ok and sorted(map(repr, other.rows)) != sorted(map(repr, gold.rows))
    assert nonempty == len(examples), "every gold query should find its witness rows"
    assert mutated >= 30 and discriminated == mutated
    # Schema-only difficulty/type labels come from the SQL's structure.
    kinds = {(ex.difficulty, ex.template) for ex in examples}
    assert ("hard", "join") in kinds and ("medium", "group_by") in kinds and ("easy", "filter") in kinds


def test_synthesized_databases_are_deterministic_and_cached(scc_file, tmp_path):
    first = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "a", heldout=False, limit=5)
    second = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "b", heldout=False, limit=5)
    for a, b in zip(first, second, strict=True):
        assert a.db_id == b.db_id
        dump = [list(sqlite3.connect(p).iterdump()) for p in (a.db_path, b.db_path)]
        assert dump[0] == dump[1]
    again = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "a", heldout=False, limit=5)
    assert [e.db_path for e in again] == [e.db_path for e in first]


def test_bad_sql_create_context_rows_name_file_row_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    rows = scc_rows()[:3]
    rows[2]["context"] = "DROP TABLE head"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError) as err:
        load_sql_create_context(str(bad), cache_dir=tmp_path / "dbs", heldout=False)
    # Rows are numbered as the file's lines are (1-based), whatever the split did.
    assert (err.value.source, err.value.row, err.value.field) == (str(bad), 3, "context")
    assert "CREATE TABLE" in str(err.value)
    rows[2]["context"] = HEAD
    rows[1]["answer"] = ""
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match=r"row 2, field 'answer'"):
        load_sql_create_context(str(bad), cache_dir=tmp_path / "dbs", heldout=False)
    no_answer = tmp_path / "no_answer.jsonl"
    no_answer.write_text(json.dumps({"question": "q", "context": HEAD}) + "\n")
    with pytest.raises(DataFormatError, match="field 'answer': missing"):
        load_sql_create_context(str(no_answer), cache_dir=tmp_path / "dbs", heldout=False)
    torn = tmp_path / "torn.jsonl"
    torn.write_text(json.dumps(scc_rows()[0]) + "\n" + '{"question": "q", "cont' + "\n")
    with pytest.raises(DataFormatError, match=r"torn.jsonl, row 2: not valid JSON"):
        load_sql_create_context(str(torn), cache_dir=tmp_path / "dbs", heldout=False)


def test_spider_format_folder(tmp_path):
    root = make_spider_dir(tmp_path / "spider")
    examples = load_spider(root)
    assert [e.db_id for e in examples] == ["concert_singer", "concert_singer", "pets_1", "pets_1"]
    assert examples[0].schema.startswith("CREATE TABLE singer") and "pets" not in examples[0].schema
    assert execute_readonly(examples[1].db_path, examples[1].query).rows == [("Joe",), ("Ann",)]
    assert (examples[3].difficulty, examples[3].template) == ("medium", "group_by")
    bird = load_spider(root, root / "bird_dev.json")
    assert bird[0].query.startswith("SELECT pet_id") and bird[0].difficulty == "simple"
    assert bird[0].question.endswith("Hint: heavy means weight > 10")
    assert len(load_spider(root, limit=2)) == 2


def test_spider_errors_name_the_file_row_and_field(tmp_path):
    root = make_spider_dir(tmp_path / "spider")
    bad = root / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {"db_id": "concert_singer", "question": "ok?", "query": "SELECT 1"},
                {"db_id": "nope", "question": "q", "query": "SELECT 1"},
            ]
        )
    )
    with pytest.raises(DataFormatError, match=r"bad.json, row 2, field 'db_id': unknown database 'nope'"):
        load_spider(root, bad)
    bad.write_text(json.dumps([{"db_id": "concert_singer", "question": "q"}]))
    with pytest.raises(DataFormatError, match=r"row 1, field 'query': missing"):
        load_spider(root, bad)
    with pytest.raises(DataFormatError, match="no such folder"):
        load_spider(tmp_path / "nowhere")


def test_embedded_split(embedded):
    examples = load_embedded(embedded.data_dir, "test")
    assert len(examples) == 200
    assert {e.difficulty for e in examples} == {"easy", "medium", "hard"}
    assert {e.seen_combo for e in examples} == {True, False}
    for ex in examples[:20]:
        assert execute_readonly(ex.db_path, ex.query).ok


def test_a_local_file_is_scored_whole_unless_a_split_is_asked(scc_file, tmp_path, monkeypatch):
    from tunebench.evaluate.sql.config import DatasetChoice
    from tunebench.evaluate.sql.load import load_examples

    monkeypatch.setenv("TUNEBENCH_DATA", str(tmp_path / "data"))
    whole, info = load_examples(DatasetChoice(name="sql-create-context", source=str(scc_file)))
    assert len(whole) == 40 and info["heldout"] is False and info["description"].startswith("all rows")
    held, info = load_examples(
        DatasetChoice(name="sql-create-context", source=str(scc_file), eval_fraction=0.25, max_samples=40)
    )
    assert len(held) == 10 and info["heldout"] is True and info["eval_fraction"] == 0.25
