"""execute → score: gold and predicted SQL run in the sandbox, judged by each metric.

Two execution metrics, both always computed and stored per example:
- `spider`: the official Spider decision (spider_exec.py); the headline, as in published numbers;
- `strict`: tunebench's stricter reading (metrics.py): DISTINCT kept, only the outermost ORDER BY
  makes order count, floats equal to 10 significant digits.
Plus exact match after sqlglot normalization and the original notebooks' raw string match.
"""

from __future__ import annotations

from tunebench.evaluate.sql import spider_exec
from tunebench.evaluate.sql.data import SqlExample
from tunebench.evaluate.sql.metrics import exact_match, raw_match, score_execution
from tunebench.sql.compare import SPIDER, STRICT, order_matters
from tunebench.sql.execute import SqlResult
from tunebench.sql.extract import extract_sql
from tunebench.sql.sandbox import SqlSandbox
from tunebench.sql.schema import column_names

HEADLINE_METRIC = "spider"
METRICS = ("spider", "strict")
STORED_ROWS = 20  # rows of each result kept in predictions.jsonl (scores use all of them)
CACHED_GOLD_ROWS = 10_000  # gold results up to this size are kept for the next metric, model or run


def _jsonable(value):
    return f"x'{value.hex()}'" if isinstance(value, bytes) else value


def result_json(result: SqlResult) -> dict:
    data = result.to_json()
    data["row_count"] = len(result.rows)
    data["rows"] = [[_jsonable(v) for v in row] for row in result.rows[:STORED_ROWS]]
    return data


class Scorer:
    """Runs gold and predicted SQL in one sandbox; results are cached by (database, SQL), so both
    metrics and both models share the gold's runs."""

    def __init__(self, sandbox: SqlSandbox, *, timeout_s: float, max_rows: int | None = None):
        self.sandbox, self.timeout_s, self.max_rows = sandbox, timeout_s, max_rows
        self._gold: dict[tuple[str, str], SqlResult] = {}
        self._columns: dict[str, set[str] | None] = {}

    def run(self, db_path: str, sql: str) -> SqlResult:
        if not sql.strip():
            return SqlResult(error="empty prediction")
        return self.sandbox.execute(db_path, sql, timeout_s=self.timeout_s, max_rows=self.max_rows)

    def run_gold(self, db_path: str, sql: str) -> SqlResult:
        key = (db_path, sql)
        if key in self._gold:
            return self._gold[key]
        result = self.run(db_path, sql)
        if len(result.rows) <= CACHED_GOLD_ROWS:
            self._gold[key] = result
        return result

    def _decide_one(self, db_path: str, gold_sql: str, pred_sql: str) -> dict:
        gold = self.run_gold(db_path, gold_sql)
        pred = self.run(db_path, pred_sql)
        strict = score_execution(gold.to_json(), pred.to_json(), order_matters(gold_sql, STRICT), STRICT)
        spider_gold_sql = spider_exec.prepare(gold_sql)
        spider_pred_sql = spider_exec.prepare(pred_sql)
        spider_gold = self.run_gold(db_path, spider_exec.runnable(spider_gold_sql))
        runnable_pred = spider_exec.runnable(spider_pred_sql)
        spider_pred = pred if runnable_pred == pred_sql else self.run(db_path, runnable_pred)
        spider = score_execution(
            spider_gold.to_json(),
            spider_pred.to_json(),
            order_matters(spider_gold_sql, SPIDER),
            SPIDER,
        )
        return {"spider": spider, "strict": strict, "gold": gold, "pred": pred}

    def decide(self, databases: str | list[str], gold_sql: str, pred_sql: str) -> dict:
        """{metric: (match, outcome)} for one gold/prediction pair over a test suite of databases (a
        match needs a match on every database where the gold runs), the first database's decisions
        (`single_db`), its results, and whether the gold is empty on every database."""
        paths = [databases] if isinstance(databases, str) else list(databases)
        first = self._decide_one(paths[0], gold_sql, pred_sql)
        suite = {m: first[m] for m in METRICS}
        for path in paths[1:]:
            if not any(match for match, _ in suite.values()):
                break  # already wrong by every metric: no need to run the prediction again
            one = self._decide_one(path, gold_sql, pred_sql)
            for m in METRICS:
                if suite[m][0] and one[m][1] != "gold_error" and not one[m][0]:
                    suite[m] = (False, one[m][1])
        golds = [self.run_gold(p, gold_sql) for p in paths]
        return {
            **suite,
            "single_db": {m: first[m] for m in METRICS},
            "gold": first["gold"],
            "pred": first["pred"],
            "gold_empty_all": all(g.ok and not g.rows for g in golds),
        }

    def score(self, ex: SqlExample, raw_output: str, *, extract: bool = True) -> dict:
        """One example's record. A model's answer has its SQL extracted (fences, trailing text); SQL
        made elsewhere (`extract=False`) is run as written, as the official evaluation runs it."""
        prediction = extract_sql(raw_output) if extract else raw_output.strip()
        decided = self.decide(ex.databases, ex.query, prediction)
        gold, pred = decided["gold"], decided["pred"]
        if ex.schema not in self._columns:
            self._columns[ex.schema] = column_names(ex.schema)
        match, outcome = decided[HEADLINE_METRIC]
        return {
            "id": ex.id,
            "db_id": ex.db_id,
            "question": ex.question,
            "gold": ex.query,
            "prediction": prediction,
            "raw_output": raw_output,
            "difficulty": ex.difficulty,
            "template": ex.template,
            "seen_combo": ex.seen_combo,
            "order_matters": order_matters(ex.query, STRICT),
            "exec_match": match,  # the headline metric's decision
            "exec_outcome": outcome,
            "metrics": {m: {"match": decided[m][0], "outcome": decided[m][1]} for m in METRICS},
            "single_db_match": {m: decided["single_db"][m][0] for m in METRICS},
            "databases": len(ex.databases),
            "exact_match": exact_match(ex.query, prediction, self._columns[ex.schema]),
            "raw_match": raw_match(ex.query, raw_output),
            "gold_empty": gold.ok and not gold.rows,
            "gold_empty_all": decided["gold_empty_all"],
            "gold_result": result_json(gold),
            "pred_result": result_json(pred),
        }
