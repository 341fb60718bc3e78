"""Bring your own database: an uploaded SQLite file answers questions (its rows, not a sample's), is
never written, is size-bounded, and is removed when its call (API) or session (page) ends."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import pytest
from gradio_client import Client, handle_file

from tests.serve.apps import running_demo
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.serve.config import AppConfig
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.serve.sql_runner import SqlRunner
from tunebench.serve.uploads import UploadedDatabases, UploadError
from tunebench.sql.execute import execute_readonly

QUESTION = "How many students are there?"
ANSWERS = {QUESTION: "SELECT count(*) AS n FROM students", "wipe": "DELETE FROM students"}
MAX_BYTES = 256 << 10


@pytest.fixture(scope="module")
def app(embedded):
    with CannedOpenAIServer(ANSWERS) as server:
        config = AppConfig(data_dir=embedded.data_dir, max_upload_bytes=MAX_BYTES)
        with running_demo(f"{server.url}/v1#canned-sql", config) as (url, demo):
            yield Client(url, verbose=False), demo.service


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def my_school(embedded, tmp_path):
    """The user's own database: the school schema with its own rows (fewer students than the sample)."""
    path = tmp_path / "my-school.sqlite"
    shutil.copy(SampleDatabases.load(embedded.data_dir).path("school"), path)
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM students WHERE id > 5")
    return path


def test_an_uploaded_database_answers_with_its_own_rows(app, my_school, embedded):
    client, service = app
    before = digest(my_school)
    answer = client.predict(question=QUESTION, database_file=handle_file(str(my_school)), api_name="/ask")
    assert answer["ok"] and answer["rows"] == [[5]] and answer["database"] == "uploaded my-school.sqlite"
    assert answer["message"].endswith("(your database my-school.sqlite)")
    sample = execute_readonly(SampleDatabases.load(embedded.data_dir).path("school"), ANSWERS[QUESTION])
    assert sample.rows[0][0] != 5  # the rows came from the upload, not the sample of the same schema
    wipe = client.predict(question="wipe", database_file=handle_file(str(my_school)), api_name="/ask")
    assert wipe["failure"] == "sql" and wipe["message"].startswith("refused:")
    assert digest(my_school) == before
    assert not list(service.uploads.root.iterdir())  # the private copies went with their calls


def test_a_wal_database_is_read_too(app, my_school):
    client, _ = app
    with sqlite3.connect(my_school) as con:
        assert con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    assert my_school.read_bytes()[18:20] == b"\x02\x02"
    answer = client.predict(question=QUESTION, database_file=handle_file(str(my_school)), api_name="/ask")
    assert answer["ok"] and answer["rows"] == [[5]]


def test_files_that_are_no_database_are_refused_in_one_sentence(app, tmp_path):
    client, _ = app
    text = tmp_path / "notes.txt"
    text.write_text("CREATE TABLE t (a INT);")
    answer = client.predict(question=QUESTION, database_file=handle_file(str(text)), api_name="/ask")
    assert (answer["failure"], answer["message"]) == (
        "input",
        "notes.txt is not a SQLite database (its first bytes are not 'SQLite format 3')",
    )
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    answer = client.predict(question=QUESTION, database_file=handle_file(str(broken)), api_name="/ask")
    assert answer["failure"] == "input" and answer["message"].startswith("SQLite cannot read broken.sqlite: ")
    both = client.predict(
        question=QUESTION, database="school", database_file=handle_file(str(broken)), api_name="/ask"
    )
    assert both["failure"] == "input"


def test_the_size_bound_holds_before_anything_is_kept(app, tmp_path):
    client, service = app
    big = tmp_path / "big.sqlite"
    with sqlite3.connect(big) as con:
        con.execute("CREATE TABLE t (b BLOB)")
        con.execute("INSERT INTO t VALUES (zeroblob(?))", (MAX_BYTES * 2,))
    with pytest.raises(Exception, match="(?i)size|large"):  # gradio refuses the upload itself
        client.predict(question=QUESTION, database_file=handle_file(str(big)), api_name="/ask")
    # the app's own check, for a file that reached it another way
    with pytest.raises(UploadError, match=r"big.sqlite is 5\d\d KiB; the demo takes databases up to 256 KiB"):
        service.uploads.load(big)
    assert not list(service.uploads.root.iterdir())


def test_a_sessions_database_goes_when_the_session_ends(my_school):
    with SqlRunner(1) as runner:
        uploads = UploadedDatabases(runner, max_bytes=1 << 20, max_schema_chars=8000)
        first = uploads.add("session-a", my_school)
        assert first.tables == 2 and "CREATE TABLE students" in first.schema
        second = uploads.add("session-a", my_school)  # a new upload replaces the session's
        assert not first.path.exists() and second.path.exists() and uploads.sessions() == 1
        uploads.drop("session-a")
        assert not second.path.exists() and uploads.sessions() == 0
        uploads.close()
