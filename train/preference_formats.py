"""Preference rows → TRL's conversational `prompt` / `chosen` / `rejected` (and KTO's unpaired
`prompt` / `completion` / `label`), with errors that name the file, the 1-based row and the field.

The datasets the original notebooks name, each in its own published shape:
- `Intel/orca_dpo_pairs` (`orca-dpo`): system, question, chosen, rejected (strings);
- `HuggingFaceH4/ultrafeedback_binarized` (`ultrafeedback`, splits train_prefs / test_prefs): chosen and
  rejected are whole conversations that share everything but the last assistant turn;
- `Anthropic/hh-rlhf` (`hh-rlhf`): chosen and rejected are "\\n\\nHuman: … \\n\\nAssistant: …" transcripts;
  the turns both share are the prompt, the last assistant turn is the completion;
- `stanfordnlp/SHP` (`shp`): a post (history), two human answers and which one people preferred; the
  dataset card recommends keeping pairs whose score ratio is at least 2, so lower ratios are dropped;
- local JSONL (`preference`: prompt, chosen, rejected as text or messages; `unpaired`: prompt,
  completion, label).

A row that is malformed raises `DataFormatError`, or, with `on_bad="drop"`, is counted under its reason
(hub datasets carry a few such rows; a run records what it dropped). Ties (the same completion twice, or
equal scores) are never a preference: they are dropped and counted.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tunebench.data.formats import DataFormatError, detect_by_columns, validate_messages

SHP_MIN_SCORE_RATIO = 2.0


class Tie(Exception):
    """A row whose two completions are not a preference (same text, equal scores)."""


class BelowThreshold(Exception):
    """A row the dataset's own guidance says to leave out (SHP's score ratio below 2)."""


@dataclass
class PreferenceStats:
    """What became of the rows: kept pairs, ties and every dropped row's reason."""

    rows: int = 0
    pairs: int = 0
    ties: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "pairs": self.pairs, "ties": self.ties, "dropped": dict(self.dropped)}

    def add(self, other: PreferenceStats) -> None:
        self.rows += other.rows
        self.pairs += other.pairs
        self.ties += other.ties
        self.dropped.update(other.dropped)


def _text(row: Mapping, name: str, source: str, row_no: int, *, optional: bool = False) -> str:
    if name not in row:
        raise DataFormatError(source, row_no, name, "missing column")
    value = row[name]
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise DataFormatError(source, row_no, name, f"expected a string, got {type(value).__name__}")
    if not value.strip() and not optional:
        raise DataFormatError(source, row_no, name, "empty text")
    return value


def _number(row: Mapping, name: str, source: str, row_no: int) -> float:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataFormatError(source, row_no, name, f"expected a number, got {type(value).__name__}")
    return float(value)


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _pair(prompt: list[dict], chosen: str, rejected: str) -> dict:
    if chosen.strip() == rejected.strip():
        raise Tie("chosen and rejected are the same text")
    return {"prompt": prompt, "chosen": _assistant(chosen), "rejected": _assistant(rejected)}


def _prompt(messages: list[dict], source: str, row_no: int, name: str) -> list[dict]:
    """A prompt: an optional system message, alternating turns, ending with the user's."""
    prompt = validate_messages(messages, source, row_no, require_answer=False)
    if prompt[-1]["role"] != "user":
        raise DataFormatError(source, row_no, name, "the prompt must end with a user turn")
    return prompt


def from_orca_dpo(row, source, row_no):
    """Intel/orca_dpo_pairs: system (may be empty), question, chosen, rejected."""
    system = _text(row, "system", source, row_no, optional=True)
    question = _text(row, "question", source, row_no)
    chosen = _text(row, "chosen", source, row_no)
    rejected = _text(row, "rejected", source, row_no)
    prompt = ([{"role": "system", "content": system}] if system.strip() else []) + [
        {"role": "user", "content": question}
    ]
    return _pair(_prompt(prompt, source, row_no, "question"), chosen, rejected)


def _conversation(row, name, source, row_no) -> list[dict]:
    if name not in row:
        raise DataFormatError(source, row_no, name, "missing column")
    try:
        messages = validate_messages(row[name], source, row_no)
    except DataFormatError as err:  # name the column, not the generic "messages"
        raise DataFormatError(source, row_no, err.field.replace("messages", name, 1), err.problem) from err
    return messages


def _split_conversations(row, source, row_no) -> tuple[list[dict], str, str]:
    """Two whole conversations → (shared prompt, chosen answer, rejected answer)."""
    chosen = _conversation(row, "chosen", source, row_no)
    rejected = _conversation(row, "rejected", source, row_no)
    if chosen[:-1] != rejected[:-1]:
        raise DataFormatError(
            source, row_no, "rejected", "chosen and rejected differ before their last turn (no shared prompt)"
        )
    if len(chosen) < 2:
        raise DataFormatError(source, row_no, "chosen", "no prompt before the answer")
    return chosen[:-1], chosen[-1]["content"], rejected[-1]["content"]


def from_ultrafeedback(row, source, row_no):
    """HuggingFaceH4/ultrafeedback_binarized: chosen/rejected conversations and their scores."""
    prompt, chosen, rejected = _split_conversations(row, source, row_no)
    scored = "score_chosen" in row and "score_rejected" in row
    if scored and _number(row, "score_chosen", source, row_no) == _number(
        row, "score_rejected", source, row_no
    ):
        raise Tie("equal scores")
    return _pair(prompt, chosen, rejected)


_HH_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def parse_hh_transcript(text: str, source: str, row_no: int, name: str) -> list[dict]:
    """ "\\n\\nHuman: …\\n\\nAssistant: …" → messages (the last assistant turn may be empty)."""
    parts = _HH_TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise DataFormatError(
            source, row_no, name, "not an hh-rlhf transcript (expected '\\n\\nHuman: …\\n\\nAssistant: …')"
        )
    turns = [
        {"role": _HH_ROLES[speaker], "content": body.strip()}
        for speaker, body in zip(parts[1::2], parts[2::2], strict=True)
    ]
    for i, turn in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if turn["role"] != expected:
            raise DataFormatError(
                source,
                row_no,
                name,
                f"turn {i + 1} is {turn['role']!r}, expected {expected!r} (turns must alternate)",
            )
    if turns[-1]["role"] != "assistant":
        raise DataFormatError(source, row_no, name, "the transcript must end with an Assistant turn")
    for i, turn in enumerate(turns[:-1]):
        if not turn["content"]:
            raise DataFormatError(source, row_no, name, f"turn {i + 1} is empty")
    return turns


def from_hh_rlhf(row, source, row_no):
    """Anthropic/hh-rlhf: two transcripts; the shared prefix is the prompt, the last turns the answers."""
    chosen = parse_hh_transcript(_text(row, "chosen", source, row_no), source, row_no, "chosen")
    rejected = parse_hh_transcript(_text(row, "rejected", source, row_no), source, row_no, "rejected")
    if chosen[:-1] != rejected[:-1]:
        raise DataFormatError(
            source, row_no, "rejected", "the transcripts differ before their last Assistant turn"
        )
    for name, turns in (("chosen", chosen), ("rejected", rejected)):
        if not turns[-1]["content"]:
            raise DataFormatError(source, row_no, name, "the last Assistant turn is empty")
    return _pair(chosen[:-1], chosen[-1]["content"], rejected[-1]["content"])


def from_shp(row, source, row_no, *, min_score_ratio: float = SHP_MIN_SCORE_RATIO):
    """stanfordnlp/SHP: history, human_ref_A/B, labels (1: A preferred), scores."""
    history = _text(row, "history", source, row_no)
    answer_a = _text(row, "human_ref_A", source, row_no)
    answer_b = _text(row, "human_ref_B", source, row_no)
    label = row.get("labels")
    if label not in (0, 1) or isinstance(label, bool):
        raise DataFormatError(source, row_no, "labels", f"expected 0 or 1, got {label!r}")
    if "score_ratio" in row and row["score_ratio"] is not None:
        ratio = _number(row, "score_ratio", source, row_no)
    else:
        a, b = _number(row, "score_A", source, row_no), _number(row, "score_B", source, row_no)
        if min(a, b) <= 0:
            raise DataFormatError(source, row_no, "score_A", "scores must be positive to form a ratio")
        ratio = max(a, b) / min(a, b)
    if ratio < min_score_ratio:
        raise BelowThreshold(f"score ratio below {min_score_ratio:g}")
    chosen, rejected = (answer_a, answer_b) if label == 1 else (answer_b, answer_a)
    return _pair([{"role": "user", "content": history}], chosen, rejected)


def _completion(row, name, prompt, source, row_no) -> str:
    """A local completion: text, one assistant message, or the whole conversation after the prompt."""
    value = row.get(name)
    if isinstance(value, str):
        return _text(row, name, source, row_no)
    if isinstance(value, list):
        messages = _conversation(row, name, source, row_no) if len(value) > 1 else value
        if len(messages) > 1:
            if messages[:-1] != prompt:
                raise DataFormatError(source, row_no, name, "the conversation does not start with the prompt")
            messages = messages[-1:]
        last = messages[0] if messages else None
        if not isinstance(last, Mapping) or last.get("role") != "assistant":
            raise DataFormatError(source, row_no, name, "expected an assistant message")
        content = last.get("content")
        if not isinstance(content, str) or not content.strip():
            raise DataFormatError(source, row_no, f"{name}[0].content", "empty or not a string")
        return content
    if name not in row:
        raise DataFormatError(source, row_no, name, "missing column")
    raise DataFormatError(source, row_no, name, f"expected text or messages, got {type(value).__name__}")


def _local_prompt(row, source, row_no) -> list[dict]:
    value = row.get("prompt")
    if isinstance(value, str) or value is None:
        return [{"role": "user", "content": _text(row, "prompt", source, row_no)}]
    if not isinstance(value, list):
        raise DataFormatError(
            source, row_no, "prompt", f"expected text or messages, got {type(value).__name__}"
        )
    try:
        return _prompt(value, source, row_no, "prompt")
    except DataFormatError as err:
        raise DataFormatError(
            source, row_no, err.field.replace("messages", "prompt", 1), err.problem
        ) from err


def from_preference(row, source, row_no):
    """Local JSONL: prompt (text or messages), chosen and rejected (text or messages)."""
    prompt = _local_prompt(row, source, row_no)
    chosen = _completion(row, "chosen", prompt, source, row_no)
    rejected = _completion(row, "rejected", prompt, source, row_no)
    return _pair(prompt, chosen, rejected)


def from_unpaired(row, source, row_no):
    """Local JSONL for KTO: prompt, completion, label (true: desirable)."""
    prompt = _local_prompt(row, source, row_no)
    completion = _completion(row, "completion", prompt, source, row_no)
    label = row.get("label")
    if not isinstance(label, bool):
        raise DataFormatError(source, row_no, "label", f"expected true or false, got {label!r}")
    return {"prompt": prompt, "completion": _assistant(completion), "label": label}


PREFERENCE_FORMATS: dict[str, Callable[[Mapping, str, int], dict]] = {
    "orca-dpo": from_orca_dpo,
    "ultrafeedback": from_ultrafeedback,
    "hh-rlhf": from_hh_rlhf,
    "shp": from_shp,
    "preference": from_preference,
    "unpaired": from_unpaired,
}

# Most specific first: the columns that identify each format, for `auto`.
_SIGNATURES = (
    ("shp", {"history", "human_ref_A", "human_ref_B", "labels"}),
    ("orca-dpo", {"question", "chosen", "rejected"}),
    ("ultrafeedback", {"prompt", "chosen", "rejected", "score_chosen", "score_rejected"}),
    ("preference", {"prompt", "chosen", "rejected"}),
    ("unpaired", {"prompt", "completion", "label"}),
    ("hh-rlhf", {"chosen", "rejected"}),
)


def detect_preference_format(columns: Iterable[str], source: str) -> str:
    return detect_by_columns(_SIGNATURES, columns, source, PREFERENCE_FORMATS, "preference")


def to_preference_rows(
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    source: str,
    *,
    on_bad: str = "error",
    shp_min_score_ratio: float = SHP_MIN_SCORE_RATIO,
    row_numbers: Iterable[int] | None = None,
) -> tuple[list[dict], PreferenceStats]:
    """Convert every row; `on_bad="drop"` counts malformed rows (by field and problem) instead of failing.
    `row_numbers`: each row's line in its file (blank lines counted); by default rows count from 1."""
    if fmt not in PREFERENCE_FORMATS:
        raise ValueError(f"unknown preference format {fmt!r}; expected one of {sorted(PREFERENCE_FORMATS)}")
    if on_bad not in ("error", "drop"):
        raise ValueError(f"on_bad must be 'error' or 'drop', got {on_bad!r}")
    convert = PREFERENCE_FORMATS[fmt]
    out, stats = [], PreferenceStats()
    numbers = row_numbers if row_numbers is not None else itertools.count(1)
    for row_no, row in zip(numbers, rows, strict=False):  # count() is endless
        stats.rows += 1
        try:
            if fmt == "shp":
                out.append(from_shp(row, source, row_no, min_score_ratio=shp_min_score_ratio))
            else:
                out.append(convert(row, source, row_no))
        except Tie as tie:
            stats.ties += 1
            stats.dropped[f"tie: {tie}"] += 1
        except BelowThreshold as low:
            stats.dropped[str(low)] += 1
        except DataFormatError as err:
            if on_bad == "error":
                raise
            stats.dropped[f"{err.field or 'row'}: {err.problem}"] += 1
    stats.pairs = len(out)
    return out, stats


def to_unpaired(pairs: Iterable[dict]) -> list[dict]:
    """Paired rows → KTO's unpaired rows: the chosen answer desirable, the rejected one not."""
    out = []
    for pair in pairs:
        out.append({"prompt": pair["prompt"], "completion": pair["chosen"], "label": True})
        out.append({"prompt": pair["prompt"], "completion": pair["rejected"], "label": False})
    return out


PAIRED_TRAINERS = ("dpo", "orpo")  # KTO takes either: pairs become a desirable and an undesirable row


def _check_shape(fmt: str, trainer: str | None, source: str) -> None:
    if trainer in PAIRED_TRAINERS and fmt == "unpaired":
        raise DataFormatError(
            source,
            None,
            "chosen",
            f"unpaired rows (prompt, completion, label): `trainer: {trainer}` needs pairs (prompt, chosen, "
            "rejected); use `trainer: kto` for unpaired rows",
        )


def load_preference_rows(
    source: str,
    *,
    split: str = "train",
    config: str | None = None,
    fmt: str = "auto",
    on_bad: str = "error",
    limit: int | None = None,
    shp_min_score_ratio: float = SHP_MIN_SCORE_RATIO,
    trainer: str | None = None,
) -> tuple[list[dict], PreferenceStats]:
    """A hub id or local file(s)/folder → (converted rows, stats). Local JSONL keeps its line numbers
    (blank lines counted) and a torn last line is an error, not a dropped row. With `trainer`, rows of
    the wrong shape for it (unpaired rows for DPO or ORPO) are one error here, before any model loads."""
    from tunebench.train.sources import read_parts

    rows_out, stats = [], PreferenceStats()
    for part in read_parts(source, split=split, config=config):
        if limit is not None:
            part = part.head(limit - len(rows_out))
        this_fmt = detect_preference_format(part.columns, part.name) if fmt == "auto" else fmt
        _check_shape(this_fmt, trainer, part.name)
        converted, part_stats = to_preference_rows(
            part.rows,
            this_fmt,
            part.name,
            on_bad=on_bad,
            shp_min_score_ratio=shp_min_score_ratio,
            row_numbers=part.numbers,
        )
        rows_out.extend(converted)
        stats.add(part_stats)
        if limit is not None and len(rows_out) >= limit:
            break
    stats.pairs = len(rows_out)
    return rows_out, stats
