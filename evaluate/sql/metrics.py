"""Per-example text-to-SQL metrics: the `strict` execution match, exact match after sqlglot
normalization, and the original notebooks' raw string match.

`strict` execution match starts from the official Spider comparison (`spider_exec.py`) and reads
it more strictly (DISTINCT is never removed, so `count(DISTINCT x)` is not `count(*)`):
- results are multisets of rows; row order counts only when the gold query's outermost SELECT has
  ORDER BY (Spider tests `'order by' in gold.lower()`, which also fires on an ORDER BY inside a
  subquery; we look at the parsed query and fall back to Spider's test when it does not parse);
- column names never count, and the predicted columns may come in another order: one permutation
  applied to every row must make the results equal (Spider's rule). When two columns hold the
  same values the choice does not change the rows, so the rule is never ambiguous in effect;
- floats: values are compared after rounding to 10 significant digits, and a float with an
  integral value equals that integer (AVG vs SUM/COUNT noise in the last bits is not an error;
  Spider compares with Python's `==`, which already makes 3 == 3.0);
- NULL equals NULL (Python `None == None`, as in Spider); text is case-sensitive, as in SQLite;
- any execution error or timeout of the prediction scores 0; a prediction that hit the row cap
  while the gold did not scores 0 (it returned more rows).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

from sqlglot import exp

from tunebench.sql.parse import PARSE_ERRORS, orders_rows, parse_sql

MAX_PERMUTATIONS = 5000  # column permutations tried before giving up (wide results, many equal columns)


def canonical_value(value):
    if isinstance(value, float):
        if value != value:  # NaN: SQLite returns NULL for it, keep it comparable anyway
            return "NaN"
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return float(f"{value:.10g}")
    return value


def canonical_rows(rows: Sequence[Sequence]) -> list[tuple]:
    return [tuple(canonical_value(v) for v in row) for row in rows]


def _unordered_row(row: tuple) -> tuple:
    # Spider's quick rejection: a row as a sorted bag of values, comparable across types.
    return tuple(sorted(row, key=lambda v: f"{v}{type(v)}"))


def _column_candidates(gold: list[tuple], pred: list[tuple], width: int) -> list[list[int]]:
    """For each gold column, the predicted columns holding the same multiset of values.

    Spider samples 20 rows to prune permutations; comparing whole columns is deterministic and
    prunes at least as much (a valid permutation must map each column onto an equal column).
    """
    gold_cols = [Counter(r[i] for r in gold) for i in range(width)]
    pred_cols = [Counter(r[j] for r in pred) for j in range(width)]
    return [[j for j in range(width) if pred_cols[j] == gold_cols[i]] for i in range(width)]


def results_match(gold_rows: Sequence[Sequence], pred_rows: Sequence[Sequence], order_matters: bool) -> bool:
    gold, pred = canonical_rows(gold_rows), canonical_rows(pred_rows)
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if any(len(r) != width for r in pred):
        return False
    g_bags, p_bags = [_unordered_row(r) for r in gold], [_unordered_row(r) for r in pred]
    if (g_bags != p_bags) if order_matters else (Counter(g_bags) != Counter(p_bags)):
        return False
    gold_counter = Counter(gold)
    candidates = _column_candidates(gold, pred, width)
    for n, perm in enumerate(itertools.product(*candidates)):
        if n >= MAX_PERMUTATIONS:
            break
        if len(set(perm)) != width:
            continue
        permuted = [tuple(r[j] for j in perm) for r in pred]
        if permuted == gold if order_matters else Counter(permuted) == gold_counter:
            return True
    return False


def order_matters(gold_sql: str) -> bool:
    """Whether the gold result's row order is part of the answer: ORDER BY on the outermost query."""
    return orders_rows(gold_sql)


def score_execution(gold: dict, pred: dict, ordered: bool, compare=results_match) -> tuple[bool, str]:
    """(match, outcome) from two `SqlResult.to_json()` dicts, the rows judged by `compare`.

    outcome: match | mismatch | pred_error | pred_timeout | pred_truncated | gold_error.
    """
    if gold.get("error"):
        return False, "gold_error"
    if pred.get("timed_out"):
        return False, "pred_timeout"
    if pred.get("error"):
        return False, "pred_error"
    if pred.get("truncated") and not gold.get("truncated"):
        return False, "pred_truncated"
    ok = compare(gold["rows"], pred["rows"], ordered)
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
