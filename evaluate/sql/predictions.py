"""Generate, execute and score, one JSON line per example, resumable.

`predictions.jsonl` gets one line per example as soon as it is scored (appended and flushed), so an
interrupted run loses at most one chunk of generation; a rerun skips the ids already there.
`predictions.meta.json` records what produced them (dataset, model, generation, execution limits,
metrics). The evaluators' rerun rule (`tunebench.evaluate.conventions`): predictions made with other
settings never mix in; they move to `stale/<settings hash>/` and are made again, and predictions set
aside earlier whose settings match again are brought back instead of redone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from tqdm.auto import tqdm

from tunebench.chat import ChatModel
from tunebench.data.jsonl import JsonlAppender, iter_jsonl
from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.scoring import Scorer
from tunebench.runs.atomic_io import atomic_write_json

METRICS_VERSION = 2  # 2: the `spider` metric (the official decision) is the headline


def _read_done(path: Path) -> dict[str, dict]:
    """Scored examples by id (`tunebench.data.jsonl`'s rule: a torn last line was never a record)."""
    return {row["id"]: row for _, row in iter_jsonl(path) if "id" in row}


FILES = ("predictions.jsonl", "predictions.meta.json")


def _settings_hash(signature: dict) -> str:
    text = json.dumps(signature, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _move(src_dir: Path, dst_dir: Path) -> None:
    """The prediction files of `src_dir` into `dst_dir`; rows already there are kept (the same settings
    both times, so an id in both is the same answer)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    src, dst = src_dir / FILES[0], dst_dir / FILES[0]
    if dst.exists():
        have = _read_done(dst)
        with JsonlAppender(dst) as out:
            for row in _read_done(src).values():
                if row["id"] not in have:
                    out.write(row)
        src.unlink()
    elif src.exists():
        shutil.move(src, dst)
    if (src_dir / FILES[1]).exists():
        shutil.move(src_dir / FILES[1], dst_dir / FILES[1])


def check_meta(out_dir: Path, meta: dict, fresh: bool) -> list[str]:
    """Resume (same settings), or set the old predictions aside (other settings, or `fresh`) and bring
    back any set aside earlier with these settings (not when `fresh`). Returns what it did, one line
    each, for the user."""
    meta_path, pred_path = out_dir / FILES[1], out_dir / FILES[0]
    new = json.loads(json.dumps(meta["signature"]))  # as it reads back from disk (tuples as lists)
    said = []
    old = json.loads(meta_path.read_text()).get("signature") if meta_path.exists() else None
    if pred_path.exists() and (fresh or (old or {}) != new):
        aside = out_dir / "stale" / _settings_hash(old or {})
        changed = sorted(k for k in set(old or {}) | set(new) if (old or {}).get(k) != new.get(k))
        why = (
            "--fresh" if fresh and not changed else f"made with other settings ({', '.join(changed)} differ)"
        )
        _move(out_dir, aside)
        said.append(f"predictions {why}: set aside in {aside}; scoring again")
    back = out_dir / "stale" / _settings_hash(new)
    if not fresh and not pred_path.exists() and (back / FILES[0]).exists():
        _move(back, out_dir)
        shutil.rmtree(back, ignore_errors=True)
        said.append(
            f"brought back {len(_read_done(pred_path))} predictions made with these settings from {back}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(meta_path, meta)
    return said


def predict_and_score(
    examples: list[SqlExample],
    model: ChatModel,
    scorer: Scorer,
    out_dir: Path,
    *,
    chunk_size: int = 64,
    label: str = "model",
) -> list[dict]:
    """Records for `examples` (in their order), generating only those not scored before."""
    pred_path = out_dir / "predictions.jsonl"
    done = _read_done(pred_path)
    todo = [ex for ex in examples if ex.id not in done]
    if done:
        print(f"[{label}] resuming: {len(examples) - len(todo)} of {len(examples)} examples already scored")
    # One bar for the slow part, generation: it moves with every batch answered (every request, for a
    # server), so tqdm's rate and ETA mean something from the first batch; the running score follows it.
    right = 0
    with (
        JsonlAppender(pred_path) as out,
        tqdm(total=len(todo), desc=f"{label}: answered", unit="q", dynamic_ncols=True) as bar,
    ):
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            answers = model.generate([ex.messages() for ex in chunk], on_done=bar.update)
            for ex, answer in zip(chunk, answers, strict=True):
                record = scorer.score(ex, answer)
                out.write(record)
                done[ex.id] = record
                right += bool(record.get("exec_match"))
            bar.set_postfix_str(f"{right} of {start + len(chunk)} right")
    return [done[ex.id] for ex in examples]
