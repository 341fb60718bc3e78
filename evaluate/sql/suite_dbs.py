"""Test-suite databases: each question is scored on several databases, and a prediction counts only if
it matches on every one (distilled test suites, Zhong, Yu and Klein, EMNLP 2020), so a wrong query
cannot pass by luck on one database.

- sql-create-context (schemas without rows): besides the database of `synth_db` (variant 0), variant 1
  holds, for every predicate of the gold on a literal, a row that violates exactly that predicate and
  satisfies the others (dropping or changing a condition then changes the answer), and variant 2 is a
  larger random fill with another seed; in both, a gold's `HAVING COUNT(*) <op> N` gets one group
  planted just inside the bound and one just outside (otherwise such golds return nothing and every
  empty prediction "matches").
- embedded and Spider-format databases (already populated): a copy that keeps a pseudo-random ~65% of
  each table's rows, and a copy with values planted for the gold's literals: for every `column <op>
  literal`, one row just inside the condition and two just outside, their other columns at extremes.
Variants are built once, deterministically, into a cache folder. Golds empty on every database of
their suite are counted and flagged in the report, never silently scored.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
from pathlib import Path

from sqlglot import exp

from tunebench.evaluate.sql.synth_db import (
    ROWS_PER_TABLE,
    Facts,
    other_word,
    synth_db_path,
    synth_rows,
    write_db,
)
from tunebench.runs.atomic_io import atomic_path
from tunebench.sql.execute import schema_of
from tunebench.sql.parse import parse_sql
from tunebench.sql.schema import SchemaError, TableDef, parse_schema

SUITE_SIZE = 3  # databases per question: the original and two variants
KEEP_PERCENT = 65  # populated databases: the share of rows a variant keeps
SUITE_VERSION = 2  # 2: extremes by column type, near-miss strings, rows violating one predicate


def _having_counts(gold: str) -> list[tuple[type, int, exp.Column]]:
    """(comparison, N, group column) for each `HAVING COUNT(…) <op> N` of the gold."""
    tree = parse_sql(gold)
    if tree is None:
        return []
    found = []
    for select in tree.find_all(exp.Select) if tree is not None else []:
        group, having = select.args.get("group"), select.args.get("having")
        columns = [c for c in (group.expressions if group else []) if isinstance(c, exp.Column)]
        if not having or not columns:
            continue
        for cmp in having.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ):
            left, right, op = cmp.this, cmp.expression, type(cmp)
            if isinstance(right, exp.Count) and isinstance(left, exp.Literal):
                left, right = right, left
                op = {exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE}.get(op, op)
            if isinstance(left, exp.Count) and isinstance(right, exp.Literal) and not right.is_string:
                try:
                    found.append((op, int(float(right.this)), columns[0]))
                except ValueError:
                    continue
    return found


def _group_sizes(op: type, n: int) -> tuple[int, int]:
    """(rows in a group that satisfies `COUNT(*) op n`, rows in one that just fails it)."""
    return {
        exp.GT: (n + 1, n),
        exp.GTE: (n, n - 1),
        exp.LT: (n - 1, n),
        exp.LTE: (n, n + 1),
        exp.EQ: (n, n + 1),
    }[op]


def _plant_groups(tables: list[TableDef], facts: Facts, gold: str, data: dict[str, list[tuple]]) -> None:
    """Copies of the witness row (row 0) forming one group just inside the HAVING bound, one just outside."""
    for op, n, column in _having_counts(gold):
        inside, outside = (max(0, k) for k in _group_sizes(op, n))
        if inside + outside > 500:  # a bound no small database can show
            continue
        for table_name, col in facts.owners_of(column):
            table = next(t for t in tables if t.name.lower() == table_name)
            index = [c.lower() for c in table.column_names].index(col)
            witness = list(data[table.name][0])
            other = list(witness)
            other[index] = (
                other_word(witness[index]) if isinstance(witness[index], str) else (witness[index] or 0) + 7
            )
            planted = [tuple(witness)] * inside + [tuple(other)] * outside
            rest = [r for r in data[table.name][1:] if r[index] not in (witness[index], other[index])]
            data[table.name] = planted + rest


BIG_NUMBER = 999_999_999
LOW_TEXT, HIGH_TEXT = "", "~~~~~~"  # nothing sorts below '' among texts, little above '~' (ASCII)


def _extreme(value, low: bool):
    """A value of `value`'s own type that sorts below (or above) anything a fill or a real table holds:
    MIN/MAX/SUM over a missed condition then change. Numbers and text never stand in for each other
    (SQLite sorts every number below every text, so a text 'extreme' in a number column changes no
    MIN and no SUM). The high number is twice as far out as the low one, so a low and a high row
    planted together do not cancel in a SUM."""
    if isinstance(value, str):
        return LOW_TEXT if low else HIGH_TEXT
    if isinstance(value, bytes):
        return value
    number = -BIG_NUMBER if low else 2 * BIG_NUMBER
    return float(number) if isinstance(value, float) else number


def _distractors(tables: list[TableDef], facts: Facts, data: dict[str, list[tuple]]) -> None:
    """Per table: the witness, then for each predicate value two rows that violate it and nothing else,
    their free columns at either extreme (so an aggregate over a missed condition changes too)."""
    joined = {member for group in facts.joins for member in group}
    for t in tables:
        witness = data[t.name][0]
        keys = [(t.name.lower(), c.lower()) for c in t.column_names]
        free = [i for i, k in enumerate(keys) if k not in facts.values and k not in joined]
        rows = [witness]
        for i, key in enumerate(keys):
            for _, violating in facts.values.get(key, []):
                for low in (True, False):
                    row = list(witness)
                    row[i] = violating
                    for j in free:
                        row[j] = _extreme(witness[j], low)
                    rows.append(tuple(row))
        data[t.name] = rows + data[t.name][len(rows) :]


def synth_variant(cache_dir: str | Path, schema_sql: str, gold: str, *, seed: int, variant: int) -> Path:
    """Variant `variant` (1 or 2) of a sql-create-context question's database (built on first use)."""
    base = synth_db_path(cache_dir, schema_sql, gold, seed)
    path = base.with_name(f"{base.stem}-suite{SUITE_VERSION}-v{variant}.sqlite")
    if path.exists():
        return path
    tables = parse_schema(schema_sql)
    facts = Facts(tables, gold)
    rng = random.Random(f"{seed}:{variant}:{base.stem}")
    data = synth_rows(tables, facts, rng, ROWS_PER_TABLE * variant)
    if variant == 1:
        _distractors(tables, facts, data)
    _plant_groups(tables, facts, gold, data)
    return write_db(path, tables, data)


def synth_suite(cache_dir: str | Path, schema_sql: str, gold: str, *, seed: int) -> list[str]:
    return [
        str(synth_variant(cache_dir, schema_sql, gold, seed=seed, variant=v)) for v in range(1, SUITE_SIZE)
    ]


def _drop_triggers(con: sqlite3.Connection) -> None:
    """A copied database's triggers go before its rows are changed: a trigger is untrusted SQL, and
    only the sandbox runs what tunebench did not write."""
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {exp.to_identifier(name, quoted=True).sql(dialect='sqlite')}")


def populated_variant(db_path: str | Path, cache_dir: str | Path, variant: int) -> Path:
    """A copy of a populated database keeping a pseudo-random share of each table's rows."""
    db_path = Path(db_path)
    digest = hashlib.sha256(f"{SUITE_VERSION}\0{db_path.resolve()}".encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"{db_path.stem}-{digest}-v{variant}.sqlite"
    if path.exists():
        return path
    with atomic_path(path) as tmp:
        shutil.copyfile(db_path, tmp)
        con = sqlite3.connect(tmp)
        try:
            _drop_triggers(con)
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                if table.startswith("sqlite_"):
                    continue
                quoted = exp.to_identifier(table, quoted=True).sql(dialect="sqlite")
                # Knuth's multiplicative hash of the rowid: a different, fixed subset per variant.
                con.execute(
                    f"DELETE FROM {quoted} WHERE ((rowid * 2654435761 + ?) % 4294967296) % 100 >= ?",
                    (variant * 7919, KEEP_PERCENT),
                )
            con.commit()
        except sqlite3.DatabaseError:  # a table without rowid: keep this variant as a plain copy
            con.rollback()
        finally:
            con.close()
    return path


def planted_variant(db_path: str | Path, gold: str, cache_dir: str | Path) -> Path:
    """A copy of a populated database where, for every `column <op> literal` of the gold, one row takes
    a value just inside the condition and two rows a value just outside it, their other numeric and
    text columns at either extreme: a changed literal or comparison, or a dropped condition, shows."""
    db_path = Path(db_path)
    digest = hashlib.sha256(f"{SUITE_VERSION}\0{db_path.resolve()}\0{gold}".encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{db_path.stem}-{digest}-planted.sqlite"
    if path.exists():
        return path
    try:
        tables = parse_schema(schema_of(db_path))
    except SchemaError:  # a schema sqlglot cannot read: the subset variant still stands
        tables = []
    facts = Facts(tables, gold) if tables else None
    with atomic_path(path) as tmp:
        shutil.copyfile(db_path, tmp)
        con = sqlite3.connect(tmp)
        try:
            _drop_triggers(con)
            for table in tables:
                _plant_rows(con, table, facts)
            con.commit()
        finally:
            con.close()
    return path


def _column_samples(con: sqlite3.Connection, quoted: str, keys: list[str]) -> dict[str, object]:
    """A typical stored value of each column (the most common type's first value): what its extremes
    are made of. Columns holding only NULL get an integer."""
    out = {}
    for c in keys:
        col = exp.to_identifier(c, quoted=True).sql(dialect="sqlite")
        row = con.execute(
            f"SELECT {col} FROM {quoted} WHERE {col} IS NOT NULL GROUP BY typeof({col}) "
            "ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()
        out[c] = row[0] if row else 0
    return out


def _plant_rows(con: sqlite3.Connection, table: TableDef, facts: Facts) -> None:
    """For each predicate value of the gold on this table: one row inside every predicate, and two rows
    that violate exactly this one, their free columns (no predicate, no join) at either extreme."""
    quoted = exp.to_identifier(table.name, quoted=True).sql(dialect="sqlite")
    keys = [c.lower() for c in table.column_names]
    own = {c: facts.values[(table.name.lower(), c)] for c in keys if (table.name.lower(), c) in facts.values}
    planted = [(c, pair) for c in keys for pair in own.get(c, [])]
    if not planted:
        return
    try:
        rowids = [
            r[0]
            for r in con.execute(f"SELECT rowid FROM {quoted} ORDER BY rowid LIMIT ?", (3 * len(planted),))
        ]
        samples = _column_samples(con, quoted, keys)
    except sqlite3.DatabaseError:  # WITHOUT ROWID, or a column sqlglot names otherwise
        return
    joined = {member for group in facts.joins for member in group}
    free = [c for c in keys if c not in own and (table.name.lower(), c) not in joined]
    inside_all = {c: pairs[0][0] for c, pairs in own.items()}
    for n, (col, (inside, outside)) in enumerate(planted):
        for k, rowid in enumerate(rowids[3 * n : 3 * n + 3]):
            sets = {**inside_all, col: inside if k == 0 else outside}
            if k:  # the two rows outside the condition: their free columns at the extremes
                sets |= {c: _extreme(samples[c], low=k == 1) for c in free}
            assignments = ", ".join(
                f"{exp.to_identifier(c, quoted=True).sql(dialect='sqlite')} = ?" for c in sets
            )
            try:
                con.execute(f"UPDATE {quoted} SET {assignments} WHERE rowid = ?", (*sets.values(), rowid))
            except sqlite3.DatabaseError:  # a UNIQUE or CHECK constraint: leave that row as it was
                continue


def populated_suite(db_path: str | Path, gold: str, cache_dir: str | Path) -> list[str]:
    """The variants of a populated database for one question: a row subset and the planted copy."""
    return [str(populated_variant(db_path, cache_dir, 1)), str(planted_variant(db_path, gold, cache_dir))]
