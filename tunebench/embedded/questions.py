"""Question templates for the embedded text-to-SQL set, from easy filters to joins.

A template takes a database, one of its tables, the table rows and a random generator, and
returns (question, gold SQL) using values that exist in the rows, so most gold queries return
something. Difficulty: easy (one table, filter/count), medium (aggregates, GROUP BY, ORDER BY,
LIMIT, DISTINCT), hard (joins).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tunebench.embedded.databases import Column, Database, Table

AGG_WORDS = {"AVG": "average", "MAX": "maximum", "MIN": "minimum", "SUM": "total"}


@dataclass(frozen=True)
class Template:
    name: str
    difficulty: str
    scope: str  # "table" (any table) or "join" (child joined to parent)
    make: Callable[[Database, Table, dict, random.Random], tuple[str, str] | None]


def _col_values(table: Table, rows: list[tuple], col: Column) -> list:
    i = table.columns.index(col)
    return [r[i] for r in rows]


def _pick(rng, seq):
    # Sorted first: callers pass sets, whose order of strings changes with PYTHONHASHSEED from one
    # process to the next, and the same seed must build the same dataset in every process.
    return rng.choice(sorted(seq, key=repr)) if seq else None


def _num_threshold(table, rows, col, rng):
    vals = sorted(_col_values(table, rows, col))
    return vals[rng.randint(len(vals) // 4, 3 * len(vals) // 4)]


def count_all(db, t, data, rng):
    return f"How many {t.plural} are there?", f"SELECT COUNT(*) FROM {t.name}"


def list_all(db, t, data, rng):
    c = _pick(rng, t.by_role("name") + t.by_role("cat"))
    return f"List the {c.phrase} of all {t.plural}.", f"SELECT {c.name} FROM {t.name}"


def filter_cat(db, t, data, rng):
    cat = _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    v = _pick(rng, set(_col_values(t, data[t.name], cat)))
    return (
        f"List the {t.label.phrase} of {t.plural} whose {cat.phrase} is {v}.",
        f"SELECT {t.label.name} FROM {t.name} WHERE {cat.name} = '{v}'",
    )


def count_cat(db, t, data, rng):
    cat = _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    v = _pick(rng, set(_col_values(t, data[t.name], cat)))
    return (
        f"How many {t.plural} have {cat.phrase} {v}?",
        f"SELECT COUNT(*) FROM {t.name} WHERE {cat.name} = '{v}'",
    )


def filter_num(db, t, data, rng):
    num = _pick(rng, t.by_role("num"))
    n = _num_threshold(t, data[t.name], num, rng)
    op, word = rng.choice([(">", "greater than"), ("<", "less than")])
    return (
        f"Which {t.plural} have {num.phrase} {word} {n}? Give their {t.label.phrase}.",
        f"SELECT {t.label.name} FROM {t.name} WHERE {num.name} {op} {n}",
    )


def lookup(db, t, data, rng):
    num = _pick(rng, t.by_role("num") + t.by_role("cat"))
    label = _pick(rng, _col_values(t, data[t.name], t.label))
    return (
        f"What is the {num.phrase} of the {t.singular} whose {t.label.phrase} is {label}?",
        f"SELECT {num.name} FROM {t.name} WHERE {t.label.name} = '{label}'",
    )


def aggregate(db, t, data, rng):
    num = _pick(rng, t.by_role("num"))
    fn = rng.choice(list(AGG_WORDS))
    return (
        f"What is the {AGG_WORDS[fn]} {num.phrase} of all {t.plural}?",
        f"SELECT {fn}({num.name}) FROM {t.name}",
    )


def aggregate_where(db, t, data, rng):
    num, cat = _pick(rng, t.by_role("num")), _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    v = _pick(rng, set(_col_values(t, data[t.name], cat)))
    fn = rng.choice(list(AGG_WORDS))
    return (
        f"What is the {AGG_WORDS[fn]} {num.phrase} of {t.plural} whose {cat.phrase} is {v}?",
        f"SELECT {fn}({num.name}) FROM {t.name} WHERE {cat.name} = '{v}'",
    )


def group_count(db, t, data, rng):
    cat = _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    return (
        f"How many {t.plural} are there for each {cat.phrase}?",
        f"SELECT {cat.name}, COUNT(*) FROM {t.name} GROUP BY {cat.name}",
    )


def group_agg(db, t, data, rng):
    num, cat = _pick(rng, t.by_role("num")), _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    fn = rng.choice(list(AGG_WORDS))
    return (
        f"What is the {AGG_WORDS[fn]} {num.phrase} of {t.plural} for each {cat.phrase}?",
        f"SELECT {cat.name}, {fn}({num.name}) FROM {t.name} GROUP BY {cat.name}",
    )


def top_k(db, t, data, rng):
    num = _pick(rng, t.by_role("num"))
    k = rng.randint(1, 5)
    high = rng.random() < 0.5
    word, order = ("highest", "DESC") if high else ("lowest", "ASC")
    noun = t.singular if k == 1 else t.plural
    return (
        f"List the {t.label.phrase} of the {k} {noun} with the {word} {num.phrase}.",
        f"SELECT {t.label.name} FROM {t.name} ORDER BY {num.name} {order} LIMIT {k}",
    )


def order_by(db, t, data, rng):
    num = _pick(rng, t.by_role("num"))
    asc = rng.random() < 0.5
    words, order = ("from lowest to highest", "ASC") if asc else ("from highest to lowest", "DESC")
    return (
        f"List the {t.label.phrase} of all {t.plural} sorted by {num.phrase} {words}.",
        f"SELECT {t.label.name} FROM {t.name} ORDER BY {num.name} {order}",
    )


def distinct(db, t, data, rng):
    cat = _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    return (
        f"What are the different {cat.phrase} values of {t.plural}?",
        f"SELECT DISTINCT {cat.name} FROM {t.name}",
    )


def most_common(db, t, data, rng):
    cat = _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    return (
        f"Which {cat.phrase} has the most {t.plural}?",
        f"SELECT {cat.name} FROM {t.name} GROUP BY {cat.name} ORDER BY COUNT(*) DESC LIMIT 1",
    )


def between(db, t, data, rng):
    num = _pick(rng, t.by_role("num"))
    a = _num_threshold(t, data[t.name], num, rng)
    b = _num_threshold(t, data[t.name], num, rng)
    a, b = min(a, b), max(a, b)
    return (
        f"List the {t.label.phrase} of {t.plural} with {num.phrase} between {a} and {b}.",
        f"SELECT {t.label.name} FROM {t.name} WHERE {num.name} BETWEEN {a} AND {b}",
    )


def cat_and_num(db, t, data, rng):
    num, cat = _pick(rng, t.by_role("num")), _pick(rng, t.by_role("cat"))
    if cat is None:
        return None
    v = _pick(rng, set(_col_values(t, data[t.name], cat)))
    n = _num_threshold(t, data[t.name], num, rng)
    return (
        f"List the {t.label.phrase} of {t.plural} whose {cat.phrase} is {v} and whose {num.phrase} is greater than {n}.",
        f"SELECT {t.label.name} FROM {t.name} WHERE {cat.name} = '{v}' AND {num.name} > {n}",
    )


def _join(db: Database) -> str:
    return f"FROM {db.child.name} AS T1 JOIN {db.parent.name} AS T2 ON T1.{db.fk} = T2.id"


def join_filter_cat(db, t, data, rng):
    p, c = db.parent, db.child
    cat = _pick(rng, p.by_role("cat"))
    v = _pick(rng, set(_col_values(p, data[p.name], cat)))
    return (
        f"List the {c.label.phrase} of {c.plural} whose {p.singular} has {cat.phrase} {v}.",
        f"SELECT T1.{c.label.name} {_join(db)} WHERE T2.{cat.name} = '{v}'",
    )


def join_filter_name(db, t, data, rng):
    p, c = db.parent, db.child
    label = _pick(rng, _col_values(p, data[p.name], p.label))
    return (
        f"List the {c.label.phrase} of {c.plural} of the {p.singular} whose {p.label.phrase} is {label}.",
        f"SELECT T1.{c.label.name} {_join(db)} WHERE T2.{p.label.name} = '{label}'",
    )


def join_group_count(db, t, data, rng):
    p, c = db.parent, db.child
    return (
        f"How many {c.plural} does each {p.singular} have? Give the {p.singular} {p.label.phrase} and the count.",
        f"SELECT T2.{p.label.name}, COUNT(*) {_join(db)} GROUP BY T2.{p.label.name}",
    )


def join_group_agg(db, t, data, rng):
    p, c = db.parent, db.child
    num = _pick(rng, c.by_role("num"))
    fn = rng.choice(list(AGG_WORDS))
    return (
        f"What is the {AGG_WORDS[fn]} {num.phrase} of {c.plural} for each {p.singular} {p.label.phrase}?",
        f"SELECT T2.{p.label.name}, {fn}(T1.{num.name}) {_join(db)} GROUP BY T2.{p.label.name}",
    )


def join_parent_of(db, t, data, rng):
    p, c = db.parent, db.child
    label = _pick(rng, _col_values(c, data[c.name], c.label))
    return (
        f"What is the {p.label.phrase} of the {p.singular} of the {c.singular} whose {c.label.phrase} is {label}?",
        f"SELECT T2.{p.label.name} {_join(db)} WHERE T1.{c.label.name} = '{label}'",
    )


TEMPLATES: tuple[Template, ...] = (
    Template("count_all", "easy", "table", count_all),
    Template("list_all", "easy", "table", list_all),
    Template("filter_cat", "easy", "table", filter_cat),
    Template("count_cat", "easy", "table", count_cat),
    Template("filter_num", "easy", "table", filter_num),
    Template("lookup", "easy", "table", lookup),
    Template("aggregate", "medium", "table", aggregate),
    Template("aggregate_where", "medium", "table", aggregate_where),
    Template("group_count", "medium", "table", group_count),
    Template("group_agg", "medium", "table", group_agg),
    Template("top_k", "medium", "table", top_k),
    Template("order_by", "medium", "table", order_by),
    Template("distinct", "medium", "table", distinct),
    Template("most_common", "medium", "table", most_common),
    Template("between", "medium", "table", between),
    Template("cat_and_num", "medium", "table", cat_and_num),
    Template("join_filter_cat", "hard", "join", join_filter_cat),
    Template("join_filter_name", "hard", "join", join_filter_name),
    Template("join_group_count", "hard", "join", join_group_count),
    Template("join_group_agg", "hard", "join", join_group_agg),
    Template("join_parent_of", "hard", "join", join_parent_of),
)
