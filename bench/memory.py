"""Peak memory of one benchmark arm: host RSS over the training window, and CUDA allocations.

`ru_maxrss` is process-wide and never goes down, so it cannot tell two arms apart. Each arm runs in
its own process, and the training window is measured on its own: Linux resets the peak-RSS mark
(VmHWM) when "5" is written to /proc/self/clear_refs; where that is refused, a thread samples
/proc/self/statm instead.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_mib() -> float | None:
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


class PeakMemory:
    """`with PeakMemory() as m: train()` then `m.result()`: MiB figures for the window only."""

    def __init__(self, sample_every_s: float = 0.02):
        self.sample_every_s = sample_every_s
        self.method = "none"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampled_peak = 0
        self._cuda = False
        self.start_rss_mib: float | None = None
        self.peak_rss_mib: float | None = None
        self.cuda: dict[str, float] = {}

    def _reset_hwm(self) -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return False
        return _status_kib("VmHWM") is not None

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                pages = int(Path("/proc/self/statm").read_text().split()[1])
                self._sampled_peak = max(self._sampled_peak, pages * _PAGE)
            except (OSError, ValueError, IndexError):
                return
            time.sleep(self.sample_every_s)

    def __enter__(self) -> PeakMemory:
        import torch

        self._cuda = torch.cuda.is_available()
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.cuda["start_allocated_mib"] = torch.cuda.memory_allocated() / 2**20
        self.start_rss_mib = rss_mib()
        if self._reset_hwm():
            self.method = "VmHWM reset via /proc/self/clear_refs"
        else:
            self.method = "sampling /proc/self/statm"
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_rss_mib = self._sampled_peak / 2**20 or None
        else:
            kib = _status_kib("VmHWM")
            self.peak_rss_mib = None if kib is None else kib / 1024
        if self._cuda:
            import torch

            torch.cuda.synchronize()
            self.cuda["peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
            self.cuda["peak_reserved_mib"] = torch.cuda.max_memory_reserved() / 2**20

    def result(self) -> dict:
        out = {
            "rss_method": self.method,
            "rss_at_start_mib": _round(self.start_rss_mib),
            "peak_rss_mib": _round(self.peak_rss_mib),
            "peak_rss_over_start_mib": _round(
                None
                if self.peak_rss_mib is None or self.start_rss_mib is None
                else self.peak_rss_mib - self.start_rss_mib
            ),
        }
        out.update({f"cuda_{k}": _round(v) for k, v in self.cuda.items()})
        return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)
