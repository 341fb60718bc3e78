"""Score a model while it trains: execution accuracy on the held-out questions every so many seconds.

`AccuracyProbe` is a TrainerCallback. The training clock runs from `on_train_begin` (so a compile on
the first step counts, as a user waits for it) and stops while a probe scores the model: what is
reported is training time to a target accuracy, not evaluation time. A probe saves the model as it
is (adapter + tokenizer) and scores that folder with the SQL stage's command line,
`python -m tunebench.evaluate.sql`, in a child process: the same generation, sandbox and metric as
`make eval-sql`, and nothing of the stage's internals imported here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

REPO = Path(__file__).resolve().parents[1]


class ScoreFailed(RuntimeError):
    pass


def exec_accuracy(summary: dict) -> float:
    """The one model's execution accuracy in an evaluation's summary.json."""
    models = summary.get("models") or {}
    if len(models) != 1:
        raise ScoreFailed(f"expected one model in summary.json, found {sorted(models)}")
    value = next(iter(models.values())).get("exec_accuracy")
    return float(value or 0.0)


def score_folder(
    model_dir: Path, data_dir: Path, out_dir: Path, *, threads: int, limit: int | None, extra: list[str] = ()
) -> float:
    """Execution accuracy of a saved model on the embedded held-out split, through the SQL stage's CLI
    (`extra`: more of its flags, say `--dtype bfloat16`)."""
    cmd = [sys.executable, "-m", "tunebench.evaluate.sql", "--model", str(model_dir), "--out", str(out_dir)]
    cmd += ["--dataset", "embedded", "--data-dir", str(data_dir), "--split", "test", "--fresh", *extra]
    if limit:
        cmd += ["--limit", str(limit)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    summary = out_dir / "summary.json"
    if done.returncode != 0 or not summary.exists():
        tail = (done.stderr or done.stdout)[-1500:]
        raise ScoreFailed(f"evaluate.sql exit {done.returncode} on {model_dir}:\n{tail}")
    return exec_accuracy(json.loads(summary.read_text()))


def save_for_scoring(model, tokenizer, folder: Path) -> Path:
    """The model as it is now (a LoRA adapter, or the full model) with its tokenizer, in `folder`."""
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


class AccuracyProbe(TrainerCallback):
    """Every `every_s` training seconds (at a step boundary), and at the last step: score, record,
    stop at `target` or once `budget_s` training seconds are spent."""

    def __init__(
        self,
        score: Callable[[object, object, int], float],
        *,
        every_s: float,
        target: float,
        budget_s: float,
        on_probe: Callable[[dict], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.score, self.every_s, self.target, self.budget_s = score, every_s, target, budget_s
        self.on_probe, self.clock = on_probe, clock
        self.probes: list[dict] = []
        self.reached: dict | None = None
        self._t0 = self._paused = self._next = 0.0

    def train_seconds(self) -> float:
        return self.clock() - self._t0 - self._paused

    def on_train_begin(self, args, state, control, **kwargs):
        self._t0, self._paused, self._next = self.clock(), 0.0, self.every_s

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        t = self.train_seconds()
        last = state.max_steps > 0 and state.global_step >= state.max_steps
        if t < self._next and t < self.budget_s and not last:
            return control
        start = self.clock()
        accuracy = self.score(model, processing_class, state.global_step)
        eval_s = self.clock() - start
        self._paused += eval_s
        probe = {
            "step": state.global_step,
            "train_s": round(t, 2),
            "accuracy": round(accuracy, 4),
            "eval_s": round(eval_s, 2),
        }
        self.probes.append(probe)
        if self.on_probe:
            self.on_probe(probe)
        self._next = t + self.every_s
        if accuracy >= self.target:
            self.reached = probe
            control.should_training_stop = True
        elif t >= self.budget_s:
            control.should_training_stop = True
        return control

    def summary(self) -> dict:
        best = max(self.probes, key=lambda p: p["accuracy"], default=None)
        return {
            "target": self.target,
            "reached": self.reached is not None,
            "time_to_target_s": self.reached["train_s"] if self.reached else None,
            "step_at_target": self.reached["step"] if self.reached else None,
            "best_accuracy": best["accuracy"] if best else None,
            "best_at_s": best["train_s"] if best else None,
            "probes": self.probes,
        }
