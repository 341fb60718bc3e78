"""Per-example text-to-SQL metrics: the execution decision of one metric on one database, exact match
after sqlglot normalization, and the original notebooks' raw string match.

Whether two results are the same answer is decided in one place, `tunebench.sql.compare` (the official
Spider comparison, with each metric's order rule and value rule: `compare.SPIDER`, `compare.STRICT`).
Around it, per metric and database: a gold that fails is no question (`gold_error`); a prediction that
errs or times out scores 0; results are compared whole (`--max-rows` is off by default; with a cap,
a prediction capped where the gold was not returned more rows, and both capped is `undecided`).
"""

from __future__ import annotations

from sqlglot import exp

from tunebench.sql.compare import Rules, results_equal
from tunebench.sql.parse import PARSE_ERRORS, parse_sql

OUTCOMES = ("match", "mismatch", "pred_error", "pred_timeout", "pred_truncated", "gold_error", "undecided")
UNSCORED = ("gold_error", "undecided")  # outcomes left out of accuracy (counted and reported)


def score_execution(gold: dict, pred: dict, ordered: bool, rules: Rules) -> tuple[bool, str]:
    """(match, outcome) from two `SqlResult.to_json()` dicts, the rows compared under `rules`."""
    if gold.get("error"):
        return False, "gold_error"
    if pred.get("timed_out"):
        return False, "pred_timeout"
    if pred.get("error"):
        return False, "pred_error"
    if pred.get("truncated") and gold.get("truncated"):
        return False, "undecided"  # both stopped at the row cap: the rest of the rows are unknown
    if pred.get("truncated"):
        return False, "pred_truncated"
    if gold.get("truncated"):
        return False, "mismatch"  # the prediction ended before the gold's cap: fewer rows
    ok = results_equal(gold["rows"], pred["rows"], ordered, float_digits=rules.float_digits)
    return ok, "match" if ok else "mismatch"


# ---- exact match after normalization -------------------------------------------------------------


def _strings_for_unknown_quoted(tree: exp.Expression, columns: set[str]) -> None:
    """SQLite reads "Paris" as a string when no column has that name; so does this normalizer."""
    for col in list(tree.find_all(exp.Column)):
        ident = col.this
        if (
            isinstance(ident, exp.Identifier)
            and ident.args.get("quoted")
            and not col.table
            and ident.name.lower() not in columns
        ):
            col.replace(exp.Literal.string(ident.name))


def _drop_table_aliases(tree: exp.Expression) -> None:
    """`FROM employees AS T1 … T1.name` → `FROM employees … employees.name`; unqualified when one table."""
    tables = list(tree.find_all(exp.Table))
    names = [t.name.lower() for t in tables]
    if len(set(names)) != len(names):  # a self-join or a table used twice: aliases carry meaning
        return
    alias_to_table = {t.alias.lower(): t.name.lower() for t in tables if t.alias}
    for t in tables:
        t.set("alias", None)
    single = len(names) == 1
    for col in tree.find_all(exp.Column):
        qualifier = col.table.lower()
        if not qualifier:
            continue
        if single:
            col.set("table", None)
        elif qualifier in alias_to_table:
            col.set("table", exp.to_identifier(alias_to_table[qualifier]))


def _drop_output_aliases(tree: exp.Expression) -> None:
    """`SELECT COUNT(*) AS cnt` → `SELECT COUNT(*)` in the outer query, unless `cnt` is used elsewhere."""
    if not isinstance(tree, exp.Select):
        return
    for proj in list(tree.expressions):
        if not isinstance(proj, exp.Alias):
            continue
        inside = {id(c) for c in proj.find_all(exp.Column)}
        name = proj.alias.lower()
        if not any(c.name.lower() == name for c in tree.find_all(exp.Column) if id(c) not in inside):
            proj.replace(proj.this)


def normalize_sql(sql: str, columns: set[str] | None = None) -> str | None:
    """A canonical text for `sql` (None when it does not parse): keywords and identifiers in one
    case, no quoting, no table or output aliases, one spacing; string literals untouched."""
    tree = parse_sql(sql)
    if tree is None:
        return None
    if columns is not None:
        _strings_for_unknown_quoted(tree, columns)
    _drop_output_aliases(tree)
    _drop_table_aliases(tree)
    for ident in tree.find_all(exp.Identifier):
        ident.set("quoted", False)
        ident.set("this", ident.name.lower())
    for join in tree.find_all(exp.Join):
        if (join.args.get("kind") or "").upper() == "INNER":  # JOIN = INNER JOIN
            join.set("kind", None)
    try:
        return tree.sql(dialect="sqlite", normalize_functions="upper")
    except PARSE_ERRORS:
        return None


def _collapse(sql: str) -> str:
    return " ".join(sql.strip().rstrip(";").split()).lower()


def exact_match(gold: str, pred: str, columns: set[str] | None = None) -> bool:
    """Equal after normalization; when the gold does not parse, equal after collapsing spaces and case."""
    norm_gold = normalize_sql(gold, columns)
    if norm_gold is None:
        return _collapse(gold) == _collapse(pred)
    return norm_gold == normalize_sql(pred, columns)


def raw_match(gold: str, raw_output: str) -> bool:
    """The original notebooks' metric: the model's stripped output equals the gold string exactly."""
    return raw_output.strip() == gold.strip()


# ---- query shape, for breakdowns of datasets without labels --------------------------------------


def classify_sql(sql: str) -> tuple[str, str]:
    """(difficulty, query type) from the SQL's structure; ("unknown", "unparsed") if it does not parse.

    hard: joins, subqueries or set operations; medium: aggregates, GROUP BY, ORDER BY, LIMIT,
    DISTINCT; easy: the rest. (Not Spider's official hardness, which needs its own parser.)
    """
    tree = parse_sql(sql)
    if tree is None:
        return "unknown", "unparsed"
    checks = (
        ("set_operation", "hard", isinstance(tree, exp.SetOperation)),
        ("subquery", "hard", any(s is not tree for s in tree.find_all(exp.Select))),
        ("join", "hard", tree.find(exp.Join) is not None),
        ("group_by", "medium", tree.find(exp.Group) is not None),
        ("order_by", "medium", tree.find(exp.Order) is not None),
        ("aggregate", "medium", tree.find(exp.AggFunc) is not None),
        ("distinct", "medium", tree.find(exp.Distinct) is not None),
        ("filter", "easy", tree.find(exp.Where) is not None),
    )
    for name, difficulty, hit in checks:
        if hit:
            return difficulty, name
    return "easy", "select"
