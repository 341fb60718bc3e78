"""Wrong variants of a gold query, the mistakes a model makes: each mutation returns the mutated SQL,
or None when the gold has nothing to mutate that way or the mutant could be equivalent to the gold.
Used to measure how often a wrong query is wrongly accepted on one database vs a test suite.

None of these is equivalent to its gold under SQLite's semantics (text compares case-sensitively with
`=`, LIKE ignores ASCII case, `x LIKE 'a%'` also takes 'ab'): every mutation keeps to the cases where
some database tells them apart, and skips the rest (a literal repeated in its IN list, a literal
without letters for the case mutations, a pattern with wildcards, a gold with no WHERE, …).
"""

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


def _where(tree):
    return tree.args.get("where") if isinstance(tree, exp.Select) else None


def _string_equalities(tree) -> list[tuple[exp.EQ, exp.Column, exp.Literal]]:
    """(`column = 'text'`, column, literal) in the WHERE, either way round."""
    where = _where(tree)
    found = []
    for eq in where.find_all(exp.EQ) if where is not None else []:
        for col, lit in ((eq.this, eq.expression), (eq.expression, eq.this)):
            if isinstance(col, exp.Column) and isinstance(lit, exp.Literal) and lit.is_string:
                found.append((eq, col, lit))
    return found


def _has_letter(text: str) -> bool:
    return any(ch.isascii() and ch.isalpha() for ch in text)


def _plain(text: str) -> bool:
    """No LIKE wildcard: `col LIKE 'text'` then differs from `col = 'text'` only by case."""
    return "%" not in text and "_" not in text


def drop_where(sql, schema):
    tree = _tree(sql)
    if _where(tree) is None:
        return None
    tree.set("where", None)
    return _sql(tree)


def drop_a_condition(sql, schema):
    """`WHERE a AND b` → `WHERE a` (the last condition dropped)."""
    tree = _tree(sql)
    where = _where(tree)
    if where is None or not isinstance(where.this, exp.And):
        return None
    and_ = where.this
    if and_.this == and_.expression:
        return None
    and_.replace(and_.this.copy())
    return _sql(tree)


def and_to_or(sql, schema):
    tree = _tree(sql)
    where = _where(tree)
    if where is None or not isinstance(where.this, exp.And) or where.this.this == where.this.expression:
        return None
    and_ = where.this
    and_.replace(exp.Or(this=and_.this.copy(), expression=and_.expression.copy()))
    return _sql(tree)


def change_literal(sql, schema):
    tree = _tree(sql)
    where = _where(tree)
    lit = where.find(exp.Literal) if where is not None else None
    if lit is None:
        return None
    if isinstance(lit.parent, exp.In) and [e for e in lit.parent.expressions if e == lit][1:]:
        return None  # `IN ('Texas', 'Texas')`: changing one copy changes nothing
    if lit.is_string:
        lit.replace(exp.Literal.string(lit.this + "x"))
    else:
        try:
            lit.replace(exp.Literal.number(float(lit.this) + 1 if "." in lit.this else int(lit.this) + 1))
        except ValueError:
            return None
    return _sql(tree)


def change_case(sql, schema):
    """`= 'essay'` → `= 'Essay'`: SQLite's `=` is case-sensitive."""
    tree = _tree(sql)
    for _, _, lit in _string_equalities(tree):
        text = lit.this
        if _has_letter(text):
            i = next(i for i, ch in enumerate(text) if ch.isascii() and ch.isalpha())
            lit.replace(exp.Literal.string(text[:i] + text[i].swapcase() + text[i + 1 :]))
            return _sql(tree)
    return None


def shorten_literal(sql, schema):
    """`= 'Lions'` → `= 'Lion'`."""
    tree = _tree(sql)
    for _, _, lit in _string_equalities(tree):
        if len(lit.this) >= 2:
            lit.replace(exp.Literal.string(lit.this[:-1]))
            return _sql(tree)
    return None


def _replace_equality(sql, make) -> str | None:
    tree = _tree(sql)
    for eq, col, lit in _string_equalities(tree):
        new = make(col.copy(), lit.this)
        if new is not None:
            eq.replace(new)
            return _sql(tree)
    return None


def equal_to_like(sql, schema):
    """`= 'Essay'` → `LIKE 'Essay'` (which also takes 'essay')."""
    return _replace_equality(
        sql,
        lambda col, text: (
            exp.Like(this=col, expression=exp.Literal.string(text))
            if _has_letter(text) and _plain(text)
            else None
        ),
    )


def equal_to_prefix(sql, schema):
    """`= 'v'` → `LIKE 'v%'` (which also takes 'v2')."""
    return _replace_equality(
        sql,
        lambda col, text: (
            exp.Like(this=col, expression=exp.Literal.string(text + "%")) if _plain(text) else None
        ),
    )


def equal_nocase(sql, schema):
    """`= 'Essay'` → `= 'Essay' COLLATE NOCASE`."""
    return _replace_equality(
        sql,
        lambda col, text: (
            exp.EQ(
                this=exp.Collate(this=col, expression=exp.Var(this="NOCASE")),
                expression=exp.Literal.string(text),
            )
            if _has_letter(text)
            else None
        ),
    )


def change_comparison(sql, schema):
    tree = _tree(sql)
    node = tree.find(*_FLIPS) if tree is not None else None
    if node is None:
        return None
    node.replace(_FLIPS[type(node)](this=node.this.copy(), expression=node.expression.copy()))
    return _sql(tree)


def _swap_function(sql, pairs: dict) -> str | None:
    """The first call of a function in `pairs` replaced by its partner (MIN ↔ MAX, SUM ↔ AVG)."""
    tree = _tree(sql)
    node = tree.find(*pairs) if tree is not None else None
    if node is None:
        return None
    node.replace(pairs[type(node)](this=node.this.copy()))
    return _sql(tree)


def swap_min_max(sql, schema):
    return _swap_function(sql, {exp.Min: exp.Max, exp.Max: exp.Min})


def sum_to_avg(sql, schema):
    return _swap_function(sql, {exp.Sum: exp.Avg, exp.Avg: exp.Sum})


def flip_order(sql, schema):
    """ORDER BY x DESC ↔ ASC."""
    tree = _tree(sql)
    order = tree.args.get("order") if tree is not None else None
    if order is None or not order.expressions:
        return None
    key = order.expressions[0]
    key.set("desc", not key.args.get("desc"))
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
    "drop a condition": drop_a_condition,
    "AND to OR": and_to_or,
    "change a literal": change_literal,
    "change a literal's case": change_case,
    "shorten a literal": shorten_literal,
    "= to LIKE": equal_to_like,
    "= to LIKE prefix": equal_to_prefix,
    "= to COLLATE NOCASE": equal_nocase,
    "change a comparison": change_comparison,
    "MIN to MAX": swap_min_max,
    "SUM to AVG": sum_to_avg,
    "flip ORDER BY": flip_order,
    "drop LIMIT": drop_limit,
    "change LIMIT": change_limit,
    "swap a column": swap_column,
    "drop DISTINCT": drop_distinct,
    "drop a join condition": drop_join_condition,
}


def _strings_as_strings(sql: str, schema: str) -> str:
    """sql-create-context writes strings in double quotes (`college = "Duke"`), which SQLite reads as
    text when no column has that name; sqlglot reads a name. Give the mutations the string."""
    tree, columns = _tree(sql), column_names(schema) or set()
    if tree is None:
        return sql
    for col in list(tree.find_all(exp.Column)):
        ident = col.this
        quoted = isinstance(ident, exp.Identifier) and ident.args.get("quoted") and not col.table
        if quoted and ident.name.lower() not in columns:
            col.replace(exp.Literal.string(ident.name))
    return _sql(tree)


def mutants(sql: str, schema: str) -> list[tuple[str, str]]:
    """(mutation name, mutated SQL) for every mutation that applies and changes the text."""
    out = []
    sql = _strings_as_strings(sql, schema)
    for name, mutate in MUTATIONS.items():
        mutated = mutate(sql, schema)
        if mutated and mutated != _sql(_tree(sql)):
            out.append((name, mutated))
    return out


def _equivalents(sql: str, schema: str) -> list[str]:
    """Rewrites with the same answer on every database: the suite must accept each."""
    out = []
    tree = _tree(_strings_as_strings(sql, schema))
    where = _where(tree)
    if where is None:
        return out
    if isinstance(where.this, exp.And):  # conditions in the other order
        t = tree.copy()
        a = _where(t).this
        a.replace(exp.And(this=a.expression.copy(), expression=a.this.copy()))
        out.append(_sql(t))
    for eq, col, lit in _string_equalities(tree):  # `col = 'x'` as `'x' = col` and as `col IN ('x')`
        for make in (
            lambda c, v: exp.EQ(this=exp.Literal.string(v), expression=c),
            lambda c, v: exp.In(this=c, expressions=[exp.Literal.string(v)]),
        ):
            t = tree.copy()
            target = next(e for e, _, _ in _string_equalities(t) if e == eq)
            target.replace(make(col.copy(), lit.this))
            out.append(_sql(t))
        break
    between = tree.find(exp.Between)
    if between is not None:  # `x BETWEEN a AND b` as `x >= a AND x <= b`
        t = tree.copy()
        b = t.find(exp.Between)
        b.replace(
            exp.And(
                this=exp.GTE(this=b.this.copy(), expression=b.args["low"].copy()),
                expression=exp.LTE(this=b.this.copy(), expression=b.args["high"].copy()),
            )
        )
        out.append(_sql(t))
    return out


def false_rejects(examples, scorer) -> list[tuple[str, str]]:
    """(gold, rewrite) pairs the test suite rejects although they are equivalent (or the gold itself)."""
    out = []
    for ex in examples:
        for rewrite in [ex.query, *_equivalents(ex.query, ex.schema)]:
            decided = scorer.decide(ex.databases, ex.query, rewrite)
            if decided["single_db"]["spider"][1] != "gold_error" and not decided["spider"][0]:
                out.append((ex.query, rewrite))
    return out


def false_accepts(examples, scorer) -> dict:
    """{mutation: [n, accepted on one database, accepted on the test suite, examples accepted]} by the
    `spider` metric, plus `strict` for drop DISTINCT (which the official decision ignores by design)."""
    table: dict[str, list] = {}
    for ex in examples:
        for name, mutated in mutants(ex.query, ex.schema):
            decided = scorer.decide(ex.databases, ex.query, mutated)
            if decided["single_db"]["spider"][1] == "gold_error":
                continue
            metric = "strict" if name == "drop DISTINCT" else "spider"
            row = table.setdefault(name, [0, 0, 0, []])
            row[0] += 1
            row[1] += decided["single_db"][metric][0]
            row[2] += decided[metric][0]
            if decided[metric][0]:
                row[3].append((ex.query, mutated))
    return table


def rates(table: dict) -> tuple[int, int, int]:
    """(mutants, accepted on one database, accepted on the test suite)."""
    return tuple(sum(row[i] for row in table.values()) for i in range(3))
