"""`make serve`'s launcher: `transformers serve` + the app, both stopped by Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from gradio_client import Client

from tunebench.local_server import free_port

pytestmark = pytest.mark.slow  # serves the model fine-tuned in this session


def read_until(proc: subprocess.Popen, pattern: str, timeout_s: float) -> tuple[re.Match, str]:
    deadline, seen = time.monotonic() + timeout_s, ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
        if m := re.search(pattern, seen):
            return m, seen
    raise AssertionError(f"{pattern!r} not printed in {timeout_s:.0f} s; output so far:\n{seen}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_launch_local_serves_the_model_and_stops_on_ctrl_c(trained_run, embedded):
    port = free_port()
    cmd = [sys.executable, "-m", "tunebench.serve", "--launch-local", str(trained_run.merged)]
    cmd += ["--port", str(port), "--data-dir", str(embedded.data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        backend, _ = read_until(
            proc, r"backend: openai · model: (\S+) · http://127\.0\.0\.1:(\d+)/v1 · live", 180
        )
        read_until(proc, rf"tunebench demo: http://127\.0\.0\.1:{port}", 30)
        assert backend.group(1) == str(trained_run.merged)
        server_port = int(backend.group(2))
        health = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(api_name="/health")
        assert "**live**" in health and str(trained_run.merged) in health
        proc.send_signal(signal.SIGINT)
        _, tail = read_until(proc, "stopped the app and transformers serve", 60)
        assert proc.wait(timeout=30) == 0, tail
        assert not port_open(port) and not port_open(server_port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
