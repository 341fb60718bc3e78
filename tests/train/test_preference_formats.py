"""Preference formats: rows shaped like the published datasets become TRL's conversational pairs, and
every bad row gets one error naming the file, the 1-based row and the field."""

from __future__ import annotations

import json

import pytest

from tunebench.data.formats import DataFormatError
from tunebench.train.preference_formats import (
    detect_preference_format,
    load_preference_rows,
    to_preference_rows,
    to_unpaired,
)

ORCA = {
    "system": "You are an AI assistant. You will be given a task. You must generate a detailed answer.",
    "question": "Generate an approximately fifteen-word sentence that describes all this data: "
    "Midsummer House eatType restaurant; Midsummer House food Chinese",
    "chosen": "Midsummer House is a moderately priced Chinese restaurant near All Bar One.",
    "rejected": " Sure! Here's a sentence that describes all the data you provided: ...",
}

ULTRA = {
    "prompt": "Which books are still banned in Canada?",
    "prompt_id": "5a6bd5d9d4dbe2b6e9bbf4bd7f8e3a47b1e2b0a1c6f0f0a3a1d9c5f6b7e8d9c0",
    "chosen": [
        {"content": "Which books are still banned in Canada?", "role": "user"},
        {
            "content": "As a responsible assistant, I must clarify that Canada does not ban books.",
            "role": "assistant",
        },
    ],
    "rejected": [
        {"content": "Which books are still banned in Canada?", "role": "user"},
        {"content": "Here is a list of banned books: 1984, Brave New World.", "role": "assistant"},
    ],
    "messages": [],
    "score_chosen": 8.0,
    "score_rejected": 5.0,
}

HH = {
    "chosen": "\n\nHuman: What are some cuss words in english?\n\nAssistant: Here's an incomplete list."
    "\n\nHuman: What's your favorite one?\n\nAssistant: I haven't even thought about it.",
    "rejected": "\n\nHuman: What are some cuss words in english?\n\nAssistant: Here's an incomplete list."
    "\n\nHuman: What's your favorite one?\n\nAssistant: Ass.",
}

SHP = {
    "post_id": "himc90",
    "domain": "askacademia_train",
    "upvote_ratio": 0.99,
    "history": "In an interview right before receiving the 2013 Nobel prize in physics, Peter Higgs stated "
    "that he wouldn't be able to get an academic job today. Is this really the case?",
    "c_root_id_A": "fu1g3c6",
    "c_root_id_B": "fu1ni4o",
    "created_at_utc_A": 1593535113,
    "created_at_utc_B": 1593537521,
    "score_A": 52,
    "score_B": 5,
    "human_ref_A": "Academia is a different beast these days; publish or perish is real.",
    "human_ref_B": "Yes.",
    "labels": 1,
    "seconds_difference": 2408.0,
    "score_ratio": 10.4,
}


def _one(row, fmt, **kw):
    rows, stats = to_preference_rows([row], fmt, "data.jsonl", **kw)
    return rows, stats


def test_orca_dpo_pairs_become_system_user_prompt_and_assistant_answers():
    (pair,), stats = _one(ORCA, "orca-dpo")
    assert pair["prompt"] == [
        {"role": "system", "content": ORCA["system"]},
        {"role": "user", "content": ORCA["question"]},
    ]
    assert pair["chosen"] == [{"role": "assistant", "content": ORCA["chosen"]}]
    assert pair["rejected"] == [{"role": "assistant", "content": ORCA["rejected"]}]
    assert stats.to_dict() == {"rows": 1, "pairs": 1, "ties": 0, "dropped": {}}
    (no_system,), _ = _one({**ORCA, "system": ""}, "orca-dpo")
    assert [m["role"] for m in no_system["prompt"]] == ["user"]


def test_ultrafeedback_shares_the_prompt_and_drops_equal_scores_as_ties():
    (pair,), _ = _one(ULTRA, "ultrafeedback")
    assert pair["prompt"] == [{"role": "user", "content": ULTRA["prompt"]}]
    assert pair["chosen"][0]["content"].startswith("As a responsible")
    rows, stats = _one({**ULTRA, "score_rejected": 8.0}, "ultrafeedback")
    assert rows == [] and stats.ties == 1 and stats.dropped == {"tie: equal scores": 1}


def test_hh_rlhf_transcript_splits_into_turns_with_the_shared_prefix_as_prompt():
    (pair,), _ = _one(HH, "hh-rlhf")
    assert [m["role"] for m in pair["prompt"]] == ["user", "assistant", "user"]
    assert pair["prompt"][2]["content"] == "What's your favorite one?"
    assert pair["chosen"] == [{"role": "assistant", "content": "I haven't even thought about it."}]
    assert pair["rejected"] == [{"role": "assistant", "content": "Ass."}]
    rows, stats = _one({**HH, "rejected": HH["chosen"]}, "hh-rlhf")
    assert rows == [] and stats.ties == 1


def test_shp_keeps_the_preferred_answer_and_drops_score_ratios_below_two():
    (pair,), _ = _one(SHP, "shp")
    assert pair["chosen"][0]["content"] == SHP["human_ref_A"]
    (flipped,), _ = _one({**SHP, "labels": 0}, "shp")
    assert flipped["chosen"][0]["content"] == SHP["human_ref_B"]
    rows, stats = _one({**SHP, "score_ratio": 1.5}, "shp")
    assert rows == [] and stats.dropped == {"score ratio below 2": 1} and stats.ties == 0
    without_ratio = {k: v for k, v in SHP.items() if k != "score_ratio"}
    assert len(_one({**without_ratio, "score_B": 30}, "shp")[0]) == 0  # 52/30 < 2
    assert len(_one(without_ratio, "shp")[0]) == 1


def test_local_pairs_accept_text_or_messages_and_kto_rows_are_unpaired():
    text = {"prompt": "How many rows?", "chosen": "SELECT COUNT(*) FROM t", "rejected": "SELECT * FROM t"}
    messages = {
        "prompt": [{"role": "system", "content": "schema"}, {"role": "user", "content": "How many rows?"}],
        "chosen": [{"role": "assistant", "content": "SELECT COUNT(*) FROM t"}],
        "rejected": [
            {"role": "system", "content": "schema"},
            {"role": "user", "content": "How many rows?"},
            {"role": "assistant", "content": "SELECT * FROM t"},
        ],
    }
    rows, _ = to_preference_rows([text, messages], "preference", "pairs.jsonl")
    assert rows[1]["rejected"] == [{"role": "assistant", "content": "SELECT * FROM t"}]
    assert rows[1]["prompt"][0]["role"] == "system"
    unpaired = to_unpaired(rows)
    assert [r["label"] for r in unpaired] == [True, False, True, False]
    assert unpaired[1]["completion"][0]["content"] == "SELECT * FROM t"
    kto, _ = to_preference_rows([{"prompt": "q", "completion": "a", "label": False}], "unpaired", "k.jsonl")
    assert kto[0]["label"] is False and kto[0]["completion"] == [{"role": "assistant", "content": "a"}]


@pytest.mark.parametrize(
    ("columns", "fmt"),
    [
        (ORCA, "orca-dpo"),
        (ULTRA, "ultrafeedback"),
        (HH, "hh-rlhf"),
        (SHP, "shp"),
        ({"prompt": 1, "chosen": 1, "rejected": 1}, "preference"),
        ({"prompt": 1, "completion": 1, "label": 1}, "unpaired"),
    ],
)
def test_auto_detects_each_format_from_its_columns(columns, fmt):
    assert detect_preference_format(columns, "x") == fmt


def test_unknown_columns_name_the_formats():
    with pytest.raises(DataFormatError, match=r"x: cannot tell the preference format .*'orca-dpo'"):
        detect_preference_format(["text"], "x")


BAD_ROWS = [
    ("orca-dpo", {**ORCA, "question": "  "}, "row 2, field 'question': empty text"),
    (
        "orca-dpo",
        {k: v for k, v in ORCA.items() if k != "rejected"},
        "row 2, field 'rejected': missing column",
    ),
    ("orca-dpo", {**ORCA, "chosen": ["a"]}, "row 2, field 'chosen': expected a string, got list"),
    (
        "ultrafeedback",
        {**ULTRA, "rejected": [{"role": "user", "content": "other"}, ULTRA["rejected"][1]]},
        "row 2, field 'rejected': chosen and rejected differ before their last turn",
    ),
    (
        "ultrafeedback",
        {**ULTRA, "chosen": [ULTRA["chosen"][0], {"role": "bot", "content": "x"}]},
        "row 2, field 'chosen[1].role': unknown role 'bot'",
    ),
    ("ultrafeedback", {**ULTRA, "score_chosen": "high"}, "row 2, field 'score_chosen': expected a number"),
    ("hh-rlhf", {**HH, "chosen": "Human: hi Assistant: hello"}, "row 2, field 'chosen': not an hh-rlhf"),
    (
        "hh-rlhf",
        {**HH, "rejected": "\n\nHuman: other\n\nAssistant: Ass."},
        "row 2, field 'rejected': the transcripts differ before their last Assistant turn",
    ),
    (
        "hh-rlhf",
        {**HH, "rejected": HH["rejected"][: -len("Ass.")]},
        "row 2, field 'rejected': the last Assistant turn is empty",
    ),
    (
        "hh-rlhf",
        {**HH, "chosen": "\n\nHuman: a\n\nHuman: b\n\nAssistant: c"},
        "row 2, field 'chosen': turn 2 is 'user', expected 'assistant'",
    ),
    ("shp", {**SHP, "labels": 2}, "row 2, field 'labels': expected 0 or 1, got 2"),
    ("shp", {**SHP, "human_ref_B": None}, "row 2, field 'human_ref_B': expected a string, got NoneType"),
    ("preference", {"prompt": "q", "chosen": "a"}, "row 2, field 'rejected': missing column"),
    (
        "preference",
        {"prompt": "q", "chosen": "a", "rejected": 3},
        "row 2, field 'rejected': expected text or",
    ),
    (
        "preference",
        {
            "prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "chosen": "a",
            "rejected": "b",
        },
        "row 2, field 'prompt': the prompt must end with a user turn",
    ),
    (
        "preference",
        {"prompt": "q", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"},
        "row 2, field 'chosen': expected an assistant message",
    ),
    (
        "unpaired",
        {"prompt": "q", "completion": "a", "label": "yes"},
        "row 2, field 'label': expected true or false",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "bad", "message"), BAD_ROWS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_ROWS)]
)
def test_each_bad_row_gets_one_clear_error_or_is_counted_when_dropping(fmt, bad, message):
    good = {"orca-dpo": ORCA, "ultrafeedback": ULTRA, "hh-rlhf": HH, "shp": SHP}.get(
        fmt,
        {"prompt": "q", "chosen": "a", "rejected": "b"}
        if fmt == "preference"
        else {"prompt": "q", "completion": "a", "label": True},
    )
    with pytest.raises(DataFormatError) as err:
        to_preference_rows([good, bad], fmt, "data/prefs.jsonl")
    assert str(err.value).startswith("data/prefs.jsonl, " + message), str(err.value)
    assert "\n" not in str(err.value)
    rows, stats = to_preference_rows([good, bad], fmt, "data/prefs.jsonl", on_bad="drop")
    assert len(rows) == 1 and stats.rows == 2 and sum(stats.dropped.values()) == 1
    (reason,) = stats.dropped
    assert reason.startswith(message.split("field '")[1].split("'")[0] + ": ")


def test_local_jsonl_names_its_file_and_line_and_records_counts(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": "q1", "chosen": "a", "rejected": "b"},
        {"prompt": "q2", "chosen": "a", "rejected": "a"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs, stats = load_preference_rows(str(path))
    assert len(pairs) == 1 and stats.to_dict() == {
        "rows": 2,
        "pairs": 1,
        "ties": 1,
        "dropped": {"tie: chosen and rejected are the same text": 1},
    }
    path.write_text(path.read_text() + json.dumps({"prompt": "q3", "chosen": "a"}) + "\n")
    with pytest.raises(DataFormatError, match=r"pairs.jsonl, row 3, field 'rejected': missing column"):
        load_preference_rows(str(path))
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_preference_rows(str(tmp_path / "missing.jsonl"))


def test_parquet_file_of_hub_shaped_rows_loads(tmp_path):
    from datasets import Dataset

    Dataset.from_list([ULTRA, {**ULTRA, "score_chosen": 5.0}]).to_parquet(
        str(tmp_path / "test_prefs.parquet")
    )
    pairs, stats = load_preference_rows(str(tmp_path / "test_prefs.parquet"), fmt="auto")
    assert len(pairs) == 1 and stats.ties == 1


def _jsonl_with_blank_lines(path, rows) -> None:
    """A file as people write them: a blank line after the first row."""
    lines = [json.dumps(rows[0]), "", *(json.dumps(r) for r in rows[1:])]
    path.write_text("\n".join(lines) + "\n")


def test_errors_name_the_line_with_blank_lines_counted(tmp_path):
    """Issue 25, item 16: a bad row on line 4 was reported as row 3 (blank lines were not counted)."""
    from tunebench.train.sources import load_messages

    prefs = tmp_path / "pairs.jsonl"
    good = {"prompt": "q", "chosen": "a", "rejected": "b"}
    _jsonl_with_blank_lines(prefs, [good, good, {"prompt": "q3", "chosen": "a"}])
    with pytest.raises(DataFormatError, match=r"pairs.jsonl, row 4, field 'rejected': missing column"):
        load_preference_rows(str(prefs))
    sft = tmp_path / "sft.jsonl"
    ok = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    _jsonl_with_blank_lines(sft, [ok, ok, {"messages": [{"role": "user", "content": "q"}]}])
    with pytest.raises(DataFormatError, match=r"sft.jsonl, row 4"):
        load_messages(str(sft))


def test_a_torn_last_line_of_a_dataset_is_an_error_not_a_dropped_row(tmp_path):
    """Issue 25, item 16: a last line cut short was dropped in silence (the rule for files a killed run
    wrote, not for data someone hands in)."""
    from tunebench.train.sources import load_messages

    prefs = tmp_path / "pairs.jsonl"
    prefs.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + '\n{"prompt": "q2", "cho')
    with pytest.raises(
        DataFormatError, match=r"pairs.jsonl, row 2: not valid JSON .*; the file ends mid-line"
    ):
        load_preference_rows(str(prefs))
    sft = tmp_path / "sft.jsonl"
    ok = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    sft.write_text(json.dumps(ok) + '\n{"messages": [')
    with pytest.raises(DataFormatError, match=r"sft.jsonl, row 2: not valid JSON"):
        load_messages(str(sft))


def test_unpaired_rows_for_a_paired_trainer_stop_before_the_model_loads(embedded, tmp_path):
    """Issue 25, item 16: an unpaired file with `trainer: dpo` loaded the model, then failed with
    KeyError: 'chosen'."""
    import subprocess
    import sys

    from tests.conftest import HANG_S, REPO

    unpaired = tmp_path / "kto.jsonl"
    rows = [{"prompt": f"q{i}", "completion": "a", "label": i % 2 == 0} for i in range(8)]
    unpaired.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match="`trainer: dpo` needs pairs"):
        load_preference_rows(str(unpaired), trainer="dpo")
    assert len(load_preference_rows(str(unpaired), trainer="kto")[0]) == 8
    cmd = [
        sys.executable,
        "-m",
        "tunebench.train",
        "--config",
        str(REPO / "recipes" / "preference" / "tiny-text-to-sql-dpo.yaml"),
        f"--model_name_or_path={embedded.base_dir}",
        f"--dataset_name={unpaired}",
        "--dataset_format=auto",
        f"--output_dir={tmp_path / 'run'}",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "`trainer: dpo` needs pairs" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "run" / "checkpoints").exists()
