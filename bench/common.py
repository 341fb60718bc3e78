"""Shared results writer for the bench/ scripts: one JSON per benchmark, one markdown summary for all.

`write_result("train_throughput", result)` writes bench/results/train_throughput.json atomically and
rebuilds bench/results/summary.md from every results JSON, so scripts run in any order (or alone)
leave a consistent table. A result dict may carry `summary_rows`: a list of
{"figure": str, "value": str, "note": str} shown in the table; machine, date and command are added
here so every figure says where and how it was measured.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import sys
from pathlib import Path

from tunebench.runs.atomic_io import atomic_write_json, atomic_write_text

RESULTS_DIR = Path(os.environ.get("TUNEBENCH_BENCH_RESULTS", Path(__file__).resolve().parent / "results"))


def machine() -> str:
    """A one-line description of this machine (CPU model and cores, GPU when torch sees one)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    desc = f"{cpu}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            desc += f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return desc


def command_line() -> str:
    """How this process was started, as a user would type it: `python -m bench.x …` or `python bench/x.py …`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        head = ["python", "-m", spec.name]
    else:
        script = Path(sys.argv[0]).resolve()
        cwd = Path.cwd()
        head = ["python", str(script.relative_to(cwd) if script.is_relative_to(cwd) else script)]
    return shlex.join([*head, *sys.argv[1:]])


def write_result(name: str, result: dict, results_dir: Path | None = None) -> Path:
    """Write `<results_dir>/<name>.json` (with machine/date/command added) and refresh summary.md."""
    out_dir = Path(results_dir or RESULTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": name,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": command_line(),
        **result,
    }
    path = out_dir / f"{name}.json"
    atomic_write_json(path, result)
    write_summary(out_dir)
    return path


def write_summary(results_dir: Path | None = None) -> Path:
    """bench/results/summary.md: one row per summary figure of every results JSON."""
    out_dir = Path(results_dir or RESULTS_DIR)
    lines = [
        "# tunebench benchmark results",
        "",
        "| benchmark | figure | value | note | machine | date | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted(out_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a results file another script is writing right now, or not ours
        for row in data.get("summary_rows", []):
            cells = [
                data.get("benchmark", path.stem),
                row.get("figure", ""),
                row.get("value", ""),
                row.get("note", ""),
                data.get("machine", ""),
                data.get("date", ""),
                f"`{data.get('command', '')}`",
            ]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    path = out_dir / "summary.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
