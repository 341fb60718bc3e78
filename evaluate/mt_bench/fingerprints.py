"""What produced an answer or a verdict, as a hash, so a rerun redoes exactly what changed.

An answer row records the fingerprint of its producer: for a folder, the bytes of its weights, config,
tokenizer and chat template; for a hub id, the snapshot's commit; for a server, the served model's
name; for an answer file, its content hash; each together with the generation settings (token limit,
the question's temperature, seed, system message). A judgment row records the hash of its inputs:
the judge model, the prompt's name and text, the question, the two answers' texts and the reference.

A row whose fingerprint no longer matches is stale: it is redone, and the old row is moved to a
`stale/` folder beside its file (kept, never deleted). Same inputs, no new call; new inputs, a new call.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from tunebench.data.jsonl import JsonlAppender
from tunebench.runs.atomic_io import atomic_write_jsonl

_CHUNK = 1 << 22
# Files of a model folder that do not change what it generates (the model card, training leftovers).
_IGNORED = {"README.md", "training_args.bin"}


def digest(value) -> str:
    """A short stable hash of any JSON-serialisable value."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def folder_digest(folder: Path) -> str:
    """Every file that shapes generation: weights, config, generation config, tokenizer, template."""
    folder = Path(folder)
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.name not in _IGNORED
    )
    return digest({p.name: file_digest(p) for p in files})


def model_fingerprint(
    kind: str, ref: str, *, served_name: str | None = None, revision: str | None = None
) -> dict:
    """What identifies the model itself (the settings are added per answer)."""
    if kind == "local":
        return {"kind": "folder", "files": folder_digest(Path(ref))}
    if kind == "hub":
        return {"kind": "hub", "id": ref, "revision": revision}
    if kind == "server":
        # `transformers serve` names a model by its folder: then the folder's files identify it too.
        local = Path(served_name) if served_name and served_name.startswith("/") else None
        files = folder_digest(local) if local is not None and local.is_dir() else None
        return {"kind": "server", "model": served_name, "files": files}
    return {"kind": "answers", "file": file_digest(Path(ref))}


def answer_fingerprint(model: dict, settings: dict) -> str:
    return digest({"model": model, "settings": settings})


def judgment_inputs(judge: str, match) -> str:
    """The hash of what a judge call sees. The two answers are taken in model-name order, so a pair
    judged the other way round (pairwise-all vs -baseline) has the same inputs."""
    from tunebench.evaluate.mt_bench.data import answer_turns

    answers = sorted(zip(match.models, (answer_turns(a) for a in match.answers), strict=True))
    return digest(
        {
            "judge": judge,
            "prompt": [match.prompt["name"], match.prompt["system_prompt"], match.prompt["prompt_template"]],
            "question": match.question["turns"],
            "answers": [turns for _, turns in answers],
            "reference": answer_turns(match.ref) if match.ref is not None else None,
            "multi_turn": match.multi_turn,
        }
    )


def answer_digest(answer: dict) -> str:
    """The hash of one answer row's turns: what a judgment row records of each answer it judged."""
    from tunebench.evaluate.mt_bench.data import answer_turns

    return digest(answer_turns(answer))


def set_aside(path: Path, stale: list[dict], keep: list[dict]) -> Path | None:
    """Move `stale` rows of `path` to stale/<name>.<time>.jsonl beside it; `path` keeps `keep`."""
    if not stale:
        return None
    aside = path.parent / "stale" / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    with JsonlAppender(aside) as out:  # appended: two set-asides in one second both survive
        for row in stale:
            out.write(row)
    atomic_write_jsonl(path, keep)
    return aside


def stale_files(path: Path) -> list[Path]:
    """The files `set_aside` wrote for `path`, oldest first (stale/<name>.<YYYYmmdd-HHMMSS>.jsonl)."""
    folder = path.parent / "stale"
    pattern = re.compile(re.escape(path.stem) + r"\.\d{8}-\d{6}\.jsonl")
    return sorted(p for p in folder.glob("*.jsonl") if pattern.fullmatch(p.name)) if folder.is_dir() else []
