"""`python -m tunebench.train.push` through the real `huggingface_hub` client, over HTTP, against a
stand-in of the hub's API on 127.0.0.1 (HF_ENDPOINT); every failure is one line, never a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest
from huggingface_hub import ModelCard

from tests.conftest import HANG_S, REPO
from tests.train.hub_standin import StandInHub
from tunebench.runs.paths import RunPaths
from tunebench.runs.record import RunManifest
from tunebench.train.model_card import render_model_card

TOKEN = "hf_standin_write_token"


@pytest.fixture()
def run(embedded, tmp_path) -> RunPaths:
    """A run folder whose merged/ model is the embedded tiny base, with its card and run record."""
    run = RunPaths(tmp_path / "tiny-run")
    shutil.copytree(embedded.base_dir, run.merged)
    manifest = RunManifest(
        run_name="tiny-run",
        method="lora",
        recipe={"model_name_or_path": str(embedded.base_dir), "use_peft": True},
        datasets=["data/text2sql/train.jsonl"],
    )
    (run.merged / "README.md").write_text(render_model_card(manifest))
    manifest.save(run.manifest)
    return run


def push(
    *args: str, token: str | None = TOKEN, endpoint: str = "http://127.0.0.1:9"
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env["HF_ENDPOINT"] = endpoint
    if token is not None:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "tunebench.train.push", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )


def test_push_uploads_the_model_its_card_and_its_run_record(run):
    with StandInHub(TOKEN) as hub:
        proc = push(str(run.root), "--repo-id", "acme/tiny-sql", "--private", endpoint=hub.url)
        assert proc.returncode == 0, proc.stderr[-3000:]
        repo = hub.repos["acme/tiny-sql"]
    assert repo.private and repo.commits == ["tunebench: merged of run tiny-run"]
    on_disk = {p.relative_to(run.merged).as_posix() for p in run.merged.rglob("*") if p.is_file()}
    assert set(repo.files) == on_disk | {"tunebench_manifest.json"}
    for name in on_disk - {"README.md"}:
        assert repo.files[name] == (run.merged / name).read_bytes(), name
    assert repo.files["tunebench_manifest.json"] == run.manifest.read_bytes()
    card = ModelCard(repo.files["README.md"].decode())
    # The local base folder is not a hub id: the hub would reject it as base_model.
    assert card.data.base_model is None and card.data.library_name == "transformers"
    assert "# tiny-run" in card.text
    assert "acme/tiny-sql" in proc.stdout


def test_pushing_again_to_an_existing_repo_adds_a_commit(run):
    with StandInHub(TOKEN) as hub:
        assert push(str(run.merged), "--repo-id", "acme/again", endpoint=hub.url).returncode == 0
        second = push(str(run.root), "--repo-id", "acme/again", endpoint=hub.url)
        assert second.returncode == 0, second.stderr
        assert len(hub.repos["acme/again"].commits) == 2 and not hub.repos["acme/again"].private


def one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_missing_token_is_one_line_and_sends_nothing(run):
    with StandInHub(TOKEN) as hub:
        line = one_line_error(push(str(run.root), "--repo-id", "acme/x", token=None, endpoint=hub.url))
        assert hub.requests == []
    assert "HF_TOKEN is not set" in line


def test_unreachable_hub_is_one_line(run):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    line = one_line_error(push(str(run.root), "--repo-id", "acme/x", endpoint=closed))
    assert line.startswith(f"error: cannot reach the hub at {closed}: ")


def test_refused_token_is_one_line(run):
    with StandInHub(TOKEN) as hub:
        line = one_line_error(push(str(run.root), "--repo-id", "acme/x", token="hf_wrong", endpoint=hub.url))
        assert not hub.repos
    assert line.startswith(f"error: the hub refused HF_TOKEN (401) at {hub.url}")


def test_missing_adapter_is_one_line(run):
    line = one_line_error(push(str(run.root), "--repo-id", "acme/x", "--what", "adapter"))
    assert line == f"error: {run.adapter}: no adapter here (adapter_config.json missing); train the run first"
