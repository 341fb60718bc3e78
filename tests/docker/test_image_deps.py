"""Each image's Python dependencies resolve: `pip install --dry-run` of exactly what the Dockerfile
installs (its TUNEBENCH_EXTRAS, torch==TORCH_VERSION, DeepSpeed for training), read from the
Dockerfile's ARG defaults, so a change to either side is checked.

torch is pinned in the same resolve, as the images pin it: pip then takes the local 2.13.0 wheel this
machine's pip configuration offers instead of fetching a multi-GB CUDA build (a dry run downloads
metadata, but an index without PEP 658 metadata makes pip download the whole wheel). The train and
eval resolves run for this interpreter; the serve resolve targets the serve image's Python version.
The three resolves run in parallel (about 20 s together here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from tests.docker.conftest import DOCKERFILES, REPO, dockerfile_args

pytestmark = pytest.mark.slow

HEAVY = ("torch", "transformers", "triton", "bitsandbytes", "accelerate", "peft", "trl", "deepspeed")


def requirements(image: str, wheel) -> tuple[list[str], list[str]]:
    """(requirements, extra pip options) of one image, from its Dockerfile; `wheel` is tunebench's."""
    args = dockerfile_args(DOCKERFILES[image])
    reqs = [f"tunebench[{args['TUNEBENCH_EXTRAS']}] @ {wheel.as_uri()}"]
    options: list[str] = []
    if "TORCH_VERSION" in args:
        reqs.insert(0, f"torch=={args['TORCH_VERSION']}")
    if "DEEPSPEED_VERSION" in args:
        # DeepSpeed ships only a source distribution: pip builds its metadata (pure Python, seconds)
        reqs.append(f"deepspeed=={args['DEEPSPEED_VERSION']}")
        options.append("--no-binary=deepspeed")
    if image == "serve":
        major_minor = re.match(r"python:(\d+\.\d+)", args["PYTHON_IMAGE"]).group(1)
        options += ["--python-version", major_minor, "--implementation", "cp"]
        options += ["--platform", "manylinux_2_36_x86_64", "--platform", "manylinux2014_x86_64"]
    return reqs, options


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """image -> {package name: version}, from pip's installation report."""
    out = tmp_path_factory.mktemp("resolve")
    # tunebench's own wheel, built once (what `pip install .` builds in each image)
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "."]
    proc = subprocess.run([*build, "-w", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("tunebench-*.whl")
    procs = {}
    for image in DOCKERFILES:
        reqs, options = requirements(image, wheel)
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        cmd += ["--only-binary=:all:", *options, "--report", str(out / f"{image}.json"), *reqs]
        procs[image] = (
            cmd,
            subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
        )
    start, results = time.monotonic(), {}
    for image, (cmd, proc) in procs.items():
        log = proc.communicate(timeout=300)[0].decode(errors="replace")
        assert proc.returncode == 0, f"{image}: {' '.join(cmd)}\n{log[-4000:]}"
        report = json.loads((out / f"{image}.json").read_text())
        results[image] = {
            item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in report["install"]
        }
    print(f"three resolves in {time.monotonic() - start:.1f} s")
    return results


def test_train_image_resolves_with_the_pinned_torch(resolved):
    pkgs = resolved["train"]
    args = dockerfile_args(DOCKERFILES["train"])
    assert pkgs["torch"].split("+")[0] == args["TORCH_VERSION"]
    assert pkgs["deepspeed"] == args["DEEPSPEED_VERSION"]
    for name in ("transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets", "tunebench"):
        assert name in pkgs, name


def test_eval_image_resolves_with_the_pinned_torch(resolved):
    pkgs = resolved["eval"]
    assert pkgs["torch"].split("+")[0] == dockerfile_args(DOCKERFILES["eval"])["TORCH_VERSION"]
    for name in ("openai", "matplotlib", "transformers", "tunebench"):
        assert name in pkgs, name
    # the eval extra brings no training stack and no FastChat (a test oracle only)
    assert not {"fschat", "trl", "bitsandbytes", "deepspeed"} & set(pkgs)


def test_serve_image_resolves_without_torch(resolved):
    pkgs = resolved["serve"]
    for name in ("gradio", "openai", "huggingface-hub", "sqlglot", "pyyaml", "tqdm", "tunebench"):
        assert name in pkgs, name
    heavy = [p for p in pkgs if p in HEAVY or p.startswith(("nvidia-", "cuda-"))]
    assert heavy == [], f"the slim serve image would pull {heavy}"


def test_serve_image_build_guard_rejects_torch():
    """The serve build runs a guard that fails if torch/transformers are installed: run that very
    command here, where they are installed (it must fail), and with them absent (it must pass)."""
    (guard,) = re.findall(r'python (?:-P )?-c "(.*find_spec.*)"', DOCKERFILES["serve"].read_text())
    present = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True)
    assert present.returncode != 0 and "must stay slim" in present.stderr
    absent = "import sys\nfor m in ('torch', 'transformers'): sys.modules[m] = None\n" + guard
    assert subprocess.run([sys.executable, "-c", absent], capture_output=True).returncode == 0


def test_flash_attn_pin_exists_on_the_index():
    """flash-attn cannot be dry-run resolved (its setup.py imports torch and needs nvcc); check at least
    that the pinned release exists, so the image build does not fail on a typo."""
    version = dockerfile_args(DOCKERFILES["train"])["FLASH_ATTN_VERSION"]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "flash-attn"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split("Available versions:", 1)[1].split(",")
    assert version in [v.strip() for v in listed]
