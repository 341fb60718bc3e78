"""The serve image has no torch: the app must start and answer HTTP without torch, transformers or any
other package the [serve] extra does not install. The real `python -m tunebench.serve` runs here with
those packages made unimportable (`sys.modules[name] = None`, the way Python marks a module missing),
configured as compose.yaml configures the `app` container."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from tests.docker.conftest import REPO, compose_config
from tunebench.chat.local_server import free_port

# Installed in this venv for the other stages, absent from the serve image.
ABSENT = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "bitsandbytes",
    "datasets",
    "tokenizers",
    "safetensors",
    "deepspeed",
    "flash_attn",
    "fastchat",
    "matplotlib",
)

LAUNCH = textwrap.dedent(
    """
    import runpy, sys
    for name in {absent!r}:
        sys.modules[name] = None  # `import name` now raises ModuleNotFoundError
    sys.argv = ["tunebench.serve"]
    runpy.run_module("tunebench.serve", run_name="__main__", alter_sys=True)
    """
)


@pytest.fixture
def app_env(tmp_path):
    """The app container's environment from compose.yaml, pointed at this machine."""
    app = compose_config(REPO / "compose.yaml")["services"]["app"]
    env = {k: v for k, v in app["environment"].items() if v is not None}
    port, dead = free_port(), free_port()
    env.update(
        TUNEBENCH_HOST="127.0.0.1",
        TUNEBENCH_PORT=str(port),
        # nothing listens there: the page must still come up and say the server is unreachable
        TUNEBENCH_MODEL=app["environment"]["TUNEBENCH_MODEL"].replace(
            "http://tgi:80", f"http://127.0.0.1:{dead}"
        ),
        TUNEBENCH_DATA=str(tmp_path / "data"),
        TUNEBENCH_MODELS=str(tmp_path / "models"),
        HF_HOME=str(tmp_path / "hf"),
        PATH=os.environ["PATH"],
        HOME=str(tmp_path),
    )
    return env


def test_app_starts_and_serves_without_torch(app_env):
    # the app reaches its server with the openai client: offline mode for the Hub cannot cut it off
    assert app_env["HF_HUB_OFFLINE"] == "1"
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH.format(absent=ABSENT)],
        cwd=app_env["HOME"],
        env=app_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "tunebench demo: http://" in line:
                break
        log = "".join(lines)
        assert "tunebench demo: http://" in log, f"the app did not start without torch:\n{log[-4000:]}"
        server = app_env["TUNEBENCH_MODEL"].split("#")[0]
        assert f"model: tiny-text-to-sql · {server} · cannot reach the model server at {server}" in log, log
        url = f"http://127.0.0.1:{app_env['TUNEBENCH_PORT']}/"
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
            assert "gradio" in page.read().decode(errors="replace").lower()
        databases = os.path.join(app_env["TUNEBENCH_DATA"], "text2sql", "databases")
        assert os.path.isdir(databases), "the sample databases are built on first start"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None
