"""`make serve` looks after its model server (serve/supervisor.py), tested on a real `transformers serve`
of the embedded tiny base (no training needed):

- killed (SIGKILL) or frozen (SIGSTOP), the server is replaced on the same port after the configured
  backoff, the old process is reaped (no `<defunct>`), and meanwhile the app says "restarting";
- when restarts keep failing (its port taken), the supervisor gives up and says so, and the app exits
  with that line.

Waits are bounded by HANG_S only. How long each incident took to reach a clear state ("restarting"
in the app) and to be live again is measured, printed and written to artifacts/serve/supervisor.json
(docs/serve.md quotes it); nothing asserts a time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from gradio_client import Client

from tests.browser.conftest import artifacts_dir
from tests.conftest import HANG_S
from tests.serve.test_app_cli import launch_local, port_open, read_until, stop
from tunebench.chat.local_server import free_port
from tunebench.serve.supervisor import ServerSupervisor, SupervisorConfig

pytestmark = pytest.mark.slow  # starts `transformers serve` several times


def reaped(pid: int) -> bool:
    """Gone, not a zombie: the supervisor (its parent) waited on it, so nothing is left `<defunct>`."""
    return not Path(f"/proc/{pid}").exists()


def wait_for(condition, what: str):
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def health(client: Client) -> dict:
    return client.predict(api_name="/health")


@pytest.fixture(scope="module")
def served_app(embedded):
    """`python -m tunebench.serve --launch-local` as `make serve` runs it, on chosen ports."""
    proc, port, model_port = launch_local(embedded, embedded.base_dir)
    try:
        started, _ = read_until(proc, r"model server: pid (\d+), restarted when", HANG_S)
        read_until(proc, rf"tunebench demo: http://127\.0\.0\.1:{port}", HANG_S)
        yield proc, Client(f"http://127.0.0.1:{port}/", verbose=False), model_port, int(started.group(1))
    finally:
        stop(proc)


def incident(proc, client: Client, model_port: int, pid: int, sig: signal.Signals) -> dict:
    """Send `sig` to the model server; follow the app to "restarting" and back to live."""
    began = time.monotonic()
    os.kill(pid, sig)
    restarting = wait_for(
        lambda: (h := health(client))["detail"].startswith("restarting: ") and h, "restarting"
    )
    said_at = time.monotonic() - began
    back, seen = read_until(proc, r"model server: back \(pid (\d+)\) ([\d.]+) s after it", HANG_S)
    live = wait_for(lambda: (h := health(client))["live"] and h, "live again")
    new_pid = int(back.group(1))
    assert new_pid != pid and port_open(model_port)
    assert wait_for(lambda: reaped(pid), "the old server reaped")
    return {
        "restarting": restarting["detail"],
        "log": [ln for ln in seen.splitlines() if ln.startswith("model server:")],
        "seconds_to_restarting_in_the_app": round(said_at, 2),
        "seconds_to_live_in_the_supervisor": float(back.group(2)),
        "seconds_to_live_in_the_app": round(time.monotonic() - began, 2),
        "live": live["live"],
        "new_pid": new_pid,
    }


def test_killed_and_frozen_model_servers_are_replaced(served_app):
    proc, client, model_port, pid = served_app
    assert wait_for(lambda: health(client)["live"], "live at first")
    config = SupervisorConfig()
    killed = incident(proc, client, model_port, pid, signal.SIGKILL)
    # "… restart 1 of 5 in 1 s", then "… restart 1 of 5 under way": either, as the poll meets it
    assert killed["restarting"].startswith(
        f"restarting: the model server was killed by SIGKILL; restart 1 of {len(config.backoff_s)} "
    )
    # a question while it restarts would be told so at once; now it is back, it is answered
    answer = client.predict(question="How many students are there?", database="school", api_name="/ask")
    assert answer["failure"] in (None, "sql", "model") and answer["state"] in ("done", "error")
    assert "restarting" not in answer["message"]
    frozen = incident(proc, client, model_port, killed["new_pid"], signal.SIGSTOP)
    assert frozen["restarting"].startswith(
        f"restarting: the model server did not answer /health for {config.freeze_after_s:g} s (frozen?)"
    )
    out = artifacts_dir().parent / "serve" / "supervisor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    load = [round(x, 2) for x in os.getloadavg()]
    out.write_text(json.dumps({"killed": killed, "frozen": frozen, "loadavg_at_end": load}, indent=2) + "\n")
    for name, row in (("killed", killed), ("frozen", frozen)):
        print(
            f"{name}: 'restarting' in the app after {row['seconds_to_restarting_in_the_app']} s, live again after "
            f"{row['seconds_to_live_in_the_app']} s (load average {load[0]} on {os.cpu_count()} CPUs)"
        )
    proc.send_signal(signal.SIGINT)  # Ctrl-C still stops both
    read_until(proc, "stopped the app and transformers serve", HANG_S)
    assert proc.wait(timeout=HANG_S) == 0 and not port_open(model_port)


def test_the_supervisor_gives_up_and_says_so(embedded, tmp_path):
    """Restarts that keep failing (the model folder gone: each new server exits) end in "stopped"."""
    config = SupervisorConfig(backoff_s=(0.1, 0.1), ready_timeout_s=HANG_S)
    lines = tmp_path / "supervisor.out"
    with open(lines, "w") as out:
        supervisor = ServerSupervisor(
            embedded.base_dir, free_port(), log_path=tmp_path / "server.log", config=config, out=out
        )
        supervisor.start()
        try:
            first = supervisor.pid
            supervisor.model_dir = str(tmp_path / "deleted-model")  # as if the folder were removed
            os.kill(first, signal.SIGKILL)
            assert supervisor.gave_up.wait(HANG_S)
            assert supervisor.state == (
                f"stopped: the model server did not come back after 2 restarts; its log: {tmp_path / 'server.log'}"
            )
            assert wait_for(lambda: reaped(first), "the first server reaped")
        finally:
            supervisor.close()
    said = lines.read_text().splitlines()
    assert said[0].startswith(
        "model server: restarting: the model server was killed by SIGKILL; restart 1 of 2"
    )
    assert said[-1] == f"model server: {supervisor.state}"
    assert re.search(r"restart 2 of 2", "\n".join(said))
