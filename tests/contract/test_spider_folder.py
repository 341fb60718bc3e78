"""Spider-format folders as training data: Spider's split files, the evaluation prompt, clear errors."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tunebench.data.formats import DataFormatError
from tunebench.data.spider_folder import read_spider, split_files
from tunebench.train.sources import load_messages

DBS = {
    "concert_singer": "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT);"
    "INSERT INTO singer VALUES (1, 'Joe', 'France'), (2, 'Tim', 'Norway');",
    "geo": "CREATE TABLE state (state_name TEXT PRIMARY KEY, population INTEGER);"
    "INSERT INTO state VALUES ('texas', 29), ('ohio', 11);",
}
TRAIN_SPIDER = [
    {"db_id": "concert_singer", "question": "How many singers are there?", "query": "SELECT count(*) FROM singer",
     "query_toks": ["SELECT", "count", "(", "*", ")", "FROM", "singer"], "sql": {"from": {}}},
    {"db_id": "concert_singer", "question": "Singers from France?",
     "query": "SELECT name FROM singer WHERE country = 'France'"},
]  # fmt: skip
TRAIN_OTHERS = [{"db_id": "geo", "question": "Population of texas?",
                 "query": "SELECT population FROM state WHERE state_name = 'texas'"}]  # fmt: skip
DEV = [{"db_id": "geo", "question": "Largest state?", "query": "SELECT state_name FROM state ORDER BY population DESC LIMIT 1",
        "evidence": "largest means most people"}]  # fmt: skip


@pytest.fixture
def spider(tmp_path):
    root = tmp_path / "spider"
    for db_id, script in DBS.items():
        (root / "database" / db_id).mkdir(parents=True)
        with sqlite3.connect(root / "database" / db_id / f"{db_id}.sqlite") as con:
            con.executescript(script)
    for name, items in (
        ("train_spider.json", TRAIN_SPIDER),
        ("train_others.json", TRAIN_OTHERS),
        ("dev.json", DEV),
    ):
        (root / name).write_text(json.dumps(items, indent=1))
    (root / "tables.json").write_text("[]")  # Spider ships it; training must not read it as questions
    return root


def test_train_split_is_both_train_files_as_schema_question_sql_conversations(spider):
    rows = load_messages(str(spider))  # dataset_format auto: the folder is recognised
    assert len(rows) == 3
    first = rows[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert "CREATE TABLE singer" in first[0]["content"] and "state" not in first[0]["content"]
    assert first[1]["content"] == "How many singers are there?"
    assert first[2]["content"] == "SELECT count(*) FROM singer"
    last = rows[2]["messages"]
    assert "CREATE TABLE state" in last[0]["content"] and last[2]["content"].endswith("'texas'")
    assert len(load_messages(str(spider), fmt="spider", limit=2)) == 2


def test_dev_split_and_file_names_and_bird_hints(spider):
    (dev,) = load_messages(str(spider), split="dev", fmt="spider")["messages"]
    assert dev[1]["content"] == "Largest state?\nHint: largest means most people"
    assert load_messages(str(spider), split="dev.json")["messages"] == [dev]
    assert split_files(spider, "validation") == [spider / "dev.json"]
    (spider / "train_others.json").unlink()  # a folder with Spider's main training file only
    assert split_files(spider, "train") == [spider / "train_spider.json"]


def test_training_prompt_is_the_one_evaluation_asks(spider):
    from tunebench.evaluate.sql.data import load_spider

    (example,) = load_spider(spider)
    (trained,) = load_messages(str(spider), split="dev")["messages"]
    assert trained[:2] == example.messages()
    assert trained[2]["content"] == example.query


def test_split_for_training_and_held_out_rows(spider):
    from types import SimpleNamespace

    from tunebench.train.data import load_train_eval

    args = SimpleNamespace(
        dataset_name=str(spider), dataset_train_split="train", dataset_config=None, dataset_format="spider",
        dataset_test_split="dev", max_train_samples=None, eval_fraction=0.0, sample_seed=0,
    )  # fmt: skip
    train, heldout = load_train_eval(args)
    assert len(train) == 3 and len(heldout) == 1
    args.dataset_test_split = "dev.json"
    assert load_train_eval(args)[1]["messages"] == heldout["messages"]


@pytest.mark.parametrize(
    ("items", "row", "field", "problem"),
    [
        ([{"db_id": "geo", "question": "q?"}], 1, "query", "missing"),
        ([TRAIN_OTHERS[0], {"db_id": "geo", "question": " ", "query": "SELECT 1"}], 2, "question", "non-empty"),
        ([TRAIN_OTHERS[0], {"db_id": "nope", "question": "q?", "query": "SELECT 1"}], 2, "db_id", "unknown database 'nope'"),
        ([["geo", "q?", "SELECT 1"]], 1, None, "expected an object"),
    ],
)  # fmt: skip
def test_bad_rows_name_the_file_row_and_field(spider, items, row, field, problem):
    (spider / "train_spider.json").write_text(json.dumps(items))
    with pytest.raises(DataFormatError) as err:
        load_messages(str(spider))
    assert (err.value.source, err.value.row, err.value.field) == (
        str(spider / "train_spider.json"),
        row,
        field,
    )
    assert problem in err.value.problem


def test_bad_files_and_folders_say_what_is_wrong(spider, tmp_path):
    (spider / "dev.json").write_text('{"db_id": "geo"}')
    with pytest.raises(DataFormatError, match="expected a JSON list"):
        read_spider(spider)
    (spider / "dev.json").write_text("[{")
    with pytest.raises(DataFormatError, match=r"dev.json: line 1: not valid JSON"):
        read_spider(spider)
    with pytest.raises(DataFormatError, match="unknown split 'test'"):
        load_messages(str(spider), split="test", fmt="spider")
    with pytest.raises(DataFormatError, match="no questions file here"):
        load_messages(str(spider), split="train_2.json")
    with pytest.raises(DataFormatError, match="looks like the database/ folder itself"):
        read_spider(spider / "database")
    with pytest.raises(DataFormatError, match="needs a folder with database/"):
        load_messages(str(tmp_path), fmt="spider")
