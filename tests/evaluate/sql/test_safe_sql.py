"""Hostile SQL never changes the database and never hangs: it comes back as an error or a timeout.

The bank runs through the sandbox evaluation uses (`tunebench.sql.sandbox.SqlSandbox`) and the
contract's in-process `execute_readonly` (the demo's), with the database file hashed before and
after and the folder listed (no journal, WAL, attached or vacuumed file may appear).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time

import pytest

from tunebench.sql.execute import execute_readonly
from tunebench.sql.sandbox import SqlSandbox

TIMEOUT_S = 0.5
GRACE_S = 1.0
# A bound on wall time that only a hang can break: a hang is endless, so the bound can be generous enough
# for a 2-core machine with other jobs on it (restarting a killed sandbox takes a Python start-up).
NO_HANG_S = 60.0

# (name, statement, expected: "error" or "timeout")
WRITES = [
    ("drop", "DROP TABLE people", "error"),
    ("drop_if_exists", "DROP TABLE IF EXISTS pets", "error"),
    ("delete", "DELETE FROM people", "error"),
    ("update", "UPDATE people SET age = 0", "error"),
    ("insert", "INSERT INTO people VALUES (999, 'Mallory', 1)", "error"),
    ("replace", "REPLACE INTO people VALUES (1, 'Mallory', 1)", "error"),
    ("insert_select", "INSERT INTO pets SELECT * FROM pets", "error"),
    ("create_table", "CREATE TABLE evil (x)", "error"),
    ("create_temp_table", "CREATE TEMP TABLE evil (x)", "error"),
    ("create_table_as", "CREATE TABLE evil AS SELECT * FROM people", "error"),
    ("create_index", "CREATE INDEX evil ON people(age)", "error"),
    ("create_view", "CREATE VIEW evil AS SELECT 1", "error"),
    ("create_trigger", "CREATE TRIGGER evil AFTER INSERT ON people BEGIN DELETE FROM pets; END", "error"),
    ("alter", "ALTER TABLE people ADD COLUMN evil TEXT", "error"),
    ("rename", "ALTER TABLE people RENAME TO victims", "error"),
    ("attach", "ATTACH DATABASE '{tmp}/attached.db' AS evil", "error"),
    ("attach_memory", "ATTACH DATABASE ':memory:' AS evil", "error"),
    ("detach", "DETACH DATABASE main", "error"),
    ("pragma_journal", "PRAGMA journal_mode = WAL", "error"),
    ("pragma_user_version", "PRAGMA user_version = 7", "error"),
    ("pragma_writable_schema", "PRAGMA writable_schema = ON", "error"),
    ("pragma_function", "SELECT * FROM pragma_table_info('people')", "error"),
    ("load_extension", "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libm.so.6')", "error"),
    ("fts3_tokenizer", "SELECT fts3_tokenizer('simple')", "error"),
    ("vacuum", "VACUUM", "error"),
    ("vacuum_into", "VACUUM INTO '{tmp}/copy.db'", "error"),
    ("begin", "BEGIN IMMEDIATE", "error"),
    ("savepoint", "SAVEPOINT evil", "error"),
    ("two_statements", "SELECT 1; DROP TABLE people", "error"),
    ("nul_byte", "SELECT 1 \x00; DROP TABLE people", "error"),
    ("syntax", "SELEC name FRM people", "error"),
]
RUNAWAY = [
    (
        "recursive_cte_forever",
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n",
        "timeout",
    ),
    (
        "recursive_cte_sorted",
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n ORDER BY x DESC",
        "timeout",
    ),
    ("cross_join", "SELECT count(*) FROM people a, people b, people c, people d, people e", "timeout"),
    (
        "cross_join_sorted",
        "SELECT a.name FROM people a, people b, people c, people d ORDER BY random()",
        "timeout",
    ),
]
# One SQLite function call that does the work of seconds: the progress handler cannot stop it. printf
# builds its 900 MB before the length limit refuses it: about 1.3 s on an idle machine of this kind, more
# when loaded, so it ends as "too big" (an error) or is killed at the time limit, by the machine's speed:
# either is a bounded answer ("bounded"); what may never happen is rows, a write or a hang.
SINGLE_CALL = [
    ("huge_blob", "SELECT randomblob(900000000)", "error"),
    ("huge_zeroblob", "SELECT length(zeroblob(900000000))", "error"),
    ("huge_printf", "SELECT printf('%.*c', 900000000, 'x') IS NULL", "bounded"),
    (
        "doubling_string",
        "WITH RECURSIVE s(x) AS (SELECT 'a' UNION ALL SELECT x || x FROM s) SELECT max(length(x)) FROM s",
        "error",
    ),
]


@pytest.fixture()
def victim(tmp_path):
    db = tmp_path / "victim.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
    con.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INTEGER, kind TEXT)")
    con.executemany(
        "INSERT INTO people VALUES (?, ?, ?)", [(i, f"person {i}", 20 + i % 50) for i in range(400)]
    )
    con.executemany(
        "INSERT INTO pets VALUES (?, ?, ?)", [(i, i % 400, "cat" if i % 2 else "dog") for i in range(300)]
    )
    con.commit()
    con.close()
    return db


def _params(*banks):
    return [pytest.param(sql, expected, id=name) for bank in banks for name, sql, expected in bank]


def _fingerprint(db):
    return hashlib.sha256(db.read_bytes()).hexdigest(), sorted(p.name for p in db.parent.iterdir())


def _check(result, expected, elapsed):
    assert not result.ok, f"expected an {expected}, got rows {result.rows[:3]}"
    if expected == "timeout":
        assert result.timed_out, result.error
    elif expected == "bounded":
        assert result.timed_out or "too big" in result.error, result.error
    else:
        assert not result.timed_out, result.error
    assert elapsed < NO_HANG_S, f"took {elapsed:.1f} s"


@pytest.mark.parametrize(("sql", "expected"), _params(WRITES, RUNAWAY, SINGLE_CALL))
def test_sandbox_refuses_hostile_sql(sandbox, victim, sql, expected):
    before = _fingerprint(victim)
    start = time.monotonic()
    result = sandbox.execute(victim, sql.format(tmp=victim.parent), timeout_s=TIMEOUT_S)
    _check(result, expected, time.monotonic() - start)
    assert _fingerprint(victim) == before
    # The sandbox still answers, and the data are intact.
    assert sandbox.execute(victim, "SELECT count(*), sum(age) FROM people").rows == [
        (400, sum(20 + i % 50 for i in range(400)))
    ]


@pytest.mark.parametrize(("sql", "expected"), _params(WRITES, RUNAWAY))
def test_contract_execute_readonly_refuses_hostile_sql(victim, sql, expected):
    """The demo's in-process executor holds the acceptance bank too (not the single-call cases)."""
    before = _fingerprint(victim)
    start = time.monotonic()
    result = execute_readonly(victim, sql.format(tmp=victim.parent), timeout_s=TIMEOUT_S)
    _check(result, expected, time.monotonic() - start)
    assert _fingerprint(victim) == before


def test_size_limits_stop_single_call_blowups_in_process(victim):
    for sql in (
        "SELECT randomblob(900000000)",
        "SELECT hex(zeroblob(600000))",
        "SELECT length(replace(hex(zeroblob(400000)), '0', 'ab'))",
    ):
        result = execute_readonly(victim, sql, timeout_s=TIMEOUT_S)
        assert "too big" in (result.error or ""), (sql, result.error)
    # Ordinary results are untouched by the limits.
    assert execute_readonly(victim, "SELECT name FROM people WHERE id = 7").rows == [("person 7",)]


def test_row_cap_and_endless_rows(victim, sandbox):
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
    result = sandbox.execute(victim, endless, timeout_s=TIMEOUT_S, max_rows=50)
    assert result.ok and result.truncated and len(result.rows) == 50


def _freeze(box: SqlSandbox) -> None:
    """Stop the sandbox process: from then on every statement it is given never finishes, on any machine
    however fast (a slow statement is a race with the machine's speed; a stopped process is not)."""
    import os
    import signal

    os.kill(box._proc.pid, signal.SIGSTOP)


def test_sandbox_replaces_a_killed_process(victim):
    with SqlSandbox(grace_s=GRACE_S) as box:
        assert box.execute(victim, "SELECT 1").rows == [(1,)]
        _freeze(box)
        killed = box.execute(victim, "SELECT count(*) FROM people", timeout_s=TIMEOUT_S)
        assert killed.timed_out and box.kills == 1
        assert box.execute(victim, "SELECT count(*) FROM pets").rows == [(300,)]
        assert box.execute(victim.parent / "missing.sqlite", "SELECT 1").error


@pytest.fixture(scope="module")
def sandbox():
    with SqlSandbox(grace_s=GRACE_S) as box:
        yield box


# --- one test per hostile class: the bound holds and the answer says which bound --------------------


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def test_size_bomb_is_bounded_in_bytes_end_to_end(victim):
    """1,000 rows of a 1 MB blob would be 1 GB: the child stops at the byte limit, and the evaluator
    (this process) never holds more than the limit."""
    bomb = "SELECT zeroblob(999000) FROM people a, people b LIMIT 1000"
    before = _peak_rss_mb()
    with SqlSandbox(grace_s=GRACE_S, max_result_bytes=8_000_000) as box:
        start = time.monotonic()
        result = box.execute(victim, bomb, timeout_s=5.0)
        elapsed = time.monotonic() - start
        assert result.too_large and not result.rows
        assert result.error == "result too large: more than 8,000,000 bytes"
        assert elapsed < NO_HANG_S
        assert box.execute(victim, "SELECT count(*) FROM pets").rows == [(300,)]
    assert _peak_rss_mb() - before < 100, "the evaluator's memory grew with the statement's result"
    # In process too (the demo's executor): the same byte limit, default 32 MB.
    result = execute_readonly(victim, bomb, timeout_s=5.0, max_rows=1000, max_result_bytes=8_000_000)
    assert result.too_large and result.error.startswith("result too large")


def test_a_statement_that_never_finishes_is_killed_and_says_so(victim):
    with SqlSandbox(grace_s=GRACE_S) as box:
        box.execute(victim, "SELECT 1")
        _freeze(box)
        start = time.monotonic()
        result = box.execute(victim, "SELECT count(*) FROM people", timeout_s=TIMEOUT_S)
        assert time.monotonic() - start < NO_HANG_S
        assert result.timed_out and result.error == f"timed out after {TIMEOUT_S:g} s (statement killed)"
        assert box.kills == 1


def test_memory_bomb_hits_the_heap_limit(victim):
    """A UNION keeps every distinct row in memory: the child's SQLite heap limit stops it, with the reason."""
    bomb = (
        "WITH RECURSIVE r(i, b) AS (SELECT 1, randomblob(900000) UNION SELECT i + 1, randomblob(900000) "
        "FROM r) SELECT count(*) FROM r"
    )
    before = _peak_rss_mb()
    with SqlSandbox(grace_s=GRACE_S, heap_bytes=64 << 20) as box:
        result = box.execute(victim, bomb, timeout_s=30.0)
        assert result.error == "out of memory (limit 64 MiB)", result.error
        assert box.execute(victim, "SELECT count(*) FROM pets").rows == [(300,)]
    assert _peak_rss_mb() - before < 100
    assert not list(victim.parent.glob("etilqs_*")), "temporary tables went to disk"


def test_a_dead_child_says_why(victim):
    import os
    import signal
    import threading

    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    with SqlSandbox(grace_s=GRACE_S) as box:
        box.execute(victim, "SELECT 1")
        pid = box._proc.pid
        threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
        result = box.execute(victim, endless, timeout_s=20.0)
        assert result.error == (
            "sandbox process died: it was killed by SIGKILL (the system's out-of-memory killer, most likely)"
        )
        assert box.execute(victim, "SELECT count(*) FROM pets").rows == [(300,)]
