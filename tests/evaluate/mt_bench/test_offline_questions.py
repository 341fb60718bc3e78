"""Offline, MT-Bench's questions (fetched from FastChat's pinned commit once, then cached) are one line
saying what to do, from the library and from the command line, `--dry-run` included."""

from __future__ import annotations

import pytest

from tunebench.chat.local_server import free_port
from tunebench.evaluate.mt_bench import data


@pytest.fixture
def unreachable(monkeypatch):
    """The pinned URLs pointed at a loopback port nothing listens on: the network is down, on any machine."""
    dead = f"http://127.0.0.1:{free_port()}"
    files = {rel: (f"{dead}/{rel}", digest) for rel, (_, digest) in data.CANONICAL_FILES.items()}
    monkeypatch.setattr(data, "CANONICAL_FILES", files)
    return dead


def test_the_download_says_what_to_do_when_offline(unreachable, tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.download_questions(tmp_path / "cache")
    message = str(err.value)
    assert message.startswith(
        f"MT-Bench's question.jsonl is not cached in {tmp_path / 'cache'} and GitHub cannot"
    )
    assert (
        message.endswith("or pass --questions-dir with FastChat's data/mt_bench folder")
        and "\n" not in message
    )
    assert not list((tmp_path / "cache").rglob("*.jsonl"))  # nothing half-written


def test_a_dry_run_offline_is_one_line_and_exit_2(unreachable, tmp_path, monkeypatch, capsys, embedded):
    from tunebench.evaluate.mt_bench import cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code = cli.main(["run", "--model", str(embedded.base_dir), "--baseline", "org/baseline", "--dry-run",
                     "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: MT-Bench's question.jsonl is not cached")
