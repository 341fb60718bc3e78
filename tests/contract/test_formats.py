"""Rows → messages for every supported format, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from tunebench.data.formats import DataFormatError, detect_format, to_messages, validate_messages
from tunebench.sql.prompt import SQL_SYSTEM_PROMPT, sql_messages
from tunebench.train.sources import load_messages


def test_dolly_with_and_without_context():
    rows = [
        {
            "instruction": "Summarise.",
            "context": "Cats sleep a lot.",
            "response": "Cats sleep.",
            "category": "x",
        },
        {"instruction": "Name a colour.", "context": "", "response": "Blue."},
    ]
    out = to_messages(rows, "dolly", "dolly.jsonl")
    assert out[0] == [
        {"role": "user", "content": "Summarise.\n\nContext:\nCats sleep a lot."},
        {"role": "assistant", "content": "Cats sleep."},
    ]
    assert out[1][0]["content"] == "Name a colour."


def test_dolly_messages_variant_is_kept_as_is():
    # philschmid/dolly-15k-oai-style rows carry `messages` already.
    conv = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    assert to_messages([{"messages": conv}], "messages", "hub")[0] == conv


def test_sql_create_context_puts_schema_in_system_message():
    row = {
        "question": "How many heads?",
        "context": "CREATE TABLE head (age INTEGER)",
        "answer": "SELECT COUNT(*) FROM head",
    }
    msgs = to_messages([row], "sql-create-context", "sql.jsonl")[0]
    assert msgs == sql_messages(row["context"], row["question"], row["answer"])
    assert msgs[0]["content"] == SQL_SYSTEM_PROMPT.format(schema=row["context"])
    assert msgs[0]["content"].endswith("SCHEMA:\nCREATE TABLE head (age INTEGER)")


def test_embedded_sql_rows(embedded):
    from tunebench.embedded.sqlgen import load_split

    row = load_split(embedded.data_dir, "train")[0]
    msgs = to_messages([row], "text2sql", "train.jsonl")[0]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert msgs[2]["content"] == row["query"] and row["schema"] in msgs[0]["content"]


@pytest.mark.parametrize(
    "columns, fmt",
    [
        ({"messages"}, "messages"),
        ({"schema", "question", "query", "db_id"}, "text2sql"),
        ({"context", "question", "answer"}, "sql-create-context"),
        ({"instruction", "context", "response"}, "dolly"),
    ],
)
def test_detect_format(columns, fmt):
    assert detect_format(columns, "x") == fmt


def test_unknown_columns_name_the_source():
    with pytest.raises(DataFormatError, match=r"data/x.csv.*cannot tell the dataset format"):
        detect_format({"foo", "bar"}, "data/x.csv")


# --- bad input: each case names the file, the row and the field -----------------------------------

BAD = [
    (
        "missing column",
        "dolly",
        [{"instruction": "a", "response": "b"}, {"instruction": "a"}],
        r"bad.jsonl, row 2, field 'response': missing column",
    ),
    (
        "empty turn",
        "messages",
        [{"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "b"}]}],
        r"bad.jsonl, row 1, field 'messages\[0\].content': empty turn",
    ),
    (
        "wrong role order",
        "messages",
        [{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}],
        r"bad.jsonl, row 1, field 'messages\[1\].role': wrong role order: expected 'assistant', got 'user'",
    ),
    (
        "non-string content",
        "messages",
        [{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": 42}]}],
        r"bad.jsonl, row 1, field 'messages\[1\].content': expected a string, got int",
    ),
    (
        "unknown role",
        "messages",
        [{"messages": [{"role": "bot", "content": "a"}]}],
        r"field 'messages\[0\].role': unknown role 'bot'",
    ),
    (
        "no answer",
        "messages",
        [{"messages": [{"role": "user", "content": "a"}]}],
        r"row 1, field 'messages': the last turn must be the assistant's answer",
    ),
    (
        "null field",
        "sql-create-context",
        [{"question": "q", "context": None, "answer": "a"}],
        r"row 1, field 'context': expected a string, got NoneType",
    ),
    (
        "context not CREATE TABLE (the check evaluation makes too)",
        "sql-create-context",
        [
            {"question": "q", "context": "CREATE TABLE t (a INTEGER)", "answer": "SELECT a FROM t"},
            {"question": "q", "context": "DROP TABLE t", "answer": "SELECT 1"},
        ],
        r"row 2, field 'context': not a CREATE TABLE statement: DROP TABLE t \(expected CREATE TABLE statements\)",
    ),
]


@pytest.mark.parametrize("case, fmt, rows, message", BAD, ids=[b[0] for b in BAD])
def test_bad_rows_get_clear_errors(case, fmt, rows, message):
    with pytest.raises(DataFormatError, match=message):
        to_messages(rows, fmt, "bad.jsonl")


def test_system_in_the_middle_is_rejected():
    with pytest.raises(DataFormatError, match="messages\\[1\\].role"):
        validate_messages(
            [
                {"role": "user", "content": "a"},
                {"role": "system", "content": "b"},
                {"role": "assistant", "content": "c"},
            ],
            "f",
            3,
        )


# --- local files through datasets.load_dataset ------------------------------------------------------

ROWS = [
    {"question": f"q{i}", "context": "CREATE TABLE t (a INTEGER)", "answer": f"SELECT {i}"} for i in range(5)
]


def _write(path, fmt):
    import pandas as pd

    df = pd.DataFrame(ROWS)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif fmt == "json":
        path.write_text(json.dumps(ROWS))
    elif fmt == "parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet", "csv"])
def test_local_files_load_and_autodetect(tmp_path, fmt):
    path = tmp_path / f"rows.{fmt}"
    _write(path, fmt)
    ds = load_messages(str(path))
    assert ds.column_names == ["messages"] and len(ds) == 5
    assert ds[3]["messages"][-1] == {"role": "assistant", "content": "SELECT 3"}


def test_bad_row_in_a_local_file_names_file_row_and_field(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [dict(r) for r in ROWS]
    rows[2]["answer"] = ""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match=rf"{path}, row 3, field 'answer': empty text"):
        load_messages(str(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_messages(str(tmp_path / "nope.jsonl"))


@pytest.mark.parametrize(
    "row, expected_first",
    [
        ({"instruction": "Add", "input": "1+1", "output": "2"}, {"role": "user", "content": "Add\n\n1+1"}),
        (
            {"id": "x", "system_prompt": "Be brief.", "question": "Hi?", "response": "Hello."},
            {"role": "system", "content": "Be brief."},
        ),
    ],
    ids=["alpaca", "openorca"],
)
def test_instruction_formats_load_through_auto_detection(tmp_path, row, expected_first):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    ds = load_messages(str(path))
    assert ds[0]["messages"][0] == expected_first
    assert ds[0]["messages"][-1]["role"] == "assistant"
