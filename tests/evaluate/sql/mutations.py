"""Near-miss mutations of a gold query, the mistakes a model makes: each returns the mutated SQL, or
None when the gold has nothing to mutate that way. Used to measure how often a wrong query is
wrongly accepted on one database vs a test suite of databases."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from tunebench.sql.schema import column_names

_FLIPS = {
    exp.GT: exp.GTE,
    exp.GTE: exp.GT,
    exp.LT: exp.LTE,
    exp.LTE: exp.LT,
    exp.EQ: exp.NEQ,
    exp.NEQ: exp.EQ,
}


def _tree(sql: str):
    try:
        return sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return None


def _sql(tree) -> str:
    return tree.sql(dialect="sqlite")


def drop_where(sql, schema):
    tree = _tree(sql)
    if tree is None or not tree.args.get("where"):
        return None
    tree.set("where", None)
    return _sql(tree)


def change_literal(sql, schema):
    tree = _tree(sql)
    where = tree.args.get("where") if tree is not None else None
    lit = (where or tree or exp.Null()).find(exp.Literal) if tree is not None else None
    if lit is None:
        return None
    if lit.is_string:
        lit.replace(exp.Literal.string(lit.this + "x"))
    else:
        try:
            lit.replace(exp.Literal.number(float(lit.this) + 1 if "." in lit.this else int(lit.this) + 1))
        except ValueError:
            return None
    return _sql(tree)


def change_comparison(sql, schema):
    tree = _tree(sql)
    node = tree.find(*_FLIPS) if tree is not None else None
    if node is None:
        return None
    node.replace(_FLIPS[type(node)](this=node.this.copy(), expression=node.expression.copy()))
    return _sql(tree)


def drop_limit(sql, schema):
    tree = _tree(sql)
    if tree is None or not tree.args.get("limit"):
        return None
    tree.set("limit", None)
    return _sql(tree)


def change_limit(sql, schema):
    tree = _tree(sql)
    limit = tree.args.get("limit") if tree is not None else None
    if limit is None or not isinstance(limit.expression, exp.Literal):
        return None
    limit.set("expression", exp.Literal.number(int(limit.expression.this) + 1))
    return _sql(tree)


def swap_column(sql, schema):
    tree = _tree(sql)
    columns = sorted(column_names(schema) or [])
    if tree is None or not isinstance(tree, exp.Select):
        return None
    for projection in tree.expressions:
        col = projection.find(exp.Column)
        if col is not None:
            others = [c for c in columns if c != col.name.lower()]
            if not others:
                return None
            col.set("this", exp.to_identifier(others[0]))
            return _sql(tree)
    return None


def drop_distinct(sql, schema):
    tree = _tree(sql)
    node = tree.find(exp.Distinct) if tree is not None else None
    if node is None:
        return None
    parent = node.parent
    if isinstance(parent, exp.Select):
        parent.set("distinct", None)
    else:
        node.replace(node.expressions[0] if node.expressions else exp.Star())
    return _sql(tree)


def drop_join_condition(sql, schema):
    tree = _tree(sql)
    join = tree.find(exp.Join) if tree is not None else None
    if join is None or not join.args.get("on"):
        return None
    join.set("on", None)
    return _sql(tree)


MUTATIONS = {
    "drop WHERE": drop_where,
    "change a literal": change_literal,
    "change a comparison": change_comparison,
    "drop LIMIT": drop_limit,
    "change LIMIT": change_limit,
    "swap a column": swap_column,
    "drop DISTINCT": drop_distinct,
    "drop a join condition": drop_join_condition,
}


def mutants(sql: str, schema: str) -> list[tuple[str, str]]:
    """(mutation name, mutated SQL) for every mutation that applies and changes the text."""
    out = []
    for name, mutate in MUTATIONS.items():
        mutated = mutate(sql, schema)
        if mutated and mutated != _sql(_tree(sql)):
            out.append((name, mutated))
    return out


def false_accepts(examples, scorer) -> dict:
    """{mutation: [n, accepted on one database, accepted on the test suite]} by the `spider` metric,
    plus `strict` for drop DISTINCT (which the official decision ignores by design)."""
    table: dict[str, list[int]] = {}
    for ex in examples:
        for name, mutated in mutants(ex.query, ex.schema):
            decided = scorer.decide(ex.databases, ex.query, mutated)
            if decided["single_db"]["spider"][1] == "gold_error":
                continue
            metric = "strict" if name == "drop DISTINCT" else "spider"
            row = table.setdefault(name, [0, 0, 0])
            row[0] += 1
            row[1] += decided["single_db"][metric][0]
            row[2] += decided[metric][0]
    return table
