"""The held-out split (tunebench/data/splits.py): seeded, disjoint, and the same rows whatever the columns."""

from __future__ import annotations

from tunebench.data.splits import split_heldout


def _rows(n: int):
    from datasets import Dataset

    return Dataset.from_dict({"id": list(range(n)), "question": [f"q{i}" for i in range(n)]})


def test_seeded_disjoint_and_sized():
    train, heldout = split_heldout(_rows(100), max_samples=None, eval_fraction=0.2, sample_seed=3)
    assert len(train) == 80 and len(heldout) == 20
    assert set(train["id"]).isdisjoint(heldout["id"]) and set(train["id"]) | set(heldout["id"]) == set(
        range(100)
    )
    again = split_heldout(_rows(100), max_samples=None, eval_fraction=0.2, sample_seed=3)[1]
    assert again["id"] == heldout["id"]
    other = split_heldout(_rows(100), max_samples=None, eval_fraction=0.2, sample_seed=4)[1]
    assert other["id"] != heldout["id"]


def test_sub_sample_first_then_split():
    train, heldout = split_heldout(_rows(100), max_samples=40, eval_fraction=0.25, sample_seed=0)
    assert len(train) == 30 and len(heldout) == 10
    assert len(set(train["id"]) | set(heldout["id"])) == 40
    whole, none = split_heldout(_rows(10), max_samples=40, eval_fraction=0.0, sample_seed=0)
    assert none is None and whole["id"] == list(range(10))  # fewer rows than max_samples: all, unshuffled


def test_training_and_evaluation_hold_out_the_same_rows():
    """Training splits the converted `messages` rows, evaluation the raw rows: the same examples."""
    raw = _rows(57)
    converted = raw.map(
        lambda r: {"messages": [{"role": "user", "content": r["question"]}]},
        remove_columns=["id", "question"],
    )
    kwargs = {"max_samples": 50, "eval_fraction": 0.1, "sample_seed": 42}
    _, raw_heldout = split_heldout(raw, **kwargs)
    _, converted_heldout = split_heldout(converted, **kwargs)
    assert [m[0]["content"] for m in converted_heldout["messages"]] == raw_heldout["question"]
