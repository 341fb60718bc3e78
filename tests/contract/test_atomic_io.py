"""Whole or nothing (tunebench/runs/atomic_io.py): files, folders, figures and databases."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from tunebench.runs.atomic_io import atomic_path, atomic_write_json, atomic_write_jsonl, atomic_write_text


class Killed(Exception):
    """Stands for a crash in the middle of writing."""


def test_file_replaced_whole_with_its_suffix_kept(tmp_path):
    target = tmp_path / "plots" / "accuracy.png"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".png"  # savefig picks its format by suffix
        assert not target.exists()
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(target.parent) == ["accuracy.png"]


def test_a_failed_file_leaves_the_old_one_and_nothing_else(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(Killed), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise Killed
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.md"]


def test_sqlite_writes_through_the_temporary_path(tmp_path):
    target = tmp_path / "db.sqlite"
    with atomic_path(target) as tmp, sqlite3.connect(tmp) as con:
        con.execute("CREATE TABLE t (a INTEGER)")
        con.execute("INSERT INTO t VALUES (7)")
    with sqlite3.connect(target) as con:
        assert con.execute("SELECT a FROM t").fetchall() == [(7,)]
    assert os.listdir(tmp_path) == ["db.sqlite"]


def test_folder_replaced_whole(tmp_path):
    target = tmp_path / "merged"
    target.mkdir()
    (target / "stale.bin").write_text("old weights")
    with atomic_path(target, is_dir=True) as tmp:
        assert tmp.is_dir() and tmp != target
        (tmp / "model.safetensors").write_text("new weights")
        assert (target / "stale.bin").exists()  # the old folder serves until the new one is complete
    assert os.listdir(target) == ["model.safetensors"]
    assert os.listdir(tmp_path) == ["merged"]


def test_a_failed_folder_leaves_the_old_one_and_nothing_else(tmp_path):
    target = tmp_path / "merged"
    with pytest.raises(Killed), atomic_path(target, is_dir=True) as tmp:
        (tmp / "part").write_text("x")
        raise Killed
    assert os.listdir(tmp_path) == []  # no half folder where a server would pick it up
    target.mkdir()
    (target / "model.safetensors").write_text("old")
    with pytest.raises(Killed), atomic_path(target, is_dir=True) as tmp:
        (tmp / "model.safetensors").write_text("half")
        raise Killed
    assert (target / "model.safetensors").read_text() == "old" and os.listdir(tmp_path) == ["merged"]


def test_writers_leave_the_old_file_when_the_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    atomic_write_json(target, {"step": 1})
    assert json.loads(target.read_text()) == {"step": 1}

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "{}")
    with pytest.raises(OSError, match="disk full"):
        atomic_write_jsonl(tmp_path / "rows.jsonl", [{"a": 1}])
    assert json.loads(target.read_text()) == {"step": 1} and os.listdir(tmp_path) == ["manifest.json"]


def test_files_and_folders_get_an_ordinary_mode_not_a_private_one(tmp_path):
    """tempfile's 0600/0700 would make run files unreadable for another user of the models volume (the
    serving container's user, a colleague): what lands has the mode open() and mkdir() give here."""
    import os
    import stat

    from tunebench.runs.atomic_io import atomic_path, atomic_write_json

    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_json(tmp_path / "manifest.json", {"a": 1})
    with atomic_path(tmp_path / "merged", is_dir=True) as folder:
        (folder / "config.json").write_text("{}")
    with atomic_path(tmp_path / "plot.png") as png:
        png.write_bytes(b"png")
    assert stat.S_IMODE((tmp_path / "manifest.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "plot.png").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "merged").stat().st_mode) == 0o777 & ~mask
