"""Resumable JSONL (tunebench/data/jsonl.py): one rule for a torn last line, real damage named by line."""

from __future__ import annotations

import pytest

from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import JsonlAppender, iter_jsonl, read_jsonl, write_jsonl


def test_rows_round_trip_with_their_line_numbers(tmp_path):
    path = tmp_path / "answers.jsonl"
    write_jsonl(path, [{"q": 1}, {"q": 2, "text": "ünïcode\nnewline"}])
    assert list(iter_jsonl(path)) == [(1, {"q": 1}), (2, {"q": 2, "text": "ünïcode\nnewline"})]
    path.write_text('{"q": 1}\n\n   \n{"q": 2}\n')  # blank lines are no records but still count
    assert list(iter_jsonl(path)) == [(1, {"q": 1}), (4, {"q": 2})]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_a_torn_last_line_is_skipped_and_healed_before_appending(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_text('{"q": 1}\n{"q": 2}\n{"q": 3, "text": "cut sh')  # killed mid-write
    assert read_jsonl(path) == [{"q": 1}, {"q": 2}]
    with JsonlAppender(path) as out:
        out.write({"q": 3, "text": "whole"})
        assert read_jsonl(path)[-1] == {"q": 3, "text": "whole"}  # flushed at once, before close
    assert read_jsonl(path) == [{"q": 1}, {"q": 2}, {"q": 3, "text": "whole"}]
    assert path.read_text().endswith('"whole"}\n')


def test_a_complete_last_record_without_newline_is_kept(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_text('{"q": 1}\n{"q": 2}')  # written by another tool: whole, only the newline is missing
    assert read_jsonl(path) == [{"q": 1}, {"q": 2}]
    with JsonlAppender(path) as out:
        out.write({"q": 3})
    assert read_jsonl(path) == [{"q": 1}, {"q": 2}, {"q": 3}]


def test_appending_to_a_new_file_makes_its_folder(tmp_path):
    path = tmp_path / "model_answer" / "m.jsonl"
    with JsonlAppender(path) as out:
        out.write({"a": 1})
    with JsonlAppender(path) as out:
        out.write({"a": 2})
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('{"q": 1}\n{"q": 2\n{"q": 3}\n', 2, "not valid JSON"),  # damage before the end
        ('{"q": 1}\n{"q": 2\n', 2, "not valid JSON"),  # a bad LAST line that did end: not torn
        ('{"q": 1}\n[1, 2]\n', 2, "a line must be a JSON object"),
        ('"text"\n{"q": 1}', 1, "a line must be a JSON object"),
    ],
)
def test_damage_elsewhere_names_the_file_and_line(tmp_path, text, line, says):
    path = tmp_path / "judgments.jsonl"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=says) as err:
        read_jsonl(path)
    assert err.value.row == line and err.value.source == str(path)
    assert str(err.value).startswith(f"{path}, row {line}: ")
    with pytest.raises(DataFormatError):
        JsonlAppender(path).write({"q": 9})  # appending never hides damage either
    assert path.read_text() == text
