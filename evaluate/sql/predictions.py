"""Generate, execute and score, one JSON line per example, resumable.

`predictions.jsonl` gets one line per example as soon as it is scored (appended and flushed), so an
interrupted run loses at most one chunk of generation; a rerun skips the ids already there.
`predictions.meta.json` records what produced them (dataset, model, generation settings): a rerun
with different settings refuses to mix its answers into the old file (use --fresh).
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from tunebench.chat import ChatModel
from tunebench.data.jsonl import JsonlAppender, iter_jsonl
from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.scoring import Scorer
from tunebench.runs.atomic_io import atomic_write_json

METRICS_VERSION = 2  # 2: the `spider` metric (the official decision) is the headline


class ResumeMismatch(RuntimeError):
    pass


def _read_done(path: Path) -> dict[str, dict]:
    """Scored examples by id (`tunebench.data.jsonl`'s rule: a torn last line was never a record)."""
    return {row["id"]: row for _, row in iter_jsonl(path) if "id" in row}


def check_meta(out_dir: Path, meta: dict, fresh: bool) -> None:
    """Start over (fresh), resume (same settings) or refuse (different settings)."""
    meta_path, pred_path = out_dir / "predictions.meta.json", out_dir / "predictions.jsonl"
    if fresh:
        pred_path.unlink(missing_ok=True)
    elif meta_path.exists() and pred_path.exists():
        old = json.loads(meta_path.read_text()).get("signature") or {}
        new = json.loads(json.dumps(meta["signature"]))  # as it reads back from disk (tuples as lists)
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            raise ResumeMismatch(
                f"{pred_path} holds predictions made with other settings ({', '.join(changed)} differ): "
                "rerun with --fresh to replace them, or choose another --out"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(meta_path, meta)


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
