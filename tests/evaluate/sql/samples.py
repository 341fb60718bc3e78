"""Sample inputs for the SQL tests: sql-create-context rows and a Spider-format folder."""

from __future__ import annotations

import json
import sqlite3

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


VENUES = ["mcg", "Princes Park", "Lake Oval", "junction oval", "Arden Street"]
NATIONS = ["France", "canada", "Kenya", "south korea"]
POSITIONS = ["wide receiver", "Guard", "tight end", "Quarterback"]


def scc_bank() -> list[dict]:
    """More rows in sql-create-context's own style (table_name_N, VARCHAR columns, double-quoted values,
    lower-case values, aggregates over a condition or two), for the mutation test."""
    rows = list(scc_rows())
    for i in range(40):
        venue, nation, position = (
            VENUES[i % len(VENUES)],
            NATIONS[i % len(NATIONS)],
            POSITIONS[i % len(POSITIONS)],
        )
        n = i % 7 + 2
        shapes = [
            (
                f"What was the largest crowd at {venue} (#{i})?",
                "CREATE TABLE table_name_10 (crowd INTEGER, venue VARCHAR)",
                f'SELECT MAX(crowd) FROM table_name_10 WHERE venue = "{venue}"',
            ),
            (
                f"Average pick of a {position} after round {n} (#{i})?",
                "CREATE TABLE table_name_11 (pick INTEGER, position VARCHAR, round VARCHAR)",
                f'SELECT AVG(pick) FROM table_name_11 WHERE position = "{position}" AND round > {n}',
            ),
            (
                f"Total medals of {nation} with fewer than {n} bronze (#{i})?",
                "CREATE TABLE table_name_12 (total INTEGER, nation VARCHAR, bronze VARCHAR)",
                f'SELECT SUM(total) FROM table_name_12 WHERE nation = "{nation}" AND bronze < {n}',
            ),
            (
                f"How many ranks have a gold under {n} and {nation} as nation (#{i})?",
                "CREATE TABLE table_name_13 (rank VARCHAR, gold INTEGER, nation VARCHAR)",
                f"SELECT COUNT(rank) FROM table_name_13 WHERE gold < {n} AND nation = '{nation}'",
            ),
            (
                f"Record on june {i + 1}?",
                "CREATE TABLE table_name_14 (record VARCHAR, date VARCHAR)",
                f'SELECT record FROM table_name_14 WHERE date = "june {i + 1}"',
            ),
            (
                f"Lowest year a {position} was drafted by pick {n} (#{i})?",
                "CREATE TABLE table_name_15 (year INTEGER, position VARCHAR, pick VARCHAR)",
                f'SELECT MIN(year) FROM table_name_15 WHERE position = "{position}" AND pick = "{n}"',
            ),
            (
                f"Which away team played at {venue} (#{i})?",
                "CREATE TABLE table_name_16 (away_team VARCHAR, venue VARCHAR)",
                f"SELECT away_team FROM table_name_16 WHERE venue = '{venue}'",
            ),
            (
                f"Players of {nation} ranked above {n}, best first (#{i})?",
                "CREATE TABLE table_name_17 (player VARCHAR, nation VARCHAR, rank INTEGER)",
                f"SELECT player FROM table_name_17 WHERE nation = '{nation}' AND rank > {n} ORDER BY rank LIMIT 3",
            ),
        ]
        question, context, answer = shapes[i % len(shapes)]
        rows.append({"answer": answer, "question": question, "context": context})
    return rows
