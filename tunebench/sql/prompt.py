"""The text-to-SQL prompt: one builder for training, evaluation and the demo.

It follows the original notebooks (and the blog they follow): the schema goes in the system message, the
question is the user turn, the SQL is the assistant turn.
"""

from __future__ import annotations

SQL_SYSTEM_PROMPT = (
    "You are a text to SQL query translator. Users will ask you questions in English and you will "
    "generate a SQL query based on the provided SCHEMA.\nSCHEMA:\n{schema}"
)


def sql_messages(schema: str, question: str, sql: str | None = None) -> list[dict[str, str]]:
    """Chat messages for one text-to-SQL example; without `sql` it is a prompt to complete."""
    messages = [
        {"role": "system", "content": SQL_SYSTEM_PROMPT.format(schema=schema.strip())},
        {"role": "user", "content": question.strip()},
    ]
    if sql is not None:
        messages.append({"role": "assistant", "content": sql.strip()})
    return messages
