"""The steps of the container smoke test (tests/docker/test_smoke.py): a Docker engine that answers,
the CPU compose project on its own volumes, timed commands, image sizes. Nothing here runs without
an engine; `engine_problem()` says why not in one line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.docker.conftest import REPO, tool

PROJECT = "tunebench-smoke"  # its own volumes: a fresh `models` volume, removed at the end
IMAGES = {
    "serve": "tunebench-serve:latest",
    "train": "tunebench-train:latest",
    "eval": "tunebench-eval:latest",
}
LOCAL_BASE = "local/python:bookworm"


def docker() -> str | None:
    return shutil.which("docker")


def engine_problem() -> str | None:
    """None when a Docker engine answers, else the reason in one line."""
    if not docker():
        return "no docker CLI on PATH (docs/docker.md: start an engine, then make docker-smoke)"
    proc = subprocess.run(
        [docker(), "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, timeout=30
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no answer"])[0]
        return f"no Docker engine answers ({first}); docs/docker.md says how to start one"
    return None


def has_bridge_network() -> bool:
    """False on an engine started with --bridge=none: the containers then use the host network."""
    proc = subprocess.run([docker(), "network", "inspect", "bridge"], capture_output=True, text=True)
    return proc.returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def image_size_mb(image: str) -> float:
    out = subprocess.run(
        [docker(), "image", "inspect", "--format", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return round(int(out.strip()) / 1e6, 1)


def image_has(image: str, module: str) -> bool:
    """Whether `module` imports in the image (its own python, no volumes)."""
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    proc = subprocess.run(
        [docker(), "run", "--rm", "--network", "host", image, "python", "-c", code], capture_output=True
    )
    return proc.returncode == 0


@dataclass
class Smoke:
    """The CPU demo as a compose project of its own, with timed steps."""

    app_port: int
    server_port: int
    hostnet: bool
    log_dir: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            COMPOSE_PROJECT_NAME=PROJECT,
            APP_PORT=str(self.app_port),
            CPU_SERVER_PORT=str(self.server_port),
            # a short training: the smoke checks the path, not the model's accuracy
            DEMO_TRAIN_ARGS=os.environ.get("SMOKE_TRAIN_ARGS", "--max_steps=200"),
        )
        return env

    @property
    def make_vars(self) -> list[str]:
        return ["SERVER=cpu", f"HOSTNET={int(self.hostnet)}", f"COMPOSE={tool('docker-compose')}"]

    def compose_cmd(self) -> list[str]:
        files = ["compose.yaml", "compose.cpu.yaml"] + (["compose.hostnet.yaml"] if self.hostnet else [])
        cmd = [tool("docker-compose"), "-p", PROJECT]
        for f in files:
            cmd += ["-f", f]
        return cmd

    def run(
        self, step: str, cmd: list[str], *, timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run one step, its output logged to log_dir/<step>.log, its wall time recorded."""
        start = time.monotonic()
        log = self.log_dir / f"{step}.log"
        with log.open("w") as out:
            proc = subprocess.run(
                cmd, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=timeout
            )
        self.timings[step] = round(time.monotonic() - start, 1)
        if check and proc.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-40:])
            raise AssertionError(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
        return proc

    def compose(self, step: str, *args: str, timeout: float = 600, check: bool = True):
        return self.run(step, [*self.compose_cmd(), *args], timeout=timeout, check=check)

    def output(self, *args: str, timeout: float = 300) -> str:
        """A compose command's stdout (for reading files off the volumes)."""
        proc = subprocess.run(
            [*self.compose_cmd(), *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout

    def down(self) -> None:
        self.compose(
            "down",
            "--profile",
            "train",
            "--profile",
            "eval",
            "down",
            "-v",
            "--remove-orphans",
            timeout=300,
            check=False,
        )

    def write_figures(self, path: Path, sizes: dict[str, float]) -> None:
        path.write_text(json.dumps({"seconds": self.timings, "image_size_mb": sizes}, indent=2) + "\n")
