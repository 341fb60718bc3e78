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
   even inside a subquery (`tunebench.sql.compare.order_matters` with `compare.SPIDER`);
5. results are compared whole by `tunebench.sql.compare.results_equal`, the official `result_eq`:
   Python's `==` on values, one column permutation, multisets unless order counts;
6. a prediction that fails to run scores 0; text that is not UTF-8 is read with its bad bytes dropped.

The `strict` metric keeps DISTINCT, runs the queries as written, looks only at the outermost ORDER BY
and rounds floats to 10 significant digits (`compare.STRICT`).
"""

from __future__ import annotations

import re

from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

_CURRENT_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)
_DISTINCT_WORD = re.compile(r"\bdistinct\b", re.IGNORECASE)


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
