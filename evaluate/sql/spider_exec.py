"""The `spider` metric: the official Spider execution decision, rule for rule.

Published Spider execution accuracy comes from `exec_eval.eval_exec_match` of test-suite-sql-eval
(Zhong, Yu and Klein, 2020), run with `keep_distinct` and `plug_value` off. Its rules, written here
from reading that function (no code taken from it) and checked against it on the bank of pairs in
tests/evaluate/sql/spider_bank.py:
1. post-processing of both queries: `> =`, `< =`, `! =` lose their inner space;
2. the keyword DISTINCT is deleted from both queries, wherever it stands (`count(DISTINCT city)`
   becomes `count( city)`, a gold's `SELECT DISTINCT` returns its duplicates);
3. `YEAR(CURDATE())` becomes `2020` before a query runs;
4. row order counts when the text `order by` occurs anywhere in the (processed) gold, lower-cased,
   even inside a subquery;
5. results are equal when both are empty, or when they have as many rows, the first rows as many
   columns, and one permutation of the predicted columns makes the rows equal: as lists when order
   counts, else as multisets. Values compare with Python's `==` (3 == 3.0; floats exactly; NULL ==
   NULL; text case-sensitive);
6. a prediction that fails to run scores 0.

The `strict` metric (metrics.py) keeps DISTINCT, looks only at the outermost ORDER BY and rounds
floats to 10 significant digits.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

_CURRENT_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)
_DISTINCT_WORD = re.compile(r"\bdistinct\b", re.IGNORECASE)
MAX_PERMUTATIONS = 100_000  # column permutations tried at most (a guard; real results need few)


def postprocess(sql: str) -> str:
    return sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")


def remove_distinct(sql: str) -> str:
    """The first statement of `sql` without any DISTINCT keyword (quoted names and strings that
    spell "distinct" stay). The official code reads only the first statement here, so text after
    the first `;` is dropped (`SELECT a FROM t; SELECT 1` is scored as `SELECT a FROM t;`)."""
    try:
        tokens = SQLite().tokenize(sql)
    except SqlglotError:  # not even tokenizable: it will fail to run anyway
        return _DISTINCT_WORD.sub("", sql)
    out, last, end = [], 0, len(sql)
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.DISTINCT:
            out.append(sql[last : token.start])
            last = token.end + 1
        elif token.token_type == TokenType.SEMICOLON:
            end = tokens[i + 1].start if i + 1 < len(tokens) else len(sql)
            break
    out.append(sql[last:end])
    return "".join(out)


def replace_current_year(sql: str) -> str:
    return _CURRENT_YEAR.sub("2020", sql)


def prepare(sql: str) -> str:
    """The text the official evaluation runs for a query: post-processed, DISTINCT removed."""
    return remove_distinct(postprocess(sql))


def runnable(prepared_sql: str) -> str:
    return replace_current_year(prepared_sql)


def order_matters(prepared_gold: str) -> bool:
    return "order by" in prepared_gold.lower()


def _bag_of_values(row: Sequence) -> tuple:
    return tuple(sorted(row, key=lambda v: str(v) + str(type(v))))


def _column_choices(gold: list[tuple], pred: list[tuple], width: int) -> list[list[int]]:
    """For each gold column, the predicted columns whose every value occurs in that gold column
    (a permutation outside these cannot make the results equal)."""
    gold_values = [{row[i] for row in gold} for i in range(width)]
    return [[j for j in range(width) if all(row[j] in gold_values[i] for row in pred)] for i in range(width)]


def results_equal(gold_rows: Sequence[Sequence], pred_rows: Sequence[Sequence], ordered: bool) -> bool:
    gold, pred = [tuple(r) for r in gold_rows], [tuple(r) for r in pred_rows]
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if len(pred[0]) != width:  # the official test looks at the first rows only
        return False
    gold_bags, pred_bags = [_bag_of_values(r) for r in gold], [_bag_of_values(r) for r in pred]
    if (gold_bags != pred_bags) if ordered else (set(gold_bags) != set(pred_bags)):
        return False
    gold_count = Counter(gold)
    choices = _column_choices(gold, pred, width)
    for n, perm in enumerate(itertools.product(*choices)):
        if n >= MAX_PERMUTATIONS:
            break
        if len(set(perm)) != width:
            continue
        permuted = [tuple(row[j] for j in perm) for row in pred]
        if permuted == gold if ordered else Counter(permuted) == gold_count:
            return True
    return False
