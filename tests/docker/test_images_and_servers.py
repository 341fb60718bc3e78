"""Issue 14's container rules that need no engine: base images are build arguments (the CUDA and python
images stay the defaults), images run as a non-root user with a health check, compose waits on health,
TGI is pinned to its last release, vLLM and SGLang are equal alternatives, and adapters are served
unmerged with the flags each server documents. Read from the tools: Compose's resolved config, make's
own dry runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.docker.conftest import DOCKERFILES, REPO, SERVER_FILES, clean_env, compose_config, final_stage, run
from tunebench.serve.models import adapter_spec

SERVERS = ("tgi", "vllm", "sglang")


# ── base images ──────────────────────────────────────────────────────────────────────────────────


def expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], value)


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_every_base_image_is_a_build_argument_with_the_official_default(image):
    text = DOCKERFILES[image].read_text()
    args: dict[str, str] = {}
    for name, value in re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M):
        args.setdefault(name, expand(value.strip('"'), args))
    bases = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(bases) == 3, "the sources, a build stage and the image that ships"
    for base in bases:
        assert re.fullmatch(r"\$\{\w+\}", base), f"{image}: FROM {base} is not a build argument"
    defaults = [expand(b, args) for b in bases]
    if image == "serve":
        assert defaults == ["python:3.12.12-slim-bookworm"] * 3
    else:  # the CUDA images: devel (nvcc for flash-attn) or runtime to build, runtime to ship
        kind = "devel" if image == "train" else "runtime"
        assert defaults == [
            f"nvidia/cuda:12.9.1-{kind}-ubuntu24.04",
            f"nvidia/cuda:12.9.1-{kind}-ubuntu24.04",
            "nvidia/cuda:12.9.1-runtime-ubuntu24.04",
        ]
    # this machine's workarounds never leak into the defaults
    assert "local/" not in text.split("FROM", 1)[0].replace("make docker-local-bases", "")


def test_compose_passes_base_images_only_when_set():
    plain = compose_config(REPO / "compose.yaml")["services"]
    for name in ("train", "eval", "demo-model"):
        assert not {"BUILD_IMAGE", "RUNTIME_IMAGE"} & set(plain[name]["build"].get("args", {})), name
    assert not plain["app"]["build"].get("args")
    local = compose_config(
        REPO / "compose.yaml", PYTHON_IMAGE="local/python:bookworm", BUILD_IMAGE="b", RUNTIME_IMAGE="r"
    )
    assert local["services"]["app"]["build"]["args"] == {"PYTHON_IMAGE": "local/python:bookworm"}
    assert {k: local["services"]["train"]["build"]["args"][k] for k in ("BUILD_IMAGE", "RUNTIME_IMAGE")} == {
        "BUILD_IMAGE": "b",
        "RUNTIME_IMAGE": "r",
    }


def test_local_bases_are_a_separate_documented_step():
    script = REPO / "docker" / "local-bases.sh"
    assert script.stat().st_mode & 0o111, "executable"
    assert run(["sh", "-n", str(script)]).returncode == 0
    text = script.read_text()
    assert "debootstrap --variant=minbase" in text and "docker import" in text
    assert (
        run(["make", "-n", "-o", "setup", "docker-local-bases"], env=clean_env()).stdout.strip()
        == "docker/local-bases.sh"
    )
    build = run(["make", "-n", "-o", "setup", "docker-build", "LOCAL_BASES=1"], env=clean_env()).stdout
    assert "PYTHON_IMAGE=local/python:bookworm" in build and "DOCKER_BUILDKIT=0" in build
    assert "local/" not in run(["make", "-n", "-o", "setup", "docker-build"], env=clean_env()).stdout
    docs = (REPO / "docs" / "docker.md").read_text()
    assert "make docker-local-bases" in docs and "without a registry" in docs


# ── users, health checks, waiting on health ─────────────────────────────────────────────────────


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_images_run_as_a_non_root_user_with_a_health_check(image):
    stage = final_stage(DOCKERFILES[image])
    users = re.findall(r"^USER\s+(\S+)", stage, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root"), image
    assert re.search(r"^HEALTHCHECK\s+--interval=\S+ --timeout=\S+ .*\\\n\s+CMD \[", stage, re.M), image


@pytest.mark.parametrize("server", SERVERS)
def test_compose_waits_on_health(server):
    services = compose_config(*SERVER_FILES[server])["services"]
    assert services["app"]["depends_on"] == {server: {"condition": "service_healthy", "required": True}}
    assert services[server]["depends_on"]["demo-model"]["condition"] == "service_completed_successfully"
    assert services[server]["healthcheck"]["test"][0] == "CMD"
    for name, service in services.items():
        for dependency, how in (service.get("depends_on") or {}).items():
            assert how["condition"] in ("service_healthy", "service_completed_successfully"), (
                name,
                dependency,
            )


# ── servers ──────────────────────────────────────────────────────────────────────────────────────


def test_tgi_is_pinned_to_its_last_release_and_documented_as_archived():
    tgi = compose_config(REPO / "compose.yaml")["services"]["tgi"]
    assert tgi["image"] == "ghcr.io/huggingface/text-generation-inference:3.3.7"
    docs = (REPO / "docs" / "serve.md").read_text()
    assert "3.3.7" in docs and "archived" in docs and "2025-12-11" in docs and "2026-03-21" in docs


@pytest.mark.parametrize("server", SERVERS)
def test_each_server_has_a_make_target_and_the_app_reaches_it_the_same_way(server):
    services = compose_config(*SERVER_FILES[server])["services"]
    others = set(SERVERS) - {server}
    assert server in services and not others & set(services)
    spec = services["app"]["environment"]["TUNEBENCH_MODEL"]
    assert re.fullmatch(rf"http://{server}:\d+/v1#tiny-text-to-sql", spec)
    dry = run(["make", "-n", "-o", "setup", "docker-demo", f"SERVER={server}"], env=clean_env()).stdout
    assert " ".join(f"-f {Path(f).name}" for f in SERVER_FILES[server]) + " up" in dry


# ── adapters, unmerged ───────────────────────────────────────────────────────────────────────────


def adapter_stack(server: str) -> dict:
    """What `make docker-demo SERVER=… ADAPTER_RUNS=run-a ADAPTER_BASE=/models/tiny-base` starts."""
    cmd = ["make", "-n", "-o", "setup", "docker-demo", f"SERVER={server}", "ADAPTER_RUNS=run-a run-b"]
    proc = run([*cmd, "ADAPTER_BASE=/models/tiny-base"], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    words = shlex.split(" ".join(proc.stdout.replace("\\\n", " ").split()))
    assert words[0] == "env"
    env = dict(w.split("=", 1) for w in words[1 : words.index(next(w for w in words[1:] if "=" not in w))])
    return compose_config(*SERVER_FILES[server], **env)["services"]


@pytest.mark.parametrize(
    "server, adapter_flags, request_name",
    [
        (
            "vllm",
            [
                "--enable-lora",
                "--lora-modules",
                "run-a-lora=/models/run-a/adapter",
                "run-b-lora=/models/run-b/adapter",
            ],
            "run-a-lora",
        ),
        (
            "sglang",
            [
                "--enable-lora",
                "--lora-paths",
                "run-a-lora=/models/run-a/adapter",
                "run-b-lora=/models/run-b/adapter",
            ],
            "base:run-a-lora",
        ),
    ],
)
def test_adapters_are_served_unmerged_on_their_base(server, adapter_flags, request_name):
    services = adapter_stack(server)
    command = services[server]["command"]
    assert "/models/tiny-base" in command and "/models/tiny-text-to-sql/merged" not in command
    start = command.index("--enable-lora")
    assert command[start : start + len(adapter_flags)] == adapter_flags
    app = services["app"]["environment"]
    assert app["TUNEBENCH_MODEL"].endswith("#base")
    # the name the app asks for is the one the server was started with
    spec = adapter_spec(
        app["TUNEBENCH_MODEL"], "run-a", Path("/models/run-a/adapter"), app["TUNEBENCH_ADAPTER_NAME"]
    )
    assert spec.split("#", 1)[1] == request_name


def test_tgi_serves_adapters_from_lora_adapters():
    services = adapter_stack("tgi")
    assert "--model-id=/models/tiny-base" in services["tgi"]["command"]
    assert (
        services["tgi"]["environment"]["LORA_ADAPTERS"]
        == "run-a-lora=/models/run-a/adapter,run-b-lora=/models/run-b/adapter"
    )
    app = services["app"]["environment"]
    spec = adapter_spec(
        app["TUNEBENCH_MODEL"], "run-b", Path("/models/run-b/adapter"), app["TUNEBENCH_ADAPTER_NAME"]
    )
    assert spec == "http://tgi:80/v1#run-b-lora"
    # without ADAPTER_RUNS nothing of this is set: the merged model, no adapters offered
    plain = compose_config(*SERVER_FILES["tgi"])["services"]
    assert (
        plain["tgi"]["environment"].get("LORA_ADAPTERS") is None
        and plain["app"]["environment"]["TUNEBENCH_ADAPTER_NAME"] == ""
    )


def test_adapter_runs_without_a_base_is_refused():
    proc = run(["make", "-n", "-o", "setup", "docker-demo", "ADAPTER_RUNS=run-a"], env=clean_env())
    assert proc.returncode != 0 and "ADAPTER_RUNS needs ADAPTER_BASE" in proc.stderr
