"""Turn a model's answer into one SQL statement: strip code fences, stop tokens and trailing text.

The statement ends at the first `;` outside a string literal, a quoted name or a comment (`'a;b'` is
one value, not the end of the query), and whitespace is collapsed outside literals only, so a gold
query given as its own answer runs as itself.
"""

from __future__ import annotations

import re

from tunebench.chat.template import IM_END

_FENCE = re.compile(r"```(?:sql|sqlite)?\s*(.*?)(?:```|$)", re.S | re.I)
_LABEL = re.compile(r"^\s*(sql|answer|query)\s*:\s*", re.I)
_CLOSERS = {"'": "'", '"': '"', "`": "`", "[": "]"}


def _pieces(text: str) -> list[tuple[str, bool]]:
    """(piece, is_literal) up to the first `;` outside quotes and comments; a quoted piece is kept
    whole, its doubled quotes ('it''s') included. An unclosed quote runs to the end."""
    out: list[tuple[str, bool]] = []
    i, start, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _CLOSERS:
            out.append((text[start:i], False))
            close, j = _CLOSERS[ch], i + 1
            while j < n:
                if text[j] == close:
                    if close != "]" and j + 1 < n and text[j + 1] == close:  # a doubled quote
                        j += 2
                        continue
                    break
                j += 1
            out.append((text[i : j + 1], True))
            i = start = j + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            out.append((text[start:i], False))
            i = start = n if end < 0 else end  # a line comment is dropped; its line break stays
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            out.append((text[start:i], False))
            i = start = n if end < 0 else end + 2
            out.append((" ", False))
        elif ch == ";":
            break
        else:
            i += 1
    out.append((text[start:i], False))
    return out


def first_statement(text: str) -> str:
    """The text up to the first `;` that ends a statement, comments out, whitespace outside
    literals collapsed to one space."""
    parts: list[str] = []
    plain = ""  # the text since the last literal, collapsed as one run
    for piece, literal in _pieces(text):
        if literal:
            parts += [re.sub(r"\s+", " ", plain), piece]
            plain = ""
        else:
            plain += piece
    parts.append(re.sub(r"\s+", " ", plain))
    return "".join(parts).strip()


def extract_sql(text: str) -> str:
    text = text.split(IM_END, 1)[0]
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    text = text.strip()
    # Drop a leading "SQL:"/"Answer:" label some models emit (on the first non-empty line).
    text = _LABEL.sub("", text, count=1)
    # Keep the first statement only: a model that rambles on after ';' is scored on what it meant.
    return first_statement(text)
