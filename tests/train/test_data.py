"""Training holds out exactly the rows `tunebench.data.splits.split_heldout` picks (what evaluation scores)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from tunebench.data.splits import split_heldout
from tunebench.train.data import load_train_eval


def _args(path, **kw):
    values = dict(
        dataset_name=str(path),
        dataset_train_split="train",
        dataset_config=None,
        dataset_format="messages",
        dataset_test_split=None,
        max_train_samples=None,
        eval_fraction=0.0,
        sample_seed=3,
    )
    return SimpleNamespace(**{**values, **kw})


def _write(tmp_path, n=40, name="rows.jsonl"):
    path = tmp_path / name
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_heldout_rows_are_split_heldouts_and_disjoint_from_training(tmp_path):
    from datasets import load_dataset

    path = _write(tmp_path)
    train, heldout = load_train_eval(_args(path, max_train_samples=30, eval_fraction=0.2))
    raw = load_dataset("json", data_files=str(path), split="train")
    _, expected = split_heldout(raw, max_samples=30, eval_fraction=0.2, sample_seed=3)
    questions = [m["messages"][0]["content"] for m in heldout]
    assert questions == [m[0]["content"] for m in expected["messages"]] and len(questions) == 6
    assert set(questions).isdisjoint(m["messages"][0]["content"] for m in train) and len(train) == 24


def test_no_eval_fraction_trains_on_every_row_and_a_test_file_is_the_eval_set(tmp_path):
    path = _write(tmp_path)
    train, heldout = load_train_eval(_args(path))
    assert len(train) == 40 and heldout is None
    test = _write(tmp_path, n=5, name="test.jsonl")
    train, heldout = load_train_eval(_args(path, dataset_test_split=str(test), eval_fraction=0.5))
    assert len(train) == 40 and len(heldout) == 5
