"""Start `transformers serve` on 127.0.0.1 for a local model: OpenAI-compatible, CPU or GPU.

Used by `make serve` on machines without TGI/vLLM, by the demo and by tests that need a real
server. The model name in requests is the folder path (that is how `transformers serve` names it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tunebench.chat.openai_compat import Endpoint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http_ok(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s")


def serve_command(model_dir: str | Path, port: int, device: str = "cpu") -> list[str]:
    exe = Path(sys.executable).with_name("transformers")
    return [str(exe), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", device]


def start_server(model_dir: str | Path, port: int, *, device: str = "cpu", log=None) -> subprocess.Popen:
    """Start `transformers serve MODEL` on 127.0.0.1:`port` (not waiting for it); `log`: an open file."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.Popen(
        serve_command(model_dir, port, device),
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=env,
    )


def stop_server(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; a stopped (SIGSTOP) process is continued to receive it."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def transformers_serve(
    model_dir: str | Path,
    *,
    port: int | None = None,
    device: str = "cpu",
    ready_timeout_s: float = 120.0,
    log_path: Path | None = None,
) -> Iterator[Endpoint]:
    """Run `transformers serve MODEL` until the block exits; yields its `Endpoint`."""
    port = port or free_port()
    log = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed below
    proc = start_server(model_dir, port, device=device, log=log)
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/health", ready_timeout_s, proc)
        yield Endpoint(base_url=f"http://127.0.0.1:{port}/v1", model=str(model_dir))
    finally:
        stop_server(proc)
        if log is not None:
            log.close()
