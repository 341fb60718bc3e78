"""Run benchmark arms as child processes and schedule their timed windows.

All arms start together (loading and tokenizing are not timed, so they may overlap), then take turns:
`interleave=True` gives each arm one window in rotation (a shared, noisy CPU: arms measured side by
side), `interleave=False` runs one arm's windows to the end before the next starts (a dedicated GPU:
one arm's activations on the device at a time). An arm that crashes is reported, not fatal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]


class ArmFailed(RuntimeError):
    pass


class ArmProcess:
    def __init__(self, spec: dict, workdir: Path, log_path: Path):
        self.name = spec["name"]
        self.log_path = log_path
        self.out_path = workdir / f"{self.name}.result.json"
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        spec = {**spec, "ctl_read_fd": to_child_r, "ctl_write_fd": from_child_w}
        spec_path = workdir / f"{self.name}.spec.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.train_arms", str(spec_path), str(self.out_path)],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._to = os.fdopen(to_child_w, "w")
        self._from = os.fdopen(from_child_r, "r")
        self.failed: str | None = None

    def expect(self, event: str) -> dict:
        line = self._from.readline()
        if not line:
            self.proc.wait()
            self.failed = (
                f"exit code {self.proc.returncode} before '{event}'; log {self.log_path}:\n{self.log_tail()}"
            )
            raise ArmFailed(self.failed)
        data = json.loads(line)
        if data.get("event") != event:
            raise ArmFailed(f"{self.name}: expected {event}, got {data}")
        return data

    def go(self) -> None:
        try:
            self._to.write("go\n")
            self._to.flush()
        except BrokenPipeError as err:
            self.proc.wait()
            self.failed = f"exit code {self.proc.returncode}; log {self.log_path}:\n{self.log_tail()}"
            raise ArmFailed(self.failed) from err

    def finish(self, timeout: float = 600) -> dict:
        self.proc.wait(timeout=timeout)
        self._log.close()
        if self.proc.returncode != 0 or not self.out_path.exists():
            self.failed = f"exit code {self.proc.returncode}; log {self.log_path}:\n{self.log_tail()}"
            raise ArmFailed(self.failed)
        return json.loads(self.out_path.read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log.closed:
            self._log.close()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text()[-chars:]
        except OSError:
            return ""


def run_arms(specs: list[dict], workdir: Path, log_dir: Path, *, interleave: bool, label: str = "") -> dict:
    """{arm name: result dict, or {"error": text}} for every spec."""
    arms = [ArmProcess(s, workdir, log_dir / f"{s['name']}.log") for s in specs]
    n_windows = specs[0]["windows"]
    results: dict[str, dict] = {}

    def attempt(arm: ArmProcess, fn) -> bool:
        if arm.failed:
            return False
        try:
            fn()
            return True
        except ArmFailed:
            arm.kill()
            results[arm.name] = {"error": arm.failed}
            return False

    bar = tqdm(total=len(arms) * (n_windows + 2), desc=f"{label} arms", unit="phase")
    for arm in arms:
        attempt(arm, lambda a=arm: a.expect("ready"))
        bar.update(1)

    def warm_up(arm: ArmProcess) -> None:
        arm.go()
        arm.expect("warmed_up")

    def window(arm: ArmProcess) -> None:
        arm.go()
        arm.expect("window")

    try:
        if interleave:
            for arm in arms:
                attempt(arm, lambda a=arm: warm_up(a))
                bar.update(1)
            for w in range(n_windows):
                # alternate the order so no arm always runs right after the same neighbour
                for arm in arms if w % 2 == 0 else list(reversed(arms)):
                    attempt(arm, lambda a=arm: window(a))
                    bar.update(1)
        else:
            for arm in arms:
                attempt(arm, lambda a=arm: warm_up(a))
                bar.update(1)
                for _ in range(n_windows):
                    attempt(arm, lambda a=arm: window(a))
                    bar.update(1)
        for arm in arms:
            if not arm.failed:
                try:
                    results[arm.name] = arm.finish()
                except ArmFailed:
                    results[arm.name] = {"error": arm.failed}
    finally:
        bar.close()
        for arm in arms:
            arm.kill()
    return {s["name"]: results.get(s["name"], {"error": "no result"}) for s in specs}
