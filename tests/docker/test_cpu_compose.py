"""The demo without a GPU, read from Compose's resolved config (no engine needed): compose.cpu.yaml
starts demo-model, transformers serve on CPU and the app, reserves no GPU, and builds the CPU
variants; compose.hostnet.yaml (an engine without a bridge network) puts every container on the host
network; none of it changes the GPU defaults. The engine-backed run is tests/docker/test_smoke.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docker.conftest import COMPOSE, COMPOSE_CPU, COMPOSE_HOSTNET, DOCKERFILES, compose_config
from tunebench.runs.paths import RunPaths

RUN = "tiny-text-to-sql"
MERGED = str(RunPaths.for_run(RUN, Path("/models")).merged)


def started_by_up(services: dict) -> dict:
    """What `docker compose up` starts: the services without a profile."""
    return {name: s for name, s in services.items() if not s.get("profiles")}


def test_cpu_up_trains_serves_on_cpu_and_reserves_no_gpu():
    services = compose_config(COMPOSE, COMPOSE_CPU)["services"]
    up = started_by_up(services)
    assert set(up) == {"demo-model", "cpu-server", "app"}
    for name, service in services.items():
        if name != "tgi":  # off here (profile tgi); unchanged for a GPU
            assert "devices" not in str(service.get("deploy", {})), f"{name} reserves a GPU"
    assert {k: v["condition"] for k, v in up["app"]["depends_on"].items()} == {
        "cpu-server": "service_healthy"
    }
    assert up["cpu-server"]["depends_on"]["demo-model"]["condition"] == "service_completed_successfully"
    # the app asks for the folder transformers serve was started on (it names the model by its folder)
    assert up["app"]["environment"]["TUNEBENCH_MODEL"] == f"http://cpu-server:8000/v1#{MERGED}"
    command = " ".join(up["cpu-server"]["command"])
    assert 'transformers serve "/models/$$MODEL_RUN/merged"' in command and "--device cpu" in command
    assert up["cpu-server"]["environment"]["MODEL_RUN"] == RUN
    # demo-model trains in the train image (TRL, PEFT), not the eval image
    assert up["demo-model"]["image"].startswith("tunebench-train:")


def test_cpu_variants_are_build_arguments():
    services = compose_config(COMPOSE, COMPOSE_CPU)["services"]
    for name in ("demo-model", "train"):
        args = services[name]["build"]["args"]
        assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu", name
        assert (args["INSTALL_FLASH_ATTN"], args["INSTALL_DEEPSPEED"]) == ("0", "0"), name
    for name in ("eval", "cpu-server"):  # one image: eval-sql and the CPU model server
        args = services[name]["build"]["args"]
        assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
        assert args["EXTRA_REQUIREMENTS"] == "transformers[serving]"
        assert services[name]["image"].startswith("tunebench-eval:")


def test_hostnet_puts_every_container_and_build_on_the_host_network():
    services = compose_config(COMPOSE, COMPOSE_CPU, COMPOSE_HOSTNET, APP_PORT="7999", CPU_SERVER_PORT="8123")[
        "services"
    ]
    for name, service in services.items():
        if name == "tgi":
            continue
        assert service["network_mode"] == "host", name
        assert not service.get("ports"), name
        if "build" in service:
            assert service["build"]["network"] == "host", name
    app = services["app"]["environment"]
    assert app["TUNEBENCH_MODEL"] == f"http://127.0.0.1:8123/v1#{MERGED}"
    assert app["TUNEBENCH_PORT"] == "7999"
    assert services["cpu-server"]["environment"]["CPU_SERVER_PORT"] == "8123"  # its command and health check


def test_gpu_defaults_are_untouched():
    plain = compose_config(COMPOSE)["services"]
    for name in ("train", "eval", "demo-model"):
        args = plain[name]["build"]["args"]
        assert not {"TORCH_REQUIREMENT", "LOCAL_PIP_URL", "EXTRA_REQUIREMENTS"} & set(args), name
        assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cu129"
    assert plain["train"]["build"]["args"]["INSTALL_DEEPSPEED"] == "1"
    assert set(started_by_up(plain)) == {"demo-model", "tgi", "app"}


def run_instructions(text: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    return [line for line in joined.splitlines() if line.startswith("RUN ")]


def test_the_ca_bundle_never_outlives_its_run_step():
    """Every pip step that fetches the local CA bundle deletes it in the same RUN: no layer holds it."""
    for name, path in DOCKERFILES.items():
        text = path.read_text()
        assert re.search(r"^ARG LOCAL_PIP_URL=$", text, re.M), f"{name}: LOCAL_PIP_URL must default to empty"
        for run in run_instructions(text):
            if "pip install" in run and "flash-attn" not in run:
                assert "LOCAL_PIP_URL" in run and "rm -f /tmp/pip-ca.crt" in run, f"{name}: {run[:120]}"
                assert run.index("rm -f /tmp/pip-ca.crt") > run.rindex("pip install"), f"{name}: {run[:120]}"


def test_the_smoke_fails_when_asked_for_without_an_engine(monkeypatch):
    """`make docker-smoke` where no engine answers once exited 0 having run nothing: now it fails, with the
    reason; `make test` (not asking for it) still skips it."""
    from tests.docker import smoke, test_smoke

    monkeypatch.setattr(smoke, "engine_problem", lambda: "no Docker engine answers")
    monkeypatch.setenv("TUNEBENCH_DOCKER_SMOKE", "1")
    with pytest.raises(
        pytest.fail.Exception, match="make docker-smoke ran nothing: no Docker engine answers"
    ):
        test_smoke.skip_reason()
    monkeypatch.delenv("TUNEBENCH_DOCKER_SMOKE")
    assert test_smoke.skip_reason() == "no Docker engine answers"
