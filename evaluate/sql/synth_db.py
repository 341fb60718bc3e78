"""A populated SQLite database for a schema-only example (b-mc2/sql-create-context).

sql-create-context gives CREATE TABLE statements but no rows, and on empty tables every query
returns nothing: execution could not tell right from wrong. For each example we build a small
database from its CREATE TABLE statements and fill it with rows made from the gold query's
literals (found with sqlglot): for each `column <op> literal` a value that satisfies the
predicate and one that violates it, so a prediction with the wrong column, operator or constant
returns other rows. Row 0 of every table satisfies all of the gold's predicates on that table
(a "witness"), columns that join (same name in two tables, or `a = b` in the gold) share a small
key pool so joins find partners, and a few NULLs test NULL handling. Deterministic per
(schema, gold, seed); written once into a cache folder (whole or not at all: `atomic_path`).

The gold can still return nothing (e.g. contradictory predicates): the report counts those.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import zlib
from pathlib import Path

from sqlglot import exp

from tunebench.runs.atomic_io import atomic_path
from tunebench.sql.parse import parse_sql
from tunebench.sql.schema import SchemaError, TableDef, parse_schema

SYNTH_VERSION = 2  # 2: case and extension near-misses of string literals
ROWS_PER_TABLE = 20
NULL_SHARE = 0.05
WORDS = [
    "Alpha",
    "Bravo",
    "Cedar",
    "Delta",
    "Ember",
    "Falcon",
    "Garnet",
    "Harbor",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Lotus",
    "Maple",
    "Nova",
    "Onyx",
    "Pine",
    "Quartz",
    "Raven",
    "Sierra",
    "Tundra",
    "Umber",
    "Violet",
    "Willow",
    "Xenon",
    "Yarrow",
    "Zephyr",
]
_FLIP = {exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE}


def _kind(sql_type: str) -> str:
    t = sql_type.upper()
    if "INT" in t:
        return "int"
    if any(k in t for k in ("REAL", "FLOA", "DOUB", "DEC", "NUM")):
        return "real"
    return "text"


def _literal_value(node: exp.Expression, known_columns: set[str]):
    """The Python value of a literal operand, or None when `node` is not one."""
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = _literal_value(node.this, known_columns)
        return -value if value is not None else None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        for number in (int, float):
            try:
                return number(node.this)
            except ValueError:
                continue
        return node.this
    # SQLite reads a double-quoted name that is no column as a string ("Paris").
    if (
        isinstance(node, exp.Column)
        and not node.table
        and node.this.args.get("quoted")
        and node.name.lower() not in known_columns
    ):
        return node.name
    return None


def other_word(value) -> str:
    """A word other than `value`, the same in every process (unlike hash())."""
    i = zlib.crc32(str(value).encode()) % len(WORDS)
    return WORDS[i] if WORDS[i] != value else WORDS[(i + 1) % len(WORDS)]


def near_misses(value) -> list:
    """Values a string literal's `=` rejects but a looser reading takes: another case (`LIKE`, `COLLATE
    NOCASE`) and an extension (`LIKE 'v%'`). Nothing for a value without letters or not text."""
    if not isinstance(value, str):
        return []
    out = []
    letters = [i for i, ch in enumerate(value) if ch.isascii() and ch.isalpha()]
    if letters:
        i = letters[0]
        out.append(value[:i] + value[i].swapcase() + value[i + 1 :])
    out.append(value + "2")
    return out


def _like_example(pattern: str) -> str:
    return pattern.replace("%", "").replace("_", "x") or "x"


def _shift(value, step: int):
    if isinstance(value, (int, float)):
        return value + step
    return value + "z" if step > 0 else value[:-1]


def _satisfying_and_violating(op: type, values: list) -> tuple:
    v = values[0]
    if op is exp.EQ or op is exp.In:
        return v, other_word(v) if isinstance(v, str) else v + 7
    if op is exp.NEQ:
        return (other_word(v) if isinstance(v, str) else v + 7), v
    if op is exp.GT:
        return _shift(v, 1), v
    if op is exp.GTE:
        return v, _shift(v, -1)
    if op is exp.LT:
        return _shift(v, -1), v
    if op is exp.LTE:
        return v, _shift(v, 1)
    if op is exp.Between:
        return v, _shift(values[1], 1)
    if op in (exp.Like, exp.ILike):
        return _like_example(str(v)), "Qq" + str(v).replace("%", "").replace("_", "")[::-1] + "q"
    return v, v


class Facts:
    """What the gold query says about each (table, column): predicate values and join partners."""

    def __init__(self, tables: list[TableDef], gold: str):
        self.tables = tables
        self.known = {c.lower() for t in tables for c in t.column_names}
        self.values: dict[tuple[str, str], list[tuple]] = {}  # (table, col) -> [(sat, viol), ...]
        self.joins: list[set[tuple[str, str]]] = []
        by_name: dict[str, list[tuple[str, str]]] = {}
        for t in tables:
            for c in t.column_names:
                by_name.setdefault(c.lower(), []).append((t.name.lower(), c.lower()))
        self._owners = by_name
        self.joins.extend(set(cols) for cols in by_name.values() if len(cols) > 1)
        tree = parse_sql(gold)
        if tree is not None:
            self._aliases = {t.alias.lower(): t.name.lower() for t in tree.find_all(exp.Table) if t.alias}
            self._read(tree)

    def owners_of(self, col: exp.Column) -> list[tuple[str, str]]:
        owners = self._owners.get(col.name.lower(), [])
        if col.table:
            table = self._aliases.get(col.table.lower(), col.table.lower())
            owners = [o for o in owners if o[0] == table] or owners
        return owners

    def _read(self, tree: exp.Expression) -> None:
        for node in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike):
            left, right, op = node.this, node.expression, type(node)
            if (
                isinstance(left, exp.Column)
                and isinstance(right, exp.Column)
                and _literal_value(right, self.known) is None
                and _literal_value(left, self.known) is None
            ):  # `a = b` between two columns: a join (or self-comparison), no literal
                self.joins.append(set(self.owners_of(left)) | set(self.owners_of(right)))
                continue
            if not isinstance(left, exp.Column) or _literal_value(left, self.known) is not None:
                left, right, op = right, left, _FLIP.get(op, op)
            value = _literal_value(right, self.known)
            if isinstance(left, exp.Column) and value is not None:
                self._add(left, op, [value])
        for node in tree.find_all(exp.In, exp.Between):
            col = node.this
            if not isinstance(col, exp.Column):
                continue
            operands = node.expressions if isinstance(node, exp.In) else [node.args["low"], node.args["high"]]
            values = [_literal_value(o, self.known) for o in operands]
            if values and all(v is not None for v in values):
                self._add(col, type(node), values)

    def _add(self, col: exp.Column, op: type, values: list) -> None:
        pairs = [_satisfying_and_violating(op, values)]
        if op in (exp.EQ, exp.In):  # a looser reading of `=` must show too
            pairs += [(values[0], miss) for miss in near_misses(values[0]) if miss not in values]
        for owner in self.owners_of(col):
            self.values.setdefault(owner, []).extend(pairs)


def _random_value(kind: str, rng: random.Random, like=None):
    if isinstance(like, (int, float)) and not isinstance(like, bool):
        return (
            rng.randint(int(like) - 20, int(like) + 20)
            if isinstance(like, int)
            else round(like * rng.uniform(0.5, 1.5), 2)
        )
    if kind == "int":
        return rng.randint(0, 100)
    if kind == "real":
        return round(rng.uniform(0, 100), 2)
    return rng.choice(WORDS)


def _merged(groups: list[set]) -> list[set]:
    """Union of overlapping join groups (a column joined two ways gets one key pool)."""
    merged: list[set] = []
    for group in groups:
        touching = [m for m in merged if m & group]
        for m in touching:
            merged.remove(m)
            group = group | m
        merged.append(set(group))
    return merged


def synth_rows(tables: list[TableDef], facts: Facts, rng: random.Random, n: int) -> dict[str, list[tuple]]:
    key_pool: dict[tuple[str, str], list] = {}
    for group in _merged(facts.joins):
        kinds = {
            _kind(dict((c.lower(), ty) for c, ty in t.columns)[c])
            for t in tables
            for (tn, c) in group
            if t.name.lower() == tn
        }
        # About one key per row: joins mostly pair rows one to one, so a wrong filter on one side
        # changes which rows of the other side come back.
        pool = [i + 1 for i in range(n)] if kinds <= {"int", "real"} else [f"K{i + 1}" for i in range(n)]
        pool += [v for member in group for pair in facts.values.get(member, []) for v in pair]
        for member in group:
            key_pool[member] = pool
    out = {}
    for t in tables:
        rows = []
        for i in range(n):
            row = []
            for col, sql_type in t.columns:
                key = (t.name.lower(), col.lower())
                pairs = facts.values.get(key, [])
                if i == 0:  # the witness: satisfies every predicate, joins with the other witnesses
                    value = pairs[0][0] if pairs else key_pool[key][0] if key in key_pool else None
                    if value is None:
                        value = _random_value(_kind(sql_type), rng)
                elif key in key_pool and rng.random() < 0.9:
                    value = rng.choice(key_pool[key])
                elif pairs and rng.random() < 0.75:
                    value = rng.choice(rng.choice(pairs))
                elif rng.random() < NULL_SHARE:
                    value = None
                else:
                    value = _random_value(_kind(sql_type), rng, like=pairs[0][0] if pairs else None)
                row.append(value)
            rows.append(tuple(row))
        out[t.name] = rows
    return out


def synth_db_path(cache_dir: str | Path, schema_sql: str, gold: str, seed: int) -> Path:
    digest = hashlib.sha256(f"{SYNTH_VERSION}\0{seed}\0{schema_sql}\0{gold}".encode()).hexdigest()[:20]
    return Path(cache_dir) / f"{digest}.sqlite"


def plain_create(table: TableDef) -> str:
    """CREATE TABLE with the columns' names and declared types only: a dataset's CHECK, DEFAULT or
    generated-column expressions are untrusted SQL and never run in this process (only the sandbox
    runs what tunebench did not write)."""
    ident = lambda name: exp.to_identifier(name, quoted=True).sql(dialect="sqlite")  # noqa: E731
    columns = ", ".join(f"{ident(c)} {t}".strip() for c, t in table.columns)
    return f"CREATE TABLE {ident(table.name)} ({columns})"


def write_db(path: Path, tables: list[TableDef], data: dict[str, list[tuple]]) -> Path:
    """`data` into a new SQLite file at `path`, whole or not at all; SchemaError when SQLite refuses."""
    try:
        with atomic_path(path) as tmp:
            con = sqlite3.connect(tmp)
            try:
                for t in tables:
                    con.execute(plain_create(t))
                    marks = ", ".join("?" * len(t.columns))
                    quoted = exp.to_identifier(t.name, quoted=True).sql(dialect="sqlite")
                    con.executemany(f"INSERT OR IGNORE INTO {quoted} VALUES ({marks})", data[t.name])
                con.commit()
            finally:
                con.close()
    except sqlite3.Error as err:
        raise SchemaError(f"cannot build a database from the schema: {err}") from err
    return path


def build_synth_db(
    cache_dir: str | Path, schema_sql: str, gold: str, *, seed: int = 0, rows_per_table: int = ROWS_PER_TABLE
) -> Path:
    """The database for one example (built on first use); raises SchemaError for a bad schema."""
    path = synth_db_path(cache_dir, schema_sql, gold, seed)
    if path.exists():
        return path
    tables = parse_schema(schema_sql)
    facts = Facts(tables, gold)
    rng = random.Random(f"{seed}:{path.stem}")
    return write_db(path, tables, synth_rows(tables, facts, rng, rows_per_table))
