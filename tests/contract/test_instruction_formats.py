"""Alpaca and OpenOrca rows (shaped like the hub datasets) become `messages`; bad rows name file/row/field."""

from __future__ import annotations

import pytest

from tunebench.data.formats import FORMATTERS, SIGNATURES, DataFormatError

ALPACA = {
    "instruction": "Identify the odd one out.",
    "input": "Twitter, Instagram, Telegram",
    "output": "Telegram",
    "text": "Below is an instruction that describes a task ...",
}
ORCA = {
    "id": "niv.242684",
    "system_prompt": "You are an AI assistant. Provide a detailed answer.",
    "question": "Translate 'good morning' into French.",
    "response": "Bonjour.",
}


def test_alpaca_puts_the_input_after_the_instruction_and_skips_an_empty_one():
    messages = FORMATTERS["alpaca"](ALPACA, "alpaca.jsonl", 1)
    assert messages == [
        {"role": "user", "content": "Identify the odd one out.\n\nTwitter, Instagram, Telegram"},
        {"role": "assistant", "content": "Telegram"},
    ]
    assert FORMATTERS["alpaca"]({**ALPACA, "input": ""}, "a", 1)[0]["content"] == ALPACA["instruction"]


def test_openorca_keeps_its_system_prompt_when_there_is_one():
    messages = FORMATTERS["openorca"](ORCA, "orca.parquet", 1)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert [m["role"] for m in FORMATTERS["openorca"]({**ORCA, "system_prompt": ""}, "o", 1)] == [
        "user",
        "assistant",
    ]


def test_signatures_tell_the_formats_apart():
    cols = {name: needed for name, needed in SIGNATURES}
    assert cols["alpaca"] <= set(ALPACA) and not cols["openorca"] <= set(ALPACA)
    assert cols["openorca"] <= set(ORCA) and not cols["alpaca"] <= set(ORCA)


@pytest.mark.parametrize(
    ("fmt", "row", "message"),
    [
        ("alpaca", {**ALPACA, "output": "  "}, "alpaca.jsonl, row 7, field 'output': empty text"),
        ("alpaca", {"input": "x", "output": "y"}, "alpaca.jsonl, row 7, field 'instruction': missing column"),
        ("alpaca", {**ALPACA, "input": 3}, "alpaca.jsonl, row 7, field 'input': expected a string, got int"),
        ("openorca", {**ORCA, "response": None}, "alpaca.jsonl, row 7, field 'response': expected a string"),
        ("openorca", {**ORCA, "question": ""}, "alpaca.jsonl, row 7, field 'question': empty text"),
    ],
)
def test_bad_rows_get_one_clear_error(fmt, row, message):
    with pytest.raises(DataFormatError) as err:
        FORMATTERS[fmt](row, "alpaca.jsonl", 7)
    assert str(err.value).startswith(message)
