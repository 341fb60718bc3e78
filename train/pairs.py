"""Execution-feedback preference pairs for text-to-SQL.

For each training question, sample k SQL candidates from an SFT model (temperature > 0, one seed per
candidate), run them and the gold read-only in the sandbox against the question's database, and pair a
candidate whose result is the gold's (chosen; `tunebench.sql.compare`, the comparison evaluation scores
with) with one whose result is not or that fails (rejected). Results are compared whole. A
question the model always gets right (or always wrong, without `--gold-fallback`) gives no pair.

    python -m tunebench.train.pairs --model models/tiny-text-to-sql/merged \\
        --data data/text2sql/train.jsonl --out data/pairs/tiny-text-to-sql.jsonl

Writes the pairs (TRL's conversational prompt/chosen/rejected, read by `dataset_format: preference`) and
`<out>.stats.json`, both atomically.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import iter_jsonl, write_jsonl
from tunebench.runs.atomic_io import atomic_write_json
from tunebench.sql.compare import STRICT, order_matters, results_equal
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages

log = logging.getLogger(__name__)


def judge(gold_rows, pred_rows, ordered: bool) -> str:
    """ "match", "mismatch" or "ambiguous" for two whole result sets, by evaluation's own comparison
    (`tunebench.sql.compare`, the `strict` rules), so that a chosen answer is right and a rejected one
    wrong as evaluation scores them: match = equal with the columns in the gold's order; mismatch = no
    column order makes them equal; ambiguous = equal only with the columns reordered (never paired)."""
    digits = STRICT.float_digits
    if results_equal(gold_rows, pred_rows, ordered, float_digits=digits, permute_columns=False):
        return "match"
    if not results_equal(gold_rows, pred_rows, ordered, float_digits=digits):
        return "mismatch"
    return "ambiguous"


def load_questions(path: Path, limit: int | None, skip: int = 0) -> list[dict]:
    """Embedded text-to-SQL rows (schema, question, query, db_path relative to the file's folder), after
    the first `skip` (kept out as a dev split)."""
    out = []
    for n, (line, row) in enumerate(iter_jsonl(path)):
        if n < skip:
            continue
        for name in ("schema", "question", "query", "db_path"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise DataFormatError(
                    str(path), line, name, "missing or empty (pairs need a database per question)"
                )
        db = (path.parent / row["db_path"]).resolve()
        if not db.is_file():
            raise DataFormatError(str(path), line, "db_path", f"no database at {db}")
        out.append({**row, "db": str(db), "line": line})
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise DataFormatError(str(path), None, None, "no questions")
    return out


def sample_candidates(model, questions: list[dict], k: int, settings) -> list[list[str]]:
    """k answers per question, candidate j sampled with seed `settings.seed + j`."""
    conversations = [sql_messages(q["schema"], q["question"]) for q in questions]
    per_seed = [
        model.generate(conversations, settings=settings.replace(seed=settings.seed + j), progress=True)
        for j in range(k)
    ]
    return [[answers[i] for answers in per_seed] for i in range(len(questions))]


class _Candidate(NamedTuple):
    sql: str
    outcome: str  # match | mismatch | ambiguous | error | timeout | empty | undecided


def _run_candidate(sandbox, question: dict, raw: str, gold, ordered: bool) -> _Candidate:
    sql = extract_sql(raw)
    if not sql:
        return _Candidate(raw.strip(), "empty")
    result = sandbox.execute(question["db"], sql, max_rows=None)
    if result.timed_out:
        return _Candidate(sql, "timeout")
    if result.too_large:  # the gold fitted: a result this large is another answer
        return _Candidate(sql, "mismatch")
    if not result.ok:
        return _Candidate(sql, "error")
    return _Candidate(sql, judge(gold.rows, result.rows, ordered))


def _text_key(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").lower()


def pair_question(
    question: dict, candidates: list[str], sandbox, *, pairs_per_question: int, gold_fallback: bool
):
    """(pairs, outcome counts, note) for one question. Every statement, the gold's included, runs in the
    sandbox with no row cap (bounded by bytes), so results are compared whole: a rejected query is never
    one that returns the gold's answer."""
    gold = sandbox.execute(question["db"], question["query"], max_rows=None)
    if not gold.ok:
        return [], Counter(), "gold_too_large" if gold.too_large else "gold_error"
    ordered = order_matters(question["query"], STRICT)
    outcomes: Counter = Counter()
    chosen, rejected, seen = [], [], set()
    for raw in candidates:
        candidate = _run_candidate(sandbox, question, raw, gold, ordered)
        outcomes[candidate.outcome] += 1
        if candidate.sql in seen or candidate.outcome == "ambiguous":
            continue
        seen.add(candidate.sql)
        if candidate.outcome == "match":
            chosen.append(candidate)
        elif candidate.sql:  # an empty answer teaches nothing as text
            rejected.append(candidate)
    from_gold = False
    if not chosen and gold_fallback:
        chosen, from_gold = [_Candidate(question["query"].strip(), "gold")], True
    pairs_of = [
        (c, r) for c, r in zip(chosen, rejected, strict=False) if _text_key(c.sql) != _text_key(r.sql)
    ]
    prompt = sql_messages(question["schema"], question["question"])
    pairs = [
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": c.sql}],
            "rejected": [{"role": "assistant", "content": r.sql}],
            "id": question.get("id", f"line-{question['line']}"),
            "db_id": question.get("db_id"),
            "chosen_source": "gold" if from_gold else "sample",
            "rejected_outcome": r.outcome,
        }
        for c, r in pairs_of
    ][:pairs_per_question]
    note = "paired" if pairs else ("all_correct" if chosen and not from_gold else "no_pair")
    return pairs, outcomes, note


def build_pairs(args) -> dict:
    from tunebench.chat import GenerationSettings, open_chat_model
    from tunebench.sql.sandbox import SqlSandbox

    questions = load_questions(Path(args.data), args.limit, args.skip)
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, seed=args.seed
    )
    start = time.time()
    model = open_chat_model(
        args.model, settings, batch_size=args.batch_size, device=args.device, dtype=args.dtype
    )
    try:
        candidates = sample_candidates(model, questions, args.k, settings)
    finally:
        model.close()
    sampled_s = time.time() - start
    pairs, outcomes, notes = [], Counter(), Counter()
    with SqlSandbox() as sandbox:
        for question, answers in zip(questions, candidates, strict=True):
            got, counts, note = pair_question(
                question,
                answers,
                sandbox,
                pairs_per_question=args.pairs_per_question,
                gold_fallback=args.gold_fallback,
            )
            pairs.extend(got)
            outcomes.update(counts)
            notes[note] += 1
    stats = {
        "model": str(args.model),
        "data": str(args.data),
        "questions": len(questions),
        "skipped": args.skip,
        "k": args.k,
        "generation": settings.to_json(),
        "candidates": sum(outcomes.values()),
        "candidate_outcomes": dict(outcomes),
        "sample_match_rate": round(outcomes["match"] / max(1, sum(outcomes.values())), 4),
        "questions_by_result": dict(notes),
        "pairs": len(pairs),
        "chosen_from_gold": sum(p["chosen_source"] == "gold" for p in pairs),
        "rejected_by_outcome": dict(Counter(p["rejected_outcome"] for p in pairs)),
        "sampling_s": round(sampled_s, 1),
        "total_s": round(time.time() - start, 1),
    }
    out = Path(args.out)
    write_jsonl(out, pairs)
    atomic_write_json(stats_path(out), stats)
    return stats


def stats_path(out: Path) -> Path:
    return out.with_name(out.stem + ".stats.json")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tunebench.train.pairs", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model", required=True, help="the SFT model: a folder, hub id or http://host:port/v1#name"
    )
    p.add_argument(
        "--data", default="data/text2sql/train.jsonl", help="training questions with a db_path each"
    )
    p.add_argument("--out", required=True, help="pairs JSONL to write (stats beside it, .stats.json)")
    p.add_argument("--k", type=int, default=4, help="candidates sampled per question")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", "--top_p", type=float, default=0.95)
    p.add_argument("--max-new-tokens", "--max_new_tokens", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="only the first N questions (after --skip)")
    p.add_argument(
        "--skip",
        type=int,
        default=0,
        help="leave out the first N questions: a dev split (evaluate.sql --split train --limit N)",
    )
    p.add_argument("--batch-size", "--batch_size", type=int, default=64)
    p.add_argument("--device", default=None)
    p.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "bfloat16", "float16"],
        help="in process: bfloat16 samples 2-3x faster on CPUs with AMX (docs/bench.md)",
    )
    p.add_argument("--pairs-per-question", "--pairs_per_question", type=int, default=1)
    p.add_argument(
        "--gold-fallback",
        "--gold_fallback",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when no sample matches, pair the gold query (chosen) with a failing sample",
    )
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    if args.temperature <= 0 or args.k < 2 and not args.gold_fallback:
        print(
            "error: sampling needs --temperature > 0 (and --k >= 2 with --no-gold-fallback)", file=sys.stderr
        )
        return 2
    if args.skip < 0:
        print(f"error: --skip {args.skip}: give a number of questions, 0 or more", file=sys.stderr)
        return 2
    try:
        stats = build_pairs(args)
    except (DataFormatError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - a model that cannot load: one readable line
        from tunebench.chat import ChatError

        if isinstance(err, ChatError):
            print(f"error: {err}", file=sys.stderr)
            return 2
        raise
    print(
        f"{stats['pairs']} pairs from {stats['questions']} questions "
        f"(sample match rate {stats['sample_match_rate']:.1%}, chosen from gold {stats['chosen_from_gold']}) "
        f"-> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
