"""CI validates every Dockerfile with hadolint and the compose files with a real Compose binary, and
both checks fail on a broken file (deliberately broken copies in tmp_path)."""

from __future__ import annotations

import shutil

import pytest

from tests.docker.conftest import COMPOSE, COMPOSE_VLLM, DOCKERFILES, REPO, SERVER_FILES, clean_env, run, tool


def hadolint(path) -> tuple[int, str]:
    proc = run([tool("hadolint"), "--no-color", str(path)])
    return proc.returncode, proc.stdout + proc.stderr


def compose_check(tmp_path, *files) -> tuple[int, str]:
    cmd = [tool("docker-compose"), "--env-file", "/dev/null"]
    for f in files:
        cmd += ["-f", str(f)]
    proc = run([*cmd, "config", "-q"], cwd=tmp_path, env=clean_env())
    return proc.returncode, proc.stdout + proc.stderr


def test_the_three_images_have_dockerfiles():
    assert sorted(p.name for p in (REPO / "docker").glob("*.Dockerfile")) == [
        "eval.Dockerfile",
        "serve.Dockerfile",
        "train.Dockerfile",
    ]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_passes_hadolint(name):
    rc, out = hadolint(DOCKERFILES[name])
    assert rc == 0, out


@pytest.mark.parametrize(
    "breakage, expected",
    [
        # a rule violation: sudo in a RUN, and apt-get without --no-install-recommends / cleanup
        (lambda s: s + "\nRUN sudo apt-get install curl\n", "DL3004"),
        # a parse error: a misspelled instruction
        (lambda s: s.replace("FROM ", "FORM ", 1), "unexpected"),
    ],
    ids=["rule-violation", "syntax-error"],
)
def test_hadolint_fails_on_a_broken_dockerfile(tmp_path, breakage, expected):
    good = tmp_path / "ok.Dockerfile"
    shutil.copy(DOCKERFILES["serve"], good)
    assert hadolint(good)[0] == 0, "the unbroken copy passes: the failure below is the breakage"
    bad = tmp_path / "broken.Dockerfile"
    bad.write_text(breakage(good.read_text()))
    rc, out = hadolint(bad)
    assert rc != 0
    assert expected in out, out


def test_compose_files_validate_with_a_real_compose_binary(tmp_path):
    version = run([tool("docker-compose"), "version"])
    assert version.returncode == 0 and "Docker Compose version" in version.stdout
    for files in SERVER_FILES.values():
        rc, out = compose_check(REPO, *files)
        assert rc == 0, out


def _copies(tmp_path):
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    shutil.copy(COMPOSE_VLLM, tmp_path / "compose.vllm.yaml")
    assert compose_check(tmp_path, "compose.yaml")[0] == 0
    assert compose_check(tmp_path, "compose.yaml", "compose.vllm.yaml")[0] == 0
    return (tmp_path / "compose.yaml").read_text(), (tmp_path / "compose.vllm.yaml").read_text()


@pytest.mark.parametrize(
    "target, breakage, expected",
    [
        ("compose.yaml", lambda s: s.replace("capabilities: [gpu]", "capabilities: [gpu", 1), "yaml"),
        ("compose.yaml", lambda s: s.replace("\nservices:", "\nservces:", 1), "servces"),
        (
            "compose.yaml",
            lambda s: s.replace("condition: service_healthy", "condition: when_healthy", 1),
            "condition",
        ),
        # the app waits for a service that no longer exists
        ("compose.yaml", lambda s: s.replace("\n  tgi:\n", "\n  tgx:\n", 1), "tgi"),
        ("compose.vllm.yaml", lambda s: s.replace("\n      vllm:\n", "\n      vlm:\n", 1), "vlm"),
    ],
    ids=["yaml-syntax", "unknown-key", "bad-value", "missing-dependency", "override-typo"],
)
def test_compose_config_fails_on_a_broken_file(tmp_path, target, breakage, expected):
    base, override = _copies(tmp_path)
    original = base if target == "compose.yaml" else override
    broken = breakage(original)
    assert broken != original, "the breakage must change the file"
    (tmp_path / target).write_text(broken)
    files = ("compose.yaml",) if target == "compose.yaml" else ("compose.yaml", "compose.vllm.yaml")
    rc, out = compose_check(tmp_path, *files)
    assert rc != 0, f"{target} broken ({expected}) but Compose accepted it"
    assert expected in out.lower() or expected in out, out


def test_make_docker_lint_runs_both_linters():
    proc = run(["make", "-o", "setup", "docker-lint"], env=clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in DOCKERFILES:
        assert f"docker/{name}.Dockerfile" in proc.stdout
    assert "-f compose.yaml config -q" in proc.stdout
    assert "-f compose.yaml -f compose.vllm.yaml config -q" in proc.stdout
    assert "-f compose.yaml -f compose.sglang.yaml config -q" in proc.stdout
