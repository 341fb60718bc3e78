"""Evaluation sets: sql-create-context (a local JSONL in its format, through `datasets.load_dataset`,
databases built from the schemas and the gold literals), Spider-format folders, the embedded set."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pytest

from tunebench.evaluate.sql.data import load_embedded, load_spider, load_sql_create_context
from tunebench.formats import DataFormatError
from tunebench.sql_exec import execute_readonly

HEAD = "CREATE TABLE head (name VARCHAR, born_state VARCHAR, age VARCHAR)"
JOIN3 = (
    "CREATE TABLE department (creation VARCHAR, department_id VARCHAR); "
    "CREATE TABLE management (department_id VARCHAR, head_id VARCHAR); "
    "CREATE TABLE head (head_id VARCHAR, born_state VARCHAR)"
)
STATES = ["California", "Alabama", "Texas", "Ohio", "Maine", "Utah", "Iowa", "Idaho"]
TEAMS = ["Duke", "Kansas", "Gonzaga", "Purdue", "Baylor"]


def scc_rows() -> list[dict]:
    """Rows shaped like b-mc2/sql-create-context (question, context, answer), literals varied."""
    rows = []
    for i in range(40):
        state, team, n = STATES[i % len(STATES)], TEAMS[i % len(TEAMS)], 30 + i
        shapes = [
            (
                f"How many heads of the departments are older than {n}?",
                "CREATE TABLE head (age INTEGER)",
                f"SELECT COUNT(*) FROM head WHERE age > {n}",
            ),
            (
                f"Names of the heads born outside {state} (#{i})?",
                HEAD,
                f"SELECT name FROM head WHERE born_state <> '{state}'",
            ),
            (
                f"What is the position of the player from {team} (#{i})?",
                "CREATE TABLE table_name_1 (position VARCHAR, college VARCHAR)",
                f'SELECT position FROM table_name_1 WHERE college = "{team}"',
            ),
            (
                f"Which score has a home of {team} and a date of March {i}?",
                "CREATE TABLE table_name_2 (score VARCHAR, home VARCHAR, date VARCHAR)",
                f'SELECT score FROM table_name_2 WHERE home = "{team}" AND date = "March {i}"',
            ),
            (
                f"Lowest attendance when the week is less than {i % 9 + 3}?",
                "CREATE TABLE table_name_3 (attendance INTEGER, week INTEGER)",
                f"SELECT MIN(attendance) FROM table_name_3 WHERE week < {i % 9 + 3}",
            ),
            (
                f"Creation years of departments managed by a head born in {state} (#{i})?",
                JOIN3,
                f"SELECT DISTINCT T1.creation FROM department AS T1 JOIN management AS T2 ON T1.department_id = T2.department_id JOIN head AS T3 ON T2.head_id = T3.head_id WHERE T3.born_state = '{state}'",
            ),
            (
                f"Heads whose name contains '{state[:3]}' (#{i})?",
                HEAD,
                f"SELECT name FROM head WHERE name LIKE '%{state[:3]}%'",
            ),
            (
                f"Heads aged between {n} and {n + 10} (#{i})?",
                HEAD,
                f"SELECT name, age FROM head WHERE age BETWEEN {n} AND {n + 10}",
            ),
            (
                f"Heads born in {state} or Texas, oldest first (#{i})?",
                HEAD,
                f"SELECT name FROM head WHERE born_state IN ('{state}', 'Texas') ORDER BY age DESC",
            ),
            (
                f"How many heads per state (#{i})?",
                HEAD,
                "SELECT born_state, COUNT(*) FROM head GROUP BY born_state",
            ),
        ]
        question, context, answer = shapes[i % len(shapes)]
        rows.append({"answer": answer, "question": question, "context": context})
    return rows


@pytest.fixture(scope="module")
def scc_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scc") / "sql_create_context_v4.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in scc_rows()))
    return path


def test_heldout_rows_are_the_ones_training_held_out(scc_file, tmp_path):
    from tunebench.train.data import load_train_eval

    sample = {"max_samples": 30, "eval_fraction": 0.25, "sample_seed": 7}
    examples = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "dbs", **sample)
    tb_args = SimpleNamespace(
        dataset_name=str(scc_file),
        dataset_train_split="train",
        dataset_config=None,
        dataset_format="sql-create-context",
        max_train_samples=30,
        sample_seed=7,
        dataset_test_split=None,
        eval_fraction=0.25,
    )
    train, heldout = load_train_eval(tb_args)
    assert [m["messages"][1]["content"] for m in heldout] == [ex.question for ex in examples]
    assert [m["messages"][2]["content"] for m in heldout] == [ex.query for ex in examples]
    assert {ex.question for ex in examples}.isdisjoint(m["messages"][1]["content"] for m in train)
    assert examples[0].messages()[0]["content"].endswith(examples[0].schema)


def _mutate(sql: str) -> str | None:
    """A near miss: flip the first comparison, the kind of error a model makes."""
    for old, new in (
        (" <> ", " = "),
        (" = ", " <> "),
        (" > ", " <= "),
        (" < ", " >= "),
        (" LIKE ", " NOT LIKE "),
        (" BETWEEN ", " NOT BETWEEN "),
        (" IN (", " NOT IN ("),
    ):
        where = sql.find(" WHERE ")
        at = sql.find(old, where)
        if where >= 0 and at >= 0:
            return sql[:at] + new + sql[at + len(old) :]
    return None


def test_synthesized_databases_discriminate(scc_file, tmp_path):
    examples = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "dbs", heldout=False)
    assert len(examples) == 40
    nonempty = discriminated = mutated = 0
    for ex in examples:
        gold = execute_readonly(ex.db_path, ex.query)
        assert gold.ok, (ex.query, gold.error)
        nonempty += bool(gold.rows)
        near_miss = _mutate(ex.query)
        if near_miss is not None:
            mutated += 1
            other = execute_readonly(ex.db_path, near_miss)
            discriminated += other.ok and sorted(map(repr, other.rows)) != sorted(map(repr, gold.rows))
    assert nonempty == len(examples), "every gold query should find its witness rows"
    assert mutated >= 30 and discriminated == mutated
    # Schema-only difficulty/type labels come from the SQL's structure.
    kinds = {(ex.difficulty, ex.template) for ex in examples}
    assert ("hard", "join") in kinds and ("medium", "group_by") in kinds and ("easy", "filter") in kinds


def test_synthesized_databases_are_deterministic_and_cached(scc_file, tmp_path):
    first = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "a", heldout=False, limit=5)
    second = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "b", heldout=False, limit=5)
    for a, b in zip(first, second, strict=True):
        assert a.db_id == b.db_id
        dump = [list(sqlite3.connect(p).iterdump()) for p in (a.db_path, b.db_path)]
        assert dump[0] == dump[1]
    again = load_sql_create_context(str(scc_file), cache_dir=tmp_path / "a", heldout=False, limit=5)
    assert [e.db_path for e in again] == [e.db_path for e in first]


def test_bad_sql_create_context_rows_name_file_row_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    rows = scc_rows()[:3]
    rows[2]["context"] = "DROP TABLE head"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError) as err:
        load_sql_create_context(str(bad), cache_dir=tmp_path / "dbs", heldout=False)
    assert (err.value.source, err.value.row, err.value.field) == (str(bad), 2, "context")
    assert "CREATE TABLE" in str(err.value)
    rows[2]["context"] = HEAD
    rows[1]["answer"] = ""
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match=r"row 1, field 'answer'"):
        load_sql_create_context(str(bad), cache_dir=tmp_path / "dbs", heldout=False)
    no_answer = tmp_path / "no_answer.jsonl"
    no_answer.write_text(json.dumps({"question": "q", "context": HEAD}) + "\n")
    with pytest.raises(DataFormatError, match="answer"):
        load_sql_create_context(str(no_answer), cache_dir=tmp_path / "dbs", heldout=False)


def make_spider_dir(root):
    """A Spider-format folder: database/<db_id>/<db_id>.sqlite plus dev.json (and a BIRD-style file)."""
    dbs = {
        "concert_singer": (
            "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER);"
            "INSERT INTO singer VALUES (1, 'Joe', 'France', 52), (2, 'Tim', 'Norway', 31), (3, 'Ann', 'France', 43);"
        ),
        "pets_1": (
            "CREATE TABLE pets (pet_id INTEGER PRIMARY KEY, pet_type TEXT, weight REAL);"
            "INSERT INTO pets VALUES (1, 'cat', 12.5), (2, 'dog', 30.0), (3, 'dog', 9.25);"
        ),
    }
    for db_id, script in dbs.items():
        (root / "database" / db_id).mkdir(parents=True)
        con = sqlite3.connect(root / "database" / db_id / f"{db_id}.sqlite")
        con.executescript(script)
        con.close()
    dev = [
        {
            "db_id": "concert_singer",
            "question": "How many singers are there?",
            "query": "SELECT count(*) FROM singer",
        },
        {
            "db_id": "concert_singer",
            "question": "Names of singers from France?",
            "query": "SELECT name FROM singer WHERE country = 'France'",
        },
        {
            "db_id": "pets_1",
            "question": "Average weight of dogs?",
            "query": "SELECT avg(weight) FROM pets WHERE pet_type = 'dog'",
        },
        {
            "db_id": "pets_1",
            "question": "Pet types by count?",
            "query": "SELECT pet_type, count(*) FROM pets GROUP BY pet_type ORDER BY count(*) DESC",
        },
    ]
    (root / "dev.json").write_text(json.dumps(dev))
    bird = [
        {
            "db_id": "pets_1",
            "question": "Heavy pets?",
            "evidence": "heavy means weight > 10",
            "SQL": "SELECT pet_id FROM pets WHERE weight > 10",
            "difficulty": "simple",
        }
    ]
    (root / "bird_dev.json").write_text(json.dumps(bird))
    return root


def test_spider_format_folder(tmp_path):
    root = make_spider_dir(tmp_path / "spider")
    examples = load_spider(root)
    assert [e.db_id for e in examples] == ["concert_singer", "concert_singer", "pets_1", "pets_1"]
    assert examples[0].schema.startswith("CREATE TABLE singer") and "pets" not in examples[0].schema
    assert execute_readonly(examples[1].db_path, examples[1].query).rows == [("Joe",), ("Ann",)]
    assert (examples[3].difficulty, examples[3].template) == ("medium", "group_by")
    bird = load_spider(root, root / "bird_dev.json")
    assert bird[0].query.startswith("SELECT pet_id") and bird[0].difficulty == "simple"
    assert bird[0].question.endswith("Hint: heavy means weight > 10")
    assert len(load_spider(root, limit=2)) == 2


def test_spider_errors_name_the_file_row_and_field(tmp_path):
    root = make_spider_dir(tmp_path / "spider")
    bad = root / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {"db_id": "concert_singer", "question": "ok?", "query": "SELECT 1"},
                {"db_id": "nope", "question": "q", "query": "SELECT 1"},
            ]
        )
    )
    with pytest.raises(DataFormatError, match=r"bad.json, row 1, field 'db_id': no database"):
        load_spider(root, bad)
    bad.write_text(json.dumps([{"db_id": "concert_singer", "question": "q"}]))
    with pytest.raises(DataFormatError, match=r"row 0, field 'query'"):
        load_spider(root, bad)
    with pytest.raises(FileNotFoundError):
        load_spider(tmp_path / "nowhere")


def test_embedded_split(embedded):
    examples = load_embedded(embedded.data_dir, "test")
    assert len(examples) == 200
    assert {e.difficulty for e in examples} == {"easy", "medium", "hard"}
    assert {e.seen_combo for e in examples} == {True, False}
    for ex in examples[:20]:
        assert execute_readonly(ex.db_path, ex.query).ok
