"""`python -m tunebench.serve` as a user starts it, with the model named by one spec: the merged folder
(loaded in the app's process), the URL of a running `transformers serve`, and `--launch-local` (what
`make serve` runs: `transformers serve` + the app, both stopped by Ctrl-C)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from gradio_client import Client

from tests.conftest import HANG_S
from tunebench.chat.local_server import free_port

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


def start_app(embedded, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "tunebench.serve",
        *args,
        "--port",
        str(port),
        "--data-dir",
        str(embedded.data_dir),
    ]
    env = {k: v for k, v in os.environ.items() if k != "TUNEBENCH_MODEL"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM first: the app then stops the model server it started (SIGKILL would orphan it)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("where", ["folder", "transformers-serve"])
def test_app_answers_with_the_model_a_spec_names(where, trained_run, tiny_server, embedded):
    spec = str(trained_run.merged) if where == "folder" else f"{tiny_server.base_url}#{tiny_server.model}"
    location = "in this process" if where == "folder" else tiny_server.base_url
    proc, port = start_app(embedded, "--model", spec)
    run = trained_run.root.name  # the stable name: the run, whichever way it is reached
    try:
        read_until(proc, rf"model: {re.escape(run)} · {re.escape(location)} · live", HANG_S)
        read_until(proc, rf"tunebench demo: http://127\.0\.0\.1:{port}", HANG_S)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        answer = client.predict(question="How many students are there?", database="school", api_name="/ask")
        assert answer["model"] == run and answer["sql"], answer  # the model wrote SQL, and it was run
        assert answer["ok"] or answer["failure"] == "sql", answer
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG_S) == 0
    finally:
        stop(proc)


def launch_local(embedded, model_dir) -> tuple[subprocess.Popen, int, int]:
    """What `make serve` runs: the app and its supervised `transformers serve`, on chosen ports."""
    model_port = free_port()
    proc, port = start_app(
        embedded, "--model", str(model_dir), "--launch-local", "--model-port", str(model_port)
    )
    return proc, port, model_port


def test_launch_local_serves_the_model_and_stops_on_ctrl_c(trained_run, embedded):
    proc, port, model_port = launch_local(embedded, trained_run.merged)
    try:
        served, _ = read_until(proc, r"model: (\S+) · http://127\.0\.0\.1:(\d+)/v1 · live", HANG_S)
        read_until(proc, rf"tunebench demo: http://127\.0\.0\.1:{port}", HANG_S)
        # the run's name, not a URL with a port; the server on the port asked for
        assert served.group(1) == trained_run.root.name and int(served.group(2)) == model_port
        server_port = model_port
        health = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(api_name="/health")
        assert health["live"] and health["model"] == trained_run.root.name
        proc.send_signal(signal.SIGINT)
        _, tail = read_until(proc, "stopped the app and transformers serve", HANG_S)
        assert proc.wait(timeout=HANG_S) == 0, tail
        assert not port_open(port) and not port_open(server_port)
    finally:
        stop(proc)


def test_a_spec_that_names_nothing_is_one_line(tmp_path, embedded):
    proc, _ = start_app(embedded, "--model", str(tmp_path / "nothing-here"))
    out, _ = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 2 and "no such folder" in out and "Traceback" not in out
