"""The instruction datasets the original notebooks name that `tunebench.formats` did not read yet.

- `tatsu-lab/alpaca` (`alpaca`): instruction, optional input, output → user, assistant;
- `Open-Orca/OpenOrca` (`openorca`): system_prompt (may be empty), question, response → system, user,
  assistant.

Same converter signature and errors as `tunebench.formats.FORMATTERS` (file, row, field), so both are
registered there with their column signatures (`INSTRUCTION_SIGNATURES`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tunebench.formats import text_field, validate_messages

_text = text_field  # the SFT formats' own field check (file, row, field in every error)


def from_alpaca(row, source, row_no):
    """tatsu-lab/alpaca: the instruction, then the input (when there is one) as the user turn."""
    instruction = _text(row, "instruction", source, row_no).strip()
    extra = _text(row, "input", source, row_no, optional=True).strip()
    output = _text(row, "output", source, row_no)
    user = f"{instruction}\n\n{extra}" if extra else instruction
    return validate_messages(
        [{"role": "user", "content": user}, {"role": "assistant", "content": output}], source, row_no
    )


def from_openorca(row, source, row_no):
    """Open-Orca/OpenOrca: system_prompt (empty for about a fifth of the rows), question, response."""
    system = _text(row, "system_prompt", source, row_no, optional=True).strip()
    question = _text(row, "question", source, row_no)
    response = _text(row, "response", source, row_no)
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": response}]
    return validate_messages(messages, source, row_no)


INSTRUCTION_FORMATS: dict[str, Callable[[Mapping, str, int], list[dict]]] = {
    "alpaca": from_alpaca,
    "openorca": from_openorca,
}

# Columns that identify each format for `dataset_format: auto`; checked before dolly's
# (instruction, response), which alpaca's (instruction, output) does not overlap.
INSTRUCTION_SIGNATURES = (
    ("openorca", {"system_prompt", "question", "response"}),
    ("alpaca", {"instruction", "output"}),
)
