"""Are two query results the same answer? Written once, for every caller: evaluation's `spider` and
`strict` metrics and the preference pairs training builds from execution feedback.

One comparison (`results_equal`) and one order rule (`order_matters`), with the two choices the
callers make named in `Rules`:
- which gold queries make row order part of the answer: `"text"`, the official Spider rule (the text
  `order by` anywhere in the gold, lower-cased, even inside a subquery or a string), or `"outermost"`
  (ORDER BY on the gold's outermost query; the text decides when it does not parse);
- how values compare: `float_digits=None` is Python's `==` (3 == 3.0, floats exactly, NULL == NULL,
  text case-sensitive), as the official evaluation compares; a number of digits rounds floats to
  that many significant digits first (AVG vs SUM/COUNT noise in the last bits is no error).

The comparison itself is the official one (`result_eq` of test-suite-sql-eval's exec_eval.py, rule for
rule, re-written here): two empty results are equal; otherwise the same number of rows and columns, and
one permutation of the predicted columns, applied to every row, makes the rows equal: as lists when
order matters, else as multisets. Column names never count. Before searching permutations, each row is
read as a sorted bag of values (sorted by `str(value) + str(type(value))`, the official key) and the
bags must agree (as lists when ordered, else as sets); the permutations tried are those that map every
predicted column into the values of a gold column. Results are whole: a caller that capped rows must
not compare capped results as if they were whole (evaluation counts both-capped as undecided).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tunebench.sql.parse import parse_sql

MAX_PERMUTATIONS = 100_000  # column permutations tried at most: a guard, real results need a handful


@dataclass(frozen=True)
class Rules:
    """How one caller reads "the same answer" (see the module docstring)."""

    name: str
    order: str  # "text" (official) or "outermost"
    float_digits: int | None  # None: Python's ==

    def __post_init__(self) -> None:
        if self.order not in ("text", "outermost"):
            raise ValueError(f"order rule must be 'text' or 'outermost', not {self.order!r}")


SPIDER = Rules("spider", order="text", float_digits=None)  # exec_eval.eval_exec_match's rules
STRICT = Rules("strict", order="outermost", float_digits=10)  # tunebench's stricter reading; pairs use it


def order_matters(gold_sql: str, rules: Rules) -> bool:
    """Whether the gold result's row order is part of the answer, by `rules.order`."""
    if rules.order == "text":
        return "order by" in gold_sql.lower()
    tree = parse_sql(gold_sql)
    if tree is None:
        return "order by" in gold_sql.lower()
    return tree.args.get("order") is not None


def canonical_value(value, float_digits: int | None):
    """`value` as compared: floats rounded to `float_digits` significant digits (an integral float
    becomes that integer, NaN a comparable marker); everything else, and every value when
    `float_digits` is None, as it is."""
    if float_digits is None or not isinstance(value, float):
        return value
    if value != value:  # NaN: SQLite returns NULL for it; keep it comparable anyway
        return "NaN"
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.{float_digits}g}")


def _rows(rows: Sequence[Sequence], float_digits: int | None) -> list[tuple]:
    return [tuple(canonical_value(v, float_digits) for v in row) for row in rows]


def _bag(row: tuple) -> tuple:
    """A row as a sorted bag of values (the official key, comparable across types)."""
    return tuple(sorted(row, key=lambda v: str(v) + str(type(v))))


def _column_choices(gold: list[tuple], pred: list[tuple], width: int) -> list[list[int]]:
    """For each gold column, the predicted columns whose every value occurs in that gold column: a
    permutation outside these cannot make the results equal (the official pruning, on every row)."""
    gold_values = [{row[i] for row in gold} for i in range(width)]
    return [[j for j in range(width) if all(row[j] in gold_values[i] for row in pred)] for i in range(width)]


def results_equal(
    gold_rows: Sequence[Sequence],
    pred_rows: Sequence[Sequence],
    ordered: bool,
    *,
    float_digits: int | None = None,
    permute_columns: bool = True,
) -> bool:
    """The one result comparison (module docstring). `permute_columns=False` asks for the columns in
    the gold's order (preference pairs use it to tell a sure match from one that needs a reading)."""
    gold, pred = _rows(gold_rows, float_digits), _rows(pred_rows, float_digits)
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    gold_bags, pred_bags = [_bag(r) for r in gold], [_bag(r) for r in pred]
    if (gold_bags != pred_bags) if ordered else (set(gold_bags) != set(pred_bags)):
        return False
    gold_count = Counter(gold)
    perms = itertools.product(*_column_choices(gold, pred, width)) if permute_columns else [range(width)]
    for n, perm in enumerate(perms):
        if n >= MAX_PERMUTATIONS:
            break
        if len(set(perm)) != width:
            continue
        permuted = [tuple(row[j] for j in perm) for row in pred]
        if permuted == gold if ordered else Counter(permuted) == gold_count:
            return True
    return False


def same_answer(gold_sql: str, gold_rows, pred_rows, rules: Rules, *, permute_columns: bool = True) -> bool:
    """`results_equal` under `rules`, the order read from the gold query."""
    return results_equal(
        gold_rows,
        pred_rows,
        order_matters(gold_sql, rules),
        float_digits=rules.float_digits,
        permute_columns=permute_columns,
    )
