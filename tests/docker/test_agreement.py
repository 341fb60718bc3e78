"""compose.yaml, the Makefile (+ mk/*.mk), the Dockerfiles and the code agree on the model path layout,
the volume, the ports and the commands: a change to one of them that the others do not follow fails here.
Everything is read from the tools themselves (Compose's resolved config, make's own variables), not
from hand-parsed YAML."""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from tests.docker.conftest import (
    COMPOSE,
    COMPOSE_SGLANG,
    COMPOSE_VLLM,
    DOCKERFILES,
    REPO,
    clean_env,
    compose_config,
    final_stage,
    run,
)
from tunebench.chat import ModelSpec
from tunebench.runs.paths import DATA_ENV, MODELS_ENV, RunPaths

RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
TUNEBENCH_SERVICES = ("demo-model", "app", "train", "eval")  # the services running tunebench images
SECRETS = ("HF_TOKEN", "OPENAI_API_KEY", "JUDGE_API_KEY")


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose writes it: `!override` / `!reset` tags carry an ordinary value."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


for _tag in ("!override", "!reset"):
    ComposeLoader.add_constructor(_tag, _tagged)


def run_name(recipe: Path) -> str:
    return Path(yaml.safe_load(recipe.read_text())["output_dir"]).name


def flag(command: list[str], name: str) -> str:
    """The value of `--name=value` or `--name value` in a command line."""
    for i, arg in enumerate(command):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name:
            return command[i + 1]
    raise AssertionError(f"{name} not in {command}")


def port_of(service: dict) -> tuple[int, int]:
    (mapping,) = service["ports"]
    return mapping["target"], int(mapping["published"])


def mounts(service: dict) -> dict[str, dict]:
    return {v["target"]: v for v in service["volumes"]}


@pytest.fixture(scope="module")
def tgi_stack():
    return compose_config(COMPOSE)["services"]


@pytest.fixture(scope="module")
def vllm_stack():
    return compose_config(COMPOSE, COMPOSE_VLLM)["services"]


@pytest.fixture(scope="module")
def sglang_stack():
    return compose_config(COMPOSE, COMPOSE_SGLANG)["services"]


# ── model path layout ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_served_model_is_the_merged_folder_of_the_run_a_recipe_writes(recipe):
    run = run_name(recipe)
    expected = str(RunPaths.for_run(run, Path("/models")).merged)
    tgi = compose_config(COMPOSE, MODEL_RUN=run)["services"]["tgi"]
    assert flag(tgi["command"], "--model-id") == expected
    vllm = compose_config(COMPOSE, COMPOSE_VLLM, MODEL_RUN=run)["services"]["vllm"]
    assert vllm["command"][0] == expected
    assert flag(vllm["command"], "--served-model-name") == run
    sglang = compose_config(COMPOSE, COMPOSE_SGLANG, MODEL_RUN=run)["services"]["sglang"]
    assert flag(sglang["command"], "--model-path") == expected
    assert flag(sglang["command"], "--served-model-name") == run


def test_defaults_agree_on_the_tiny_run(tgi_stack, vllm_stack, make_vars):
    from tunebench.serve.config import DEFAULT_RUN

    tiny = run_name(REPO / "recipes" / "tiny-text-to-sql.yaml")
    assert tiny == DEFAULT_RUN
    model_id = flag(tgi_stack["tgi"]["command"], "--model-id")
    assert model_id == str(RunPaths.for_run(tiny, Path("/models")).merged)
    assert vllm_stack["vllm"]["command"][0] == model_id
    # the Makefile's MODEL (relative to the repository) is the same folder once models/ is the volume
    make_model = PurePosixPath(make_vars("MODEL")["MODEL"])
    assert make_model.parts[0] == "models"
    assert PurePosixPath("/models", *make_model.parts[1:]) == PurePosixPath(model_id)
    # the model the app asks for is the run the server serves
    assert ModelSpec.parse(tgi_stack["app"]["environment"]["TUNEBENCH_MODEL"]).served_name == tiny
    assert ModelSpec.parse(vllm_stack["app"]["environment"]["TUNEBENCH_MODEL"]).served_name == tiny
    # demo-model trains exactly that run when it is missing
    assert tgi_stack["demo-model"]["environment"]["MODEL_RUN"] == tiny
    assert "recipes/tiny-text-to-sql.yaml" in " ".join(tgi_stack["demo-model"]["command"])


@pytest.mark.parametrize("image", ["train", "eval"])
def test_relative_recipe_paths_land_on_the_volumes(image):
    """Recipes say `output_dir: models/<run>` and `dataset_name: data/...`: in the images the working
    directory holds links models -> /models and data -> /data."""
    stage = final_stage(DOCKERFILES[image])
    workdir = re.findall(r"^WORKDIR\s+(\S+)", stage, re.M)[-1]
    assert f"ln -s /models {workdir}/models" in stage
    assert f"ln -s /data {workdir}/data" in stage
    for recipe in RECIPES:
        raw = yaml.safe_load(recipe.read_text())
        assert PurePosixPath(raw["output_dir"]).parts[0] == "models", recipe


# ── the volume ───────────────────────────────────────────────────────────────────────────────────


def test_every_service_shares_the_models_volume_at_slash_models(tgi_stack, vllm_stack, sglang_stack):
    services = {**tgi_stack, "vllm": vllm_stack["vllm"], "sglang": sglang_stack["sglang"]}
    assert set(TUNEBENCH_SERVICES) | {"tgi", "vllm", "sglang"} <= set(services)
    for name, service in services.items():
        models = mounts(service)["/models"]
        assert (models["type"], models["source"]) == ("volume", "models"), name
        # the servers and the app only read models; training and evaluation write them
        assert bool(models.get("read_only")) == (name in ("tgi", "vllm", "sglang", "app")), name


@pytest.mark.parametrize("name", TUNEBENCH_SERVICES)
def test_tunebench_containers_point_the_code_at_the_volume(tgi_stack, name, monkeypatch):
    env = tgi_stack[name]["environment"]
    assert env[MODELS_ENV] == "/models" and env[DATA_ENV] == "/data"
    assert mounts(tgi_stack[name])["/data"]["source"] == "data"
    monkeypatch.setenv(MODELS_ENV, env[MODELS_ENV])
    assert RunPaths.for_run("some-run").merged == Path("/models/some-run/merged")


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_images_set_the_same_roots(image):
    stage = final_stage(DOCKERFILES[image])
    assert re.search(rf"\b{MODELS_ENV}=/models\b", stage), image
    assert re.search(rf"\b{DATA_ENV}=/data\b", stage), image
    assert re.search(r"^USER\s+1000:1000$", stage, re.M), f"{image} must not run as root"


# ── ports ────────────────────────────────────────────────────────────────────────────────────────


def test_app_port_is_the_apps_default_port(tgi_stack, monkeypatch):
    from tunebench.serve.__main__ import parse_args

    monkeypatch.delenv("TUNEBENCH_PORT", raising=False)
    monkeypatch.delenv("TUNEBENCH_HOST", raising=False)
    default = parse_args([])
    app = tgi_stack["app"]
    target, published = port_of(app)
    assert target == published == default.port == int(app["environment"]["TUNEBENCH_PORT"])
    assert re.search(rf"^EXPOSE\s+{target}$", final_stage(DOCKERFILES["serve"]), re.M)
    # inside a container the app must listen on every interface, not the local default
    assert default.host == "127.0.0.1" and app["environment"]["TUNEBENCH_HOST"] == "0.0.0.0"


def server_url(app: dict) -> tuple[str, str | None, int | None, str]:
    """(host, served name, port, path) of the server the app's one model spec names."""
    spec = ModelSpec.parse(app["environment"]["TUNEBENCH_MODEL"])
    assert spec.is_server, spec
    url = urlsplit(spec.ref)
    return url.hostname, spec.served_name, url.port, url.path


def test_app_reaches_tgi_where_tgi_listens(tgi_stack):
    tgi = tgi_stack["tgi"]
    host, _, port, path = server_url(tgi_stack["app"])
    listen = int(flag(tgi["command"], "--port"))
    target, _ = port_of(tgi)
    # TGI's OpenAI-compatible Messages API, the same client as for vLLM and SGLang
    assert (host, port, path) == ("tgi", listen, "/v1") and target == listen
    assert f":{listen}/health" in " ".join(tgi["healthcheck"]["test"])
    assert tgi_stack["app"]["depends_on"]["tgi"]["condition"] == "service_healthy"


def test_app_reaches_vllm_where_vllm_listens(vllm_stack):
    vllm = vllm_stack["vllm"]
    host, name, port, path = server_url(vllm_stack["app"])
    listen = int(flag(vllm["command"], "--port"))
    target, _ = port_of(vllm)
    assert (host, port, path) == ("vllm", listen, "/v1") and target == listen
    assert name == flag(vllm["command"], "--served-model-name")  # vLLM checks the name
    assert f":{listen}/health" in " ".join(vllm["healthcheck"]["test"])
    assert set(vllm_stack["app"]["depends_on"]) == {"vllm"}
    assert "tgi" not in vllm_stack, "the override keeps TGI from starting"


def test_app_reaches_sglang_where_sglang_listens(sglang_stack):
    sglang = sglang_stack["sglang"]
    host, name, port, path = server_url(sglang_stack["app"])
    listen = int(flag(sglang["command"], "--port"))
    target, _ = port_of(sglang)
    assert (host, port, path) == ("sglang", listen, "/v1") and target == listen
    assert name == flag(sglang["command"], "--served-model-name")
    assert f":{listen}/health" in " ".join(sglang["healthcheck"]["test"])
    assert set(sglang_stack["app"]["depends_on"]) == {"sglang"}
    assert "tgi" not in sglang_stack, "the override keeps TGI from starting"


# ── commands: the containers run what the Makefile runs ─────────────────────────────────────────


def make_dry(*args: str) -> list[str]:
    proc = run(["make", "-n", "-o", "setup", *args], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.replace("\\\n", " ")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def only(lines: list[str], needle: str) -> str:
    (line,) = [line for line in lines if needle in line]
    return line


@pytest.mark.parametrize(
    "extra",
    [
        ["ARGS=--max_steps=10"],
        ["NPROC=8", "ACCELERATE=recipes/accelerate/zero3.yaml"],
        ["NPROC=4", "ACCELERATE=recipes/accelerate/fsdp.yaml"],
    ],
    ids=["single", "zero3", "fsdp"],
)
def test_docker_train_runs_the_make_train_command(extra):
    recipe = "RECIPE=recipes/codellama-7b-text-to-sql.yaml"
    host = only(make_dry("train", recipe, *extra), "tunebench.train")
    container = only(make_dry("docker-train", recipe, *extra), "tunebench.train")
    assert " run --rm train " in container
    inside = container.split(" run --rm train ", 1)[1]
    assert shlex.split(host)[0].startswith(".venv/bin/"), host
    assert inside == host.replace(".venv/bin/", "", 1)


def test_docker_targets_print_their_compose_commands():
    assert only(make_dry("docker-demo"), "compose").endswith("-f compose.yaml up")
    assert only(make_dry("docker-demo", "SERVER=vllm"), "compose").endswith(
        "-f compose.yaml -f compose.vllm.yaml up"
    )
    assert only(make_dry("docker-demo", "SERVER=sglang"), "compose").endswith(
        "-f compose.yaml -f compose.sglang.yaml up"
    )
    assert only(make_dry("docker-demo", "SERVER=cpu"), "compose").endswith(
        "-f compose.yaml -f compose.cpu.yaml up"
    )
    assert only(make_dry("docker-demo", "SERVER=cpu", "HOSTNET=1"), "compose").endswith(
        "-f compose.yaml -f compose.cpu.yaml -f compose.hostnet.yaml up"
    )
    # one service per image: train and demo-model share the train image, so it is built once
    build = only(make_dry("docker-build"), "compose")
    assert build.endswith("--profile train --profile eval build app demo-model eval")
    mt_bench = only(make_dry("docker-eval-mt-bench", "MODEL=models/x/merged"), "compose")
    assert mt_bench.endswith(
        " run --rm eval python -m tunebench.evaluate.mt_bench run --model_name_or_path models/x/merged"
    )


@pytest.mark.parametrize(
    "extra", [[], ["BASELINE=models/tiny-base", "EVAL_SQL_ARGS=--limit 20"]], ids=["plain", "baseline"]
)
def test_docker_eval_runs_the_make_eval_sql_command(extra):
    model = "MODEL=models/codellama-7b-text-to-sql/merged"
    host = only(make_dry("eval-sql", model, *extra), "tunebench.evaluate")
    container = only(make_dry("docker-eval", model, *extra), "tunebench.evaluate")
    assert container.split(" run --rm eval ", 1)[1] == host.replace(".venv/bin/", "", 1)


def test_docker_train_refuses_a_recipe_the_container_cannot_see():
    proc = run(["make", "-n", "-o", "setup", "docker-train", "RECIPE=/tmp/elsewhere.yaml"], env=clean_env())
    assert proc.returncode != 0 and "not under recipes/" in proc.stderr


def test_recipes_are_mounted_where_the_train_container_looks(tgi_stack):
    stage = final_stage(DOCKERFILES["train"])
    workdir = re.findall(r"^WORKDIR\s+(\S+)", stage, re.M)[-1]
    recipes = mounts(tgi_stack["train"])[f"{workdir}/recipes"]
    assert recipes["type"] == "bind" and recipes["read_only"]
    assert Path(recipes["source"]) == REPO / "recipes"


# ── secrets ──────────────────────────────────────────────────────────────────────────────────────


def test_secrets_are_passed_by_name_only():
    for path in (COMPOSE, COMPOSE_VLLM, COMPOSE_SGLANG):
        for name, service in yaml.load(path.read_text(), Loader=ComposeLoader)["services"].items():
            env = service.get("environment") or {}
            for key in SECRETS:
                assert env.get(key) is None, f"{path.name}: {name}.{key} must have no value in the file"
    example = dict(
        line.split("=", 1)
        for line in (REPO / "example.env").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    for key in SECRETS:
        assert example.get(key, "") == "", f"example.env must leave {key} empty"
    ignored = run(["git", "check-ignore", "-q", ".env"])
    assert ignored.returncode == 0, ".env must be git-ignored"
    dockerignore = (REPO / ".dockerignore").read_text().split()
    assert ".env" in dockerignore and "*.env" in dockerignore


def test_a_secret_in_the_environment_reaches_the_containers_that_need_it():
    services = compose_config(COMPOSE, HF_TOKEN="hf_dummy", OPENAI_API_KEY="sk-dummy")["services"]
    assert services["train"]["environment"]["HF_TOKEN"] == "hf_dummy"
    assert services["eval"]["environment"]["OPENAI_API_KEY"] == "sk-dummy"
    assert "OPENAI_API_KEY" not in services["app"]["environment"]
