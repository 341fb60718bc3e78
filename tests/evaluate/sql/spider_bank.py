"""A bank of gold/prediction pairs on one small database, with the official Spider decision for each.

Every rule of the official decision (`exec_eval.eval_exec_match` of taoyds/test-suite-sql-eval, with
keep_distinct and plug_value off) is exercised: DISTINCT removal, the `> =` post-processing, the
`'order by' in gold` order rule, column permutations, Python `==` on values (floats exactly, 3 ==
3.0), NULLs, multisets, empty results, errors, and `YEAR(CURDATE())`. The expected decisions were
produced by running that official function on each pair (on 2026-12-03, commit of the repository
fetched that day); `OFFICIAL` holds them as 1/0 in `PAIRS`' order. `STRICT` holds tunebench's
`strict` decision, which differs on purpose where the docs say (DISTINCT, floats, inner ORDER BY).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_SCRIPT = """
CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER, net_worth REAL);
INSERT INTO singer VALUES
  (1, 'Joe', 'France', 52, 30.5), (2, 'Tim', 'Norway', 31, 12.25), (3, 'Ann', 'France', 43, 7.0),
  (4, 'Lia', 'Spain', 31, NULL), (5, 'Bo', 'Norway', 25, 0.1), (6, 'Eve', NULL, 60, 0.2),
  (7, 'joe', 'france', 52, 1.0);
CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, name TEXT, venue TEXT, year INTEGER, amount INTEGER);
INSERT INTO concert VALUES
  (1, 'Spring', 'Arena', 2014, 250), (2, 'Summer', 'Hall', 2015, 300), (3, 'Autumn', 'Arena', 2015, 120),
  (4, 'Winter', 'Club', 2016, 250), (5, 'Gala', 'Hall', 2014, 90);
CREATE TABLE singer_in_concert (concert_id INTEGER, singer_id INTEGER);
INSERT INTO singer_in_concert VALUES (1, 1), (1, 2), (2, 1), (2, 3), (3, 4), (4, 1), (4, 5), (5, 2);
"""


def build_db(path: Path) -> Path:
    """The bank's database, alone in its folder (the official function runs every .sqlite beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(DB_SCRIPT)
    con.close()
    return path


PAIRS: list[tuple[str, str]] = [
    # --- DISTINCT: removed from both queries by the official rule -------------------------------
    ("SELECT count(DISTINCT country) FROM singer", "SELECT count(*) FROM singer"),
    ("SELECT count(DISTINCT country) FROM singer", "SELECT count(country) FROM singer"),
    ("SELECT count(*) FROM singer", "SELECT count(DISTINCT age) FROM singer"),
    (
        "SELECT DISTINCT country FROM singer WHERE country IS NOT NULL",
        "SELECT country FROM singer WHERE country IS NOT NULL",
    ),
    (
        "SELECT country FROM singer WHERE country IS NOT NULL",
        "SELECT DISTINCT country FROM singer WHERE country IS NOT NULL",
    ),
    ("SELECT DISTINCT age FROM singer", "SELECT DISTINCT age FROM singer"),
    ("SELECT DISTINCT age FROM singer", "SELECT age FROM singer GROUP BY age"),
    ("SELECT DISTINCT venue FROM concert", "SELECT venue FROM concert GROUP BY venue"),
    ("SELECT DISTINCT venue FROM concert", "SELECT venue FROM concert"),
    (
        "SELECT DISTINCT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id",
        "SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id",
    ),
    (
        "SELECT DISTINCT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id",
        "SELECT name FROM singer WHERE singer_id IN (SELECT singer_id FROM singer_in_concert)",
    ),
    (
        "SELECT count(DISTINCT venue) FROM concert",
        "SELECT count(*) FROM (SELECT DISTINCT venue FROM concert)",
    ),
    ("SELECT name FROM singer WHERE name != 'distinct'", "SELECT name FROM singer"),
    ("SELECT count(DISTINCT year) FROM concert", "SELECT count(year) FROM concert"),
    ("SELECT DISTINCT year FROM concert ORDER BY year", "SELECT year FROM concert ORDER BY year"),
    ("SELECT DISTINCT year FROM concert ORDER BY year", "SELECT DISTINCT year FROM concert ORDER BY year"),
    # --- post-processing of spaced comparison operators -----------------------------------------
    ("SELECT name FROM concert WHERE amount >= 250", "SELECT name FROM concert WHERE amount > = 250"),
    ("SELECT name FROM concert WHERE amount <= 120", "SELECT name FROM concert WHERE amount < = 120"),
    ("SELECT name FROM concert WHERE amount != 250", "SELECT name FROM concert WHERE amount ! = 250"),
    ("SELECT name FROM concert WHERE amount > = 250", "SELECT name FROM concert WHERE amount >= 250"),
    ("SELECT name FROM concert WHERE amount >= 250", "SELECT name FROM concert WHERE amount > 250"),
    ("SELECT name FROM concert WHERE amount >= 250", "SELECT name FROM concert WHERE amount = > 250"),
    # --- row order: counts when 'order by' is anywhere in the gold -----------------------------
    ("SELECT name FROM singer ORDER BY age", "SELECT name FROM singer ORDER BY age"),
    ("SELECT name FROM singer ORDER BY age DESC", "SELECT name FROM singer ORDER BY age"),
    ("SELECT name FROM singer ORDER BY age", "SELECT name FROM singer"),
    ("SELECT name FROM singer", "SELECT name FROM singer ORDER BY name"),
    (
        "SELECT name FROM singer WHERE singer_id IN (SELECT singer_id FROM singer ORDER BY age LIMIT 3)",
        "SELECT name FROM singer WHERE singer_id IN (2, 4, 5) ORDER BY name",
    ),
    (
        "SELECT name FROM singer WHERE singer_id IN (SELECT singer_id FROM singer ORDER BY age LIMIT 3)",
        "SELECT name FROM singer WHERE singer_id IN (5, 4, 2)",
    ),
    ("SELECT name, age FROM singer ORDER BY age, name", "SELECT name, age FROM singer ORDER BY age, name"),
    (
        "SELECT name, age FROM singer ORDER BY age, name",
        "SELECT name, age FROM singer ORDER BY age, name DESC",
    ),
    (
        "SELECT name FROM singer ORDER BY age DESC LIMIT 1",
        "SELECT name FROM singer WHERE age = (SELECT max(age) FROM singer)",
    ),
    (
        "SELECT venue FROM concert GROUP BY venue ORDER BY count(*) DESC LIMIT 1",
        "SELECT venue FROM concert GROUP BY venue ORDER BY count(*) DESC LIMIT 1",
    ),
    (
        "SELECT venue, count(*) FROM concert GROUP BY venue ORDER BY count(*) DESC",
        "SELECT count(*), venue FROM concert GROUP BY venue ORDER BY count(*) DESC",
    ),
    ("select name from singer order by singer_id", "SELECT name FROM singer ORDER BY singer_id DESC"),
    ("SELECT name FROM singer ORDER  BY age", "SELECT name FROM singer ORDER BY age DESC"),
    (
        "SELECT name FROM singer WHERE name = 'order by' OR age > 50",
        "SELECT name FROM singer WHERE age > 50 ORDER BY name",
    ),
    # --- columns: names ignored, one permutation for every row ---------------------------------
    ("SELECT name, age FROM singer", "SELECT age, name FROM singer"),
    ("SELECT name AS n, age AS a FROM singer", "SELECT name, age FROM singer"),
    ("SELECT name, country, age FROM singer", "SELECT country, age, name FROM singer"),
    ("SELECT singer_id, name, country, age FROM singer", "SELECT age, country, name, singer_id FROM singer"),
    (
        "SELECT singer_id, name, country, age, net_worth FROM singer",
        "SELECT net_worth, age, country, name, singer_id FROM singer",
    ),
    ("SELECT name, age FROM singer", "SELECT name FROM singer"),
    ("SELECT name FROM singer", "SELECT name, age FROM singer"),
    ("SELECT age, age FROM singer", "SELECT age, age FROM singer"),
    ("SELECT singer_id, age FROM singer", "SELECT age, singer_id FROM singer"),
    (
        "SELECT concert_id, singer_id FROM singer_in_concert",
        "SELECT singer_id, concert_id FROM singer_in_concert",
    ),
    ("SELECT year, amount, venue, name FROM concert", "SELECT name, venue, amount, year FROM concert"),
    ("SELECT year, amount, venue, name FROM concert", "SELECT name, venue, year, amount FROM concert"),
    ("SELECT year, concert_id FROM concert", "SELECT concert_id, year FROM concert"),
    ("SELECT * FROM concert", "SELECT concert_id, name, venue, year, amount FROM concert"),
    # --- values: Python ==, floats exactly -----------------------------------------------------
    ("SELECT avg(age) FROM singer", "SELECT sum(age) * 1.0 / count(*) FROM singer"),
    ("SELECT avg(net_worth) FROM singer", "SELECT sum(net_worth) / count(net_worth) FROM singer"),
    ("SELECT sum(net_worth) FROM singer WHERE singer_id IN (5, 6)", "SELECT 0.1 + 0.2"),
    ("SELECT sum(net_worth) FROM singer WHERE singer_id IN (5, 6)", "SELECT 0.3"),
    ("SELECT 1.0 / 3", "SELECT 0.3333333333333333"),
    ("SELECT 1.0 / 3", "SELECT 0.33333333333"),
    ("SELECT count(*) FROM singer", "SELECT 7.0"),
    ("SELECT max(net_worth) FROM singer", "SELECT 30.5"),
    ("SELECT avg(amount) FROM concert", "SELECT 202"),
    ("SELECT avg(amount) FROM concert", "SELECT 202.0"),
    ("SELECT round(avg(net_worth), 2) FROM singer", "SELECT avg(net_worth) FROM singer"),
    ("SELECT age FROM singer WHERE singer_id = 1", "SELECT '52'"),
    ("SELECT name FROM singer WHERE singer_id = 1", "SELECT 'joe'"),
    ("SELECT name FROM singer WHERE country = 'France'", 'SELECT name FROM singer WHERE country = "France"'),
    (
        "SELECT name FROM singer WHERE country = 'France'",
        "SELECT name FROM singer WHERE country LIKE 'France'",
    ),
    (
        "SELECT name FROM singer WHERE country = 'France'",
        "SELECT name FROM singer WHERE lower(country) = 'france'",
    ),
    # --- NULLs ------------------------------------------------------------------------------------
    ("SELECT country FROM singer WHERE singer_id = 6", "SELECT NULL"),
    ("SELECT net_worth FROM singer", "SELECT net_worth FROM singer WHERE net_worth IS NOT NULL"),
    ("SELECT name, country FROM singer WHERE age > 50", "SELECT country, name FROM singer WHERE age > 50"),
    ("SELECT count(country) FROM singer", "SELECT count(*) FROM singer"),
    ("SELECT max(net_worth) FROM singer WHERE age > 100", "SELECT NULL"),
    # --- multisets: duplicates count ------------------------------------------------------------
    ("SELECT age FROM singer", "SELECT age FROM singer GROUP BY age"),
    ("SELECT venue FROM concert", "SELECT venue FROM concert UNION ALL SELECT 'Arena' LIMIT 5"),
    ("SELECT venue FROM concert", "SELECT venue FROM concert ORDER BY venue"),
    ("SELECT country FROM singer", "SELECT country FROM singer UNION ALL SELECT country FROM singer"),
    (
        "SELECT singer_id FROM singer_in_concert",
        "SELECT singer_id FROM singer_in_concert ORDER BY singer_id DESC",
    ),
    # --- empty results --------------------------------------------------------------------------
    ("SELECT name FROM singer WHERE age > 100", "SELECT name FROM singer WHERE age > 200"),
    ("SELECT name FROM singer WHERE age > 100", "SELECT name, age FROM singer WHERE age < 0"),
    ("SELECT name FROM singer WHERE age > 100", "SELECT name FROM singer WHERE age > 50"),
    ("SELECT name FROM singer WHERE age > 50", "SELECT name FROM singer WHERE age > 100"),
    (
        "SELECT venue, count(*) FROM concert GROUP BY venue HAVING count(*) > 3",
        "SELECT venue, count(*) FROM concert GROUP BY venue HAVING count(*) > 5",
    ),
    # --- errors score 0 ---------------------------------------------------------------------------
    ("SELECT name FROM singer", "SELECT nam FROM singer"),
    ("SELECT name FROM singer", "SELECT name FROM singers"),
    ("SELECT name FROM singer", "SELEC name FROM singer"),
    ("SELECT name FROM singer", "SELECT name FROM singer WHERE"),
    ("SELECT count(*) FROM singer", "SELECT count(*) FROM singer WHERE name = 'unterminated"),
    # --- only the first statement is read (the official DISTINCT removal parses one statement) ---
    ("SELECT name FROM singer", "SELECT name FROM singer; SELECT 1"),
    ("SELECT name FROM singer", "SELECT name FROM singer; DROP TABLE singer"),
    ("SELECT count(*) FROM singer", "SELECT count(*) FROM singer;"),
    ("SELECT count(*) FROM singer", "SELECT 1; SELECT count(*) FROM singer"),
    # --- YEAR(CURDATE()) becomes 2020 -----------------------------------------------------------
    ("SELECT 2020 - 2014", "SELECT YEAR(CURDATE()) - 2014"),
    (
        "SELECT name FROM concert WHERE year = 2015",
        "SELECT name FROM concert WHERE year = YEAR(CURDATE()) - 5",
    ),
    # --- everyday queries: right and wrong ------------------------------------------------------
    ("SELECT count(*) FROM singer", "SELECT count(singer_id) FROM singer"),
    ("SELECT count(*) FROM singer", "SELECT count(*) FROM concert"),
    ("SELECT name FROM singer WHERE age > 40", "SELECT name FROM singer WHERE age >= 43"),
    ("SELECT name FROM singer WHERE age > 40", "SELECT name FROM singer WHERE age > 30"),
    (
        "SELECT name FROM singer WHERE country = 'France' AND age > 45",
        "SELECT name FROM singer WHERE age > 45 AND country = 'France'",
    ),
    (
        "SELECT name FROM singer WHERE country = 'France' AND age > 45",
        "SELECT name FROM singer WHERE country = 'France'",
    ),
    (
        "SELECT country, count(*) FROM singer GROUP BY country",
        "SELECT country, count(name) FROM singer GROUP BY country",
    ),
    (
        "SELECT country, count(*) FROM singer GROUP BY country",
        "SELECT count(*), country FROM singer GROUP BY country",
    ),
    (
        "SELECT country, count(*) FROM singer GROUP BY country",
        "SELECT country, count(*) FROM singer WHERE country IS NOT NULL GROUP BY country",
    ),
    (
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN concert AS T2 ON T1.concert_id = T2.concert_id WHERE T1.singer_id = 1",
        "SELECT name FROM concert WHERE concert_id IN (SELECT concert_id FROM singer_in_concert WHERE singer_id = 1)",
    ),
    (
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN concert AS T2 ON T1.concert_id = T2.concert_id WHERE T1.singer_id = 2",
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN concert AS T2 WHERE T1.singer_id = 2",
    ),
    (
        "SELECT name FROM singer WHERE singer_id NOT IN (SELECT singer_id FROM singer_in_concert)",
        "SELECT name FROM singer EXCEPT SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id",
    ),
    ("SELECT max(amount), min(amount) FROM concert", "SELECT min(amount), max(amount) FROM concert"),
    ("SELECT max(amount), min(amount) FROM concert", "SELECT max(amount) FROM concert"),
    (
        "SELECT year FROM concert GROUP BY year HAVING count(*) > 1",
        "SELECT year FROM concert GROUP BY year HAVING count(*) >= 2",
    ),
    ("SELECT year FROM concert GROUP BY year HAVING count(*) > 1", "SELECT year FROM concert GROUP BY year"),
    ("SELECT name FROM singer WHERE name LIKE '%o%'", "SELECT name FROM singer WHERE name LIKE '%O%'"),
    ("SELECT name FROM singer WHERE name GLOB '*o*'", "SELECT name FROM singer WHERE name LIKE '%o%'"),
    (
        "SELECT name FROM singer ORDER BY net_worth DESC LIMIT 3",
        "SELECT name FROM singer ORDER BY net_worth DESC LIMIT 2",
    ),
    (
        "SELECT name FROM singer ORDER BY net_worth DESC LIMIT 3",
        "SELECT name FROM singer ORDER BY net_worth DESC LIMIT 3",
    ),
    (
        "SELECT sum(amount) FROM concert WHERE venue = 'Arena'",
        "SELECT sum(amount) FROM concert WHERE venue = 'arena'",
    ),
    (
        "SELECT name, age FROM singer WHERE age BETWEEN 30 AND 50",
        "SELECT name, age FROM singer WHERE age >= 30 AND age <= 50",
    ),
]

# The official decision for each pair above, in order (1 = match).
# fmt: off
OFFICIAL: list[int] = [
    0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1,
    1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1,
    0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0,
    1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1,
    0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1,
]

# tunebench's strict decision for each pair above, in order (1 = match).
STRICT: list[int] = [
    0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0,
    0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1,
    1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1,
    0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1,
]
# fmt: on
