"""Turn a model's answer into one SQL statement: strip code fences, stop tokens and trailing text."""

from __future__ import annotations

import re

from tunebench.chat.template import IM_END

_FENCE = re.compile(r"```(?:sql|sqlite)?\s*(.*?)(?:```|$)", re.S | re.I)


def extract_sql(text: str) -> str:
    text = text.split(IM_END, 1)[0]
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    # Keep the first statement only: a model that rambles on after ';' is scored on what it meant.
    stmt = text.split(";", 1)[0]
    lines = [ln for ln in stmt.strip().splitlines() if ln.strip()]
    # Drop a leading "SQL:"/"Answer:" label some models emit.
    if lines:
        lines[0] = re.sub(r"^\s*(sql|answer|query)\s*:\s*", "", lines[0], flags=re.I)
    return " ".join(ln.strip() for ln in lines).strip()
