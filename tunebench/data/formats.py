"""Dataset rows → chat `messages`, with errors that name the file, the row and the field.

Every stage sees conversations in one shape: a list of {"role", "content"} dicts, an optional
system message, then user/assistant turns alternating, ending with the assistant (for training).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tunebench.sql.prompt import sql_messages

ROLES = ("system", "user", "assistant")


class DataFormatError(ValueError):
    """A dataset row that cannot become a conversation; the message says where and why."""

    def __init__(self, source: str, row: int | None, field: str | None, problem: str):
        self.source, self.row, self.field, self.problem = source, row, field, problem
        where = source
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


def text_field(row: Mapping[str, Any], field: str, source: str, index: int, *, optional: bool = False) -> str:
    """A row's text field, or a DataFormatError naming the file, the row and the field."""
    if field not in row:
        if optional:
            return ""
        raise DataFormatError(source, index, field, "missing column")
    value = row[field]
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise DataFormatError(source, index, field, f"expected a string, got {type(value).__name__}")
    if not value.strip() and not optional:
        raise DataFormatError(source, index, field, "empty text")
    return value


def validate_messages(messages: Any, source: str, index: int, *, require_answer: bool = True) -> list[dict]:
    """Check one conversation; returns it as plain dicts with only role and content."""
    if not isinstance(messages, list) or not messages:
        raise DataFormatError(source, index, "messages", "expected a non-empty list of {role, content}")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        field = f"messages[{i}]"
        if not isinstance(m, Mapping):
            raise DataFormatError(source, index, field, f"expected a mapping, got {type(m).__name__}")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise DataFormatError(
                source, index, f"{field}.role", f"unknown role {role!r} (expected one of {ROLES})"
            )
        if not isinstance(content, str):
            raise DataFormatError(
                source, index, f"{field}.content", f"expected a string, got {type(content).__name__}"
            )
        if not content.strip():
            raise DataFormatError(source, index, f"{field}.content", "empty turn")
        out.append({"role": role, "content": content})
    turns = out[1:] if out[0]["role"] == "system" else out
    if not turns:
        raise DataFormatError(source, index, "messages", "only a system message, no turns")
    for i, m in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if m["role"] != expected:
            pos = i + (len(out) - len(turns))
            raise DataFormatError(
                source,
                index,
                f"messages[{pos}].role",
                f"wrong role order: expected {expected!r}, got {m['role']!r} "
                "(an optional system message, then user and assistant alternating)",
            )
    if require_answer and turns[-1]["role"] != "assistant":
        raise DataFormatError(source, index, "messages", "the last turn must be the assistant's answer")
    return out


def from_messages(row, source, index):
    if "messages" not in row:
        raise DataFormatError(source, index, "messages", "missing column")
    return validate_messages(row["messages"], source, index)


def from_dolly(row, source, index):
    """databricks-dolly-15k: instruction (+ optional context) → user, response → assistant."""
    instruction = text_field(row, "instruction", source, index)
    context = text_field(row, "context", source, index, optional=True)
    response = text_field(row, "response", source, index)
    user = (
        instruction.strip()
        if not context.strip()
        else f"{instruction.strip()}\n\nContext:\n{context.strip()}"
    )
    return validate_messages(
        [{"role": "user", "content": user}, {"role": "assistant", "content": response}], source, index
    )


def check_sql_context(context: str, source: str, index: int | None) -> None:
    """A sql-create-context `context` must be CREATE TABLE statements: the one check training and
    evaluation share (a model trained on anything else would see a schema evaluation cannot build)."""
    from tunebench.sql.schema import SchemaError, parse_schema

    try:
        parse_schema(context)
    except SchemaError as err:
        raise DataFormatError(source, index, "context", f"{err} (expected CREATE TABLE statements)") from err


def from_sql_create_context(row, source, index):
    """b-mc2/sql-create-context: context (CREATE TABLE …) in the system message, question → SQL."""
    schema = text_field(row, "context", source, index)
    check_sql_context(schema, source, index)
    question = text_field(row, "question", source, index)
    answer = text_field(row, "answer", source, index)
    return validate_messages(sql_messages(schema, question, answer), source, index)


def from_embedded_sql(row, source, index):
    """The text-to-SQL set tunebench generates (tunebench.embedded.sqlgen)."""
    schema = text_field(row, "schema", source, index)
    question = text_field(row, "question", source, index)
    query = text_field(row, "query", source, index)
    return validate_messages(sql_messages(schema, question, query), source, index)


def from_alpaca(row, source, index):
    """tatsu-lab/alpaca: the instruction, then the input (when there is one) as the user turn."""
    instruction = text_field(row, "instruction", source, index).strip()
    extra = text_field(row, "input", source, index, optional=True).strip()
    output = text_field(row, "output", source, index)
    user = f"{instruction}\n\n{extra}" if extra else instruction
    return validate_messages(
        [{"role": "user", "content": user}, {"role": "assistant", "content": output}], source, index
    )


def from_openorca(row, source, index):
    """Open-Orca/OpenOrca: system_prompt (empty for about a fifth of the rows), question, response."""
    system = text_field(row, "system_prompt", source, index, optional=True).strip()
    question = text_field(row, "question", source, index)
    response = text_field(row, "response", source, index)
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": response}]
    return validate_messages(messages, source, index)


FORMATTERS: dict[str, Callable[[Mapping, str, int], list[dict]]] = {
    "messages": from_messages,
    "dolly": from_dolly,
    "sql-create-context": from_sql_create_context,
    "text2sql": from_embedded_sql,
    "alpaca": from_alpaca,
    "openorca": from_openorca,
}

# Columns that identify each format, for `dataset_format: auto`, most specific first: OpenOrca's
# (system_prompt, question, response) and Alpaca's (instruction, output) before Dolly's
# (instruction, response), which Alpaca's does not overlap.
SIGNATURES = (
    ("messages", {"messages"}),
    ("text2sql", {"schema", "question", "query"}),
    ("sql-create-context", {"context", "question", "answer"}),
    ("openorca", {"system_prompt", "question", "response"}),
    ("alpaca", {"instruction", "output"}),
    ("dolly", {"instruction", "response"}),
)


def detect_by_columns(
    signatures, columns: Iterable[str], source: str, choices: Iterable[str], kind: str
) -> str:
    """The first format whose identifying columns the data has (signatures: most specific first)."""
    cols = set(columns)
    for name, needed in signatures:
        if needed <= cols:
            return name
    raise DataFormatError(
        source,
        None,
        None,
        f"cannot tell the {kind} format from its columns {sorted(cols)}; set dataset_format to one of "
        f"{sorted(choices)}",
    )


def detect_format(columns: Iterable[str], source: str) -> str:
    return detect_by_columns(SIGNATURES, columns, source, FORMATTERS, "dataset")


def required_columns(fmt: str) -> set[str]:
    return next(needed for name, needed in SIGNATURES if name == fmt)


def to_messages(
    rows: Iterable[Mapping],
    fmt: str,
    source: str,
    columns: Iterable[str] | None = None,
    row_numbers: Iterable[int] | None = None,
):
    """Convert every row (failing on the first bad one, before any training starts). `row_numbers`:
    each row's line in its file (a JSONL file with blank lines); by default rows count from 1."""
    if fmt not in FORMATTERS:
        raise ValueError(f"unknown dataset_format {fmt!r}; expected one of {sorted(FORMATTERS)} or 'auto'")
    if columns is not None:
        missing = required_columns(fmt) - set(columns)
        if missing:
            raise DataFormatError(
                source, None, sorted(missing)[0], f"missing column (the file has {sorted(columns)})"
            )
    convert = FORMATTERS[fmt]
    # 1-based: the row number a person finds by counting lines in the file (line 1 = row 1).
    numbers = row_numbers if row_numbers is not None else itertools.count(1)
    return [convert(row, source, i) for i, row in zip(numbers, rows, strict=False)]  # count() is endless
