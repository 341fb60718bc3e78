"""Token counting and windowed step timing for one training arm.

Every micro-batch is counted as it is trained on (real tokens, token slots, sequences), so padding
is measured, not estimated. Time is measured in windows of whole optimizer steps after a warm-up;
between windows the arm can hand the CPU to another arm (the driver says "go"), so two arms on a
shared, noisy machine are measured side by side in alternating windows instead of minutes apart.
"""

from __future__ import annotations

import json
import statistics
import time

import torch
from transformers import TrainerCallback


def padding_fraction(real_tokens: int, token_slots: int) -> float:
    """Share of the token positions fed to the model that are padding."""
    return 0.0 if token_slots == 0 else 1.0 - real_tokens / token_slots


def batch_counts(inputs: dict) -> tuple[int, int, int]:
    """(real tokens, token slots, sequences) of one collated micro-batch.

    A padded batch says which slots are real through `attention_mask`; a padding-free (packed) batch
    has no mask and no padding: one row of examples whose `position_ids` restart at 0 for each.
    """
    ids = inputs["input_ids"]
    if "attention_mask" in inputs:
        return int(inputs["attention_mask"].sum()), ids.numel(), ids.shape[0]
    if "position_ids" in inputs:
        return ids.numel(), ids.numel(), int((inputs["position_ids"] == 0).sum())
    return ids.numel(), ids.numel(), ids.shape[0]


def counting_trainer_class(base):
    """`base` (SFTTrainer) whose training_step counts each micro-batch first; nothing else changes."""

    class Counting(base):
        bench_counts: dict

        def training_step(self, model, inputs, *args, **kwargs):
            real, slots, seqs = batch_counts(inputs)
            c = self.bench_counts
            c["real"] += real
            c["slots"] += slots
            c["seqs"] += seqs
            c["forwards"] += 1
            return super().training_step(model, inputs, *args, **kwargs)

    Counting.__name__ = f"Counting{base.__name__}"
    return Counting


def new_counts() -> dict:
    return {"real": 0, "slots": 0, "seqs": 0, "forwards": 0}


class Control:
    """The driver's side channel: the arm says what it finished, then waits for "go" (None: never waits)."""

    def __init__(self, read_fd: int | None = None, write_fd: int | None = None):
        self._r = open(read_fd, closefd=True) if read_fd is not None else None  # noqa: SIM115
        self._w = open(write_fd, "w", closefd=True) if write_fd is not None else None  # noqa: SIM115

    def send(self, event: str, **data) -> None:
        if self._w is not None:
            self._w.write(json.dumps({"event": event, **data}) + "\n")
            self._w.flush()

    def wait_go(self) -> None:
        if self._r is not None:
            line = self._r.readline()
            if line.strip() != "go":
                raise SystemExit(f"bench driver went away (got {line!r})")


class WindowTimer(TrainerCallback):
    """Warm-up steps, then `windows` timed windows of at least `window_s` seconds (whole steps each)."""

    def __init__(self, counts: dict, control: Control, warmup_steps: int, windows: int, window_s: float):
        self.counts, self.control = counts, control
        self.warmup_steps, self.n_windows, self.window_s = warmup_steps, windows, window_s
        self.windows: list[dict] = []
        self._start: tuple[int, float, dict] | None = None

    def _open_window(self, step: int) -> None:
        self.control.wait_go()
        self._start = (step, time.perf_counter(), dict(self.counts))

    def on_train_begin(self, args, state, control, **kwargs):
        self.control.send("ready")
        self.control.wait_go()

    def on_step_end(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # kernels run asynchronously: a step is over when the GPU says so
        now = time.perf_counter()
        if self._start is None:
            if state.global_step >= self.warmup_steps:
                self.control.send("warmed_up", steps=state.global_step)
                self._open_window(state.global_step)
            return control
        step0, t0, c0 = self._start
        if now - t0 < self.window_s:
            return control
        window = {
            "steps": state.global_step - step0,
            "seconds": now - t0,
            **{k: self.counts[k] - c0[k] for k in self.counts},
        }
        self.windows.append(window)
        self.control.send("window", index=len(self.windows), **window)
        if len(self.windows) >= self.n_windows:
            control.should_training_stop = True
        else:
            self._open_window(state.global_step)
        return control

    def summary(self) -> dict:
        if not self.windows:
            raise RuntimeError(f"no timed window after {self.warmup_steps} warm-up steps")
        return summarize_windows(self.windows)


def summarize_windows(windows: list[dict]) -> dict:
    """Totals over all windows plus the median of per-window rates."""
    total = {k: sum(w[k] for w in windows) for k in ("steps", "seconds", "real", "slots", "seqs", "forwards")}
    per_window = [w["real"] / w["seconds"] for w in windows]
    return {
        "windows": len(windows),
        "timed_steps": total["steps"],
        "timed_seconds": round(total["seconds"], 3),
        "trained_tokens": total["real"],
        "token_slots": total["slots"],
        "padding_fraction": round(padding_fraction(total["real"], total["slots"]), 4),
        "sequences": total["seqs"],
        "tokens_per_s": round(total["real"] / total["seconds"], 1),
        "median_window_tokens_per_s": round(statistics.median(per_window), 1),
        "window_tokens_per_s": [round(x, 1) for x in per_window],
        "sequences_per_s": round(total["seqs"] / total["seconds"], 2),
        "step_s": round(total["seconds"] / total["steps"], 4),
        "tokens_per_step": round(total["real"] / total["steps"], 1),
        "forwards_per_step": round(total["forwards"] / total["steps"], 2),
    }
