"""Populated SQLite databases for the embedded text-to-SQL set.

Each database has a parent table and a child table joined by a foreign key. Column roles drive
the question templates: `name` (a label to list), `cat` (a category to filter/group by), `num`
(a number to compare/aggregate), `fk` (the join key).
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

FIRST = [
    "Alice",
    "Bruno",
    "Chen",
    "Dana",
    "Emil",
    "Farah",
    "Gita",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Yuki",
    "Zoe",
]
LAST = [
    "Abe",
    "Berg",
    "Costa",
    "Diaz",
    "Evans",
    "Fox",
    "Gray",
    "Hall",
    "Ito",
    "Khan",
    "Lund",
    "Moreau",
    "Novak",
    "Ortiz",
    "Park",
    "Ruiz",
    "Silva",
    "Toth",
    "Vogel",
    "Wong",
]


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # INTEGER | REAL | TEXT
    role: str  # id | name | cat | num | fk
    phrase: str  # how a question says it
    values: tuple = ()  # categories, or (low, high) for numbers


@dataclass(frozen=True)
class Table:
    name: str
    plural: str  # "employees"
    singular: str  # "employee"
    columns: tuple[Column, ...]
    rows: int = 40
    names: tuple[str, ...] = ()  # label pool for the name column; people's names when empty

    def by_role(self, role: str) -> list[Column]:
        return [c for c in self.columns if c.role == role]

    @property
    def label(self) -> Column:
        return self.by_role("name")[0]

    def create_sql(self) -> str:
        cols = ", ".join(f"{c.name} {c.sql_type}" for c in self.columns)
        return f"CREATE TABLE {self.name} ({cols})"


@dataclass(frozen=True)
class Database:
    db_id: str
    parent: Table
    child: Table
    fk: str = field(default="")  # child column that references parent.id

    @property
    def tables(self) -> tuple[Table, Table]:
        return (self.parent, self.child)

    def schema(self) -> str:
        return ";\n".join(t.create_sql() for t in self.tables) + ";"


def C(name, sql_type, role, phrase, values=()):  # noqa: N802 - a compact constructor for the specs below
    return Column(name, sql_type, role, phrase, tuple(values))


ID = C("id", "INTEGER", "id", "id")

DATABASES: tuple[Database, ...] = (
    Database(
        "company",
        Table(
            "departments",
            "departments",
            "department",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("building", "TEXT", "cat", "building", ["North", "South", "East"]),
                C("budget", "INTEGER", "num", "budget", (100, 900)),
            ),
            rows=8,
            names=("Sales", "Legal", "Finance", "Research", "Support", "Design", "Marketing", "Logistics"),
        ),
        Table(
            "employees",
            "employees",
            "employee",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("department_id", "INTEGER", "fk", "department"),
                C("role", "TEXT", "cat", "role", ["engineer", "manager", "analyst", "clerk"]),
                C("salary", "INTEGER", "num", "salary", (30, 150)),
                C("city", "TEXT", "cat", "city", ["Paris", "Berlin", "Madrid", "Rome"]),
            ),
        ),
        fk="department_id",
    ),
    Database(
        "shop",
        Table(
            "customers",
            "customers",
            "customer",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("country", "TEXT", "cat", "country", ["France", "Japan", "Brazil", "Canada"]),
                C("age", "INTEGER", "num", "age", (18, 80)),
            ),
            rows=20,
        ),
        Table(
            "orders",
            "orders",
            "order",
            (
                ID,
                C("product", "TEXT", "name", "product"),
                C("customer_id", "INTEGER", "fk", "customer"),
                C("status", "TEXT", "cat", "status", ["shipped", "pending", "returned"]),
                C("quantity", "INTEGER", "num", "quantity", (1, 20)),
                C("price", "INTEGER", "num", "price", (5, 500)),
            ),
            names=(
                "lamp",
                "chair",
                "desk",
                "phone",
                "camera",
                "kettle",
                "guitar",
                "bicycle",
                "watch",
                "tent",
                "drill",
                "mirror",
                "blender",
                "printer",
                "sofa",
            ),
        ),
        fk="customer_id",
    ),
    Database(
        "school",
        Table(
            "teachers",
            "teachers",
            "teacher",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("subject", "TEXT", "cat", "subject", ["math", "history", "biology", "music"]),
                C("experience", "INTEGER", "num", "experience", (1, 40)),
            ),
            rows=12,
        ),
        Table(
            "students",
            "students",
            "student",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("teacher_id", "INTEGER", "fk", "teacher"),
                C("grade", "INTEGER", "num", "grade", (1, 12)),
                C("score", "INTEGER", "num", "score", (0, 100)),
                C("city", "TEXT", "cat", "city", ["Lyon", "Porto", "Oslo", "Dublin"]),
            ),
        ),
        fk="teacher_id",
    ),
    Database(
        "library",
        Table(
            "authors",
            "authors",
            "author",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("country", "TEXT", "cat", "country", ["Chile", "Italy", "Kenya", "India"]),
                C("birth_year", "INTEGER", "num", "birth year", (1900, 1990)),
            ),
            rows=12,
        ),
        Table(
            "books",
            "books",
            "book",
            (
                ID,
                C("title", "TEXT", "name", "title"),
                C("author_id", "INTEGER", "fk", "author"),
                C("genre", "TEXT", "cat", "genre", ["novel", "poetry", "drama", "essay"]),
                C("pages", "INTEGER", "num", "pages", (50, 900)),
                C("year", "INTEGER", "num", "year", (1950, 2020)),
            ),
            names=(
                "Rain",
                "Echo",
                "Harbor",
                "Orbit",
                "Ember",
                "Meadow",
                "Atlas",
                "Tides",
                "Summit",
                "Lantern",
                "Willow",
                "Canyon",
                "Drift",
                "Mosaic",
                "Falcon",
                "Quartz",
                "Aurora",
                "Cedar",
                "Delta",
                "Prism",
            ),
        ),
        fk="author_id",
    ),
    Database(
        "sports",
        Table(
            "teams",
            "teams",
            "team",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("city", "TEXT", "cat", "city", ["Boston", "Denver", "Austin", "Miami"]),
                C("founded", "INTEGER", "num", "founding year", (1880, 2000)),
            ),
            rows=10,
            names=(
                "Hawks",
                "Bears",
                "Lions",
                "Wolves",
                "Eagles",
                "Sharks",
                "Tigers",
                "Comets",
                "Rockets",
                "Giants",
            ),
        ),
        Table(
            "players",
            "players",
            "player",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("team_id", "INTEGER", "fk", "team"),
                C("position", "TEXT", "cat", "position", ["guard", "forward", "center"]),
                C("age", "INTEGER", "num", "age", (18, 40)),
                C("points", "INTEGER", "num", "points", (0, 60)),
            ),
        ),
        fk="team_id",
    ),
    Database(
        "clinic",
        Table(
            "doctors",
            "doctors",
            "doctor",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("specialty", "TEXT", "cat", "specialty", ["cardiology", "surgery", "pediatrics"]),
                C("salary", "INTEGER", "num", "salary", (80, 300)),
            ),
            rows=10,
        ),
        Table(
            "patients",
            "patients",
            "patient",
            (
                ID,
                C("name", "TEXT", "name", "name"),
                C("doctor_id", "INTEGER", "fk", "doctor"),
                C("age", "INTEGER", "num", "age", (1, 95)),
                C("city", "TEXT", "cat", "city", ["Cairo", "Lima", "Seoul", "Accra"]),
                C("visits", "INTEGER", "num", "visits", (1, 30)),
            ),
        ),
        fk="doctor_id",
    ),
)


def _rows(table: Table, rng: random.Random, parent_rows: int | None) -> list[tuple]:
    people = [f"{f} {ln}" for f in FIRST for ln in LAST]
    rng.shuffle(people)
    labels = list(table.names) if table.names else people
    out = []
    for i in range(table.rows):
        row = []
        for c in table.columns:
            if c.role == "id":
                row.append(i + 1)
            elif c.role == "name":
                row.append(labels[i % len(labels)])
            elif c.role == "fk":
                row.append(rng.randint(1, parent_rows or 1))
            elif c.role == "cat":
                row.append(rng.choice(c.values))
            else:
                lo, hi = c.values
                row.append(rng.randint(lo, hi))
        out.append(tuple(row))
    return out


def build_database(db: Database, path: Path, seed: int) -> dict[str, list[tuple]]:
    """Write one populated SQLite file (atomically) and return its rows by table."""
    rng = random.Random(f"{seed}:{db.db_id}")
    data = {db.parent.name: _rows(db.parent, rng, None)}
    data[db.child.name] = _rows(db.child, rng, db.parent.rows)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        for t in db.tables:
            con.execute(t.create_sql())
            marks = ", ".join("?" for _ in t.columns)
            con.executemany(f"INSERT INTO {t.name} VALUES ({marks})", data[t.name])
        con.commit()
    finally:
        con.close()
    tmp.replace(path)
    return data
