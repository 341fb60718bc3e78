"""Generate, execute and score, one JSON line per example, resumable.

`predictions.jsonl` gets one line per example as soon as it is scored (appended and flushed), so an
interrupted run loses at most one chunk of generation; a rerun skips the ids already there.
`predictions.meta.json` records what produced them (dataset, model, generation settings): a rerun
with different settings refuses to mix its answers into the old file (use --fresh).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tqdm.auto import tqdm

from tunebench.atomic_io import atomic_write_json
from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.generate import Backend
from tunebench.evaluate.sql.metrics import exact_match, order_matters, raw_match, score_execution
from tunebench.sql_exec import SqlResult
from tunebench.sql_sandbox import SqlSandbox
from tunebench.sql_schema import column_names
from tunebench.sql_text import extract_sql

STORED_ROWS = 20  # rows of each result kept in predictions.jsonl (scores use all of them)
METRICS_VERSION = 1


class ResumeMismatch(RuntimeError):
    pass


def _jsonable(value):
    return f"x'{value.hex()}'" if isinstance(value, bytes) else value


def result_json(result: SqlResult) -> dict:
    data = result.to_json()
    data["row_count"] = len(result.rows)
    data["rows"] = [[_jsonable(v) for v in row] for row in result.rows[:STORED_ROWS]]
    return data


def _read_done(path: Path) -> dict[str, dict]:
    """Scored examples by id; a torn last line (killed mid-write) is dropped and the file rewritten."""
    if not path.exists():
        return {}
    done, torn = {}, False
    with open(path) as f:
        for line in f:
            try:
                rec = json.loads(line)
                done[rec["id"]] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                torn = True
    if torn:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in done.values())
        os.replace(tmp, path)
    return done


class Scorer:
    """Runs gold and predicted SQL in one sandbox; gold results are cached (both models share them)."""

    def __init__(self, sandbox: SqlSandbox, *, timeout_s: float, max_rows: int):
        self.sandbox, self.timeout_s, self.max_rows = sandbox, timeout_s, max_rows
        self._gold: dict[tuple[str, str], SqlResult] = {}
        self._columns: dict[str, set[str] | None] = {}

    def run(self, db_path: str, sql: str) -> SqlResult:
        return self.sandbox.execute(db_path, sql, timeout_s=self.timeout_s, max_rows=self.max_rows)

    def gold(self, ex: SqlExample) -> SqlResult:
        key = (ex.db_path, ex.query)
        if key not in self._gold:
            self._gold[key] = self.run(ex.db_path, ex.query)
        return self._gold[key]

    def score(self, ex: SqlExample, raw_output: str) -> dict:
        prediction = extract_sql(raw_output)
        gold = self.gold(ex)
        pred = self.run(ex.db_path, prediction) if prediction else SqlResult(error="empty prediction")
        ordered = order_matters(ex.query)
        gold_json, pred_json = gold.to_json(), pred.to_json()
        match, outcome = score_execution(gold_json, pred_json, ordered)
        if ex.schema not in self._columns:
            self._columns[ex.schema] = column_names(ex.schema)
        return {
            "id": ex.id,
            "db_id": ex.db_id,
            "question": ex.question,
            "gold": ex.query,
            "prediction": prediction,
            "raw_output": raw_output,
            "difficulty": ex.difficulty,
            "template": ex.template,
            "seen_combo": ex.seen_combo,
            "order_matters": ordered,
            "exec_match": match,
            "exec_outcome": outcome,
            "exact_match": exact_match(ex.query, prediction, self._columns[ex.schema]),
            "raw_match": raw_match(ex.query, raw_output),
            "gold_empty": gold.ok and not gold.rows,
            "gold_result": result_json(gold),
            "pred_result": result_json(pred),
        }


def check_meta(out_dir: Path, meta: dict, fresh: bool) -> None:
    """Start over (fresh), resume (same settings) or refuse (different settings)."""
    meta_path, pred_path = out_dir / "predictions.meta.json", out_dir / "predictions.jsonl"
    if fresh:
        pred_path.unlink(missing_ok=True)
    elif meta_path.exists() and pred_path.exists():
        old = json.loads(meta_path.read_text())
        if old.get("signature") != meta["signature"]:
            raise ResumeMismatch(
                f"{pred_path} holds predictions made with other settings:\n  before: {old.get('signature')}\n"
                f"  now:    {meta['signature']}\nrerun with --fresh to replace them, or choose another --out"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(meta_path, meta)


def predict_and_score(
    examples: list[SqlExample],
    backend: Backend,
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
    with open(pred_path, "a") as f, tqdm(total=len(todo), desc=f"{label}: scored", unit="q") as bar:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            answers = backend.generate([ex.messages() for ex in chunk])
            for ex, answer in zip(chunk, answers, strict=True):
                record = scorer.score(ex, answer)
                f.write(json.dumps(record) + "\n")
                f.flush()
                done[ex.id] = record
                bar.update(1)
    return [done[ex.id] for ex in examples]
