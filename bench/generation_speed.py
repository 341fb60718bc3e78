"""Text-to-SQL generation throughput: batched vs one-at-a-time, in process, as a ratio from one run.

    .venv/bin/python -m bench.generation_speed [--model models/tiny-text-to-sql/merged] [--n 48]

Both modes answer the same questions of the embedded test split with the same model, opened once
through `tunebench.chat` as evaluation opens it (greedy); the rounds alternate (one-at-a-time, batched, one-at-a-time, batched) and each mode keeps
its best round, so other load on the machine hurts both alike. Writes
bench/results/generation_speed.json (and refreshes bench/results/summary.md), prints one markdown row.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.common import RESULTS_DIR, write_result
from tunebench.chat import GenerationSettings, LocalChatModel, ModelSpec, open_chat_model
from tunebench.embedded.sqlgen import load_split
from tunebench.runs.paths import embedded_sql_dir
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages


def timed(model: LocalChatModel, conversations: list, batch_size: int) -> tuple[float, list[str]]:
    model.batch_size = batch_size
    start = time.perf_counter()
    answers = model.generate(conversations)
    return time.perf_counter() - start, [extract_sql(a) for a in answers]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/tiny-text-to-sql/merged")
    ap.add_argument("--data-dir", default=str(embedded_sql_dir()))
    ap.add_argument("--n", type=int, default=48, help="questions per round")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2, help="rounds per mode (best kept)")
    ap.add_argument("--results-dir", default=str(RESULTS_DIR))
    args = ap.parse_args(argv)

    import torch

    if ModelSpec.parse(args.model).is_server:
        ap.error(f"--model {args.model}: give a model folder or hub id (this measures in-process batching)")
    rows = load_split(args.data_dir, "test")[: args.n]
    conversations = [sql_messages(r["schema"], r["question"]) for r in rows]
    model = open_chat_model(args.model, GenerationSettings(max_new_tokens=args.max_new_tokens))
    timed(model, conversations[:4], args.batch_size)  # warm-up: first-call allocations, lazy imports
    single_s, batched_s = [], []
    for _ in range(args.rounds):
        t, single = timed(model, conversations, 1)
        single_s.append(t)
        t, batched = timed(model, conversations, args.batch_size)
        batched_s.append(t)
    n = len(conversations)
    result = {
        "model": args.model,
        "questions": n,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "one_at_a_time_examples_per_s": round(n / min(single_s), 2),
        "batched_examples_per_s": round(n / min(batched_s), 2),
        "speedup": round(min(single_s) / min(batched_s), 2),
        "identical_predictions": sum(a == b for a, b in zip(single, batched, strict=True)),
        "rounds_s": {
            "one_at_a_time": [round(t, 2) for t in single_s],
            "batched": [round(t, 2) for t in batched_s],
        },
        "device": str(model.device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
    }
    result["summary_rows"] = [
        {
            "figure": f"text-to-SQL generation, batched ({args.batch_size}) vs one at a time",
            "value": f"{result['speedup']}x",
            "note": f"{result['batched_examples_per_s']} vs {result['one_at_a_time_examples_per_s']} examples/s "
            f"on {result['device']}, {n} questions, greedy, {result['identical_predictions']}/{n} identical",
        }
    ]
    path = write_result("generation_speed", result, Path(args.results_dir))
    print(
        f"| text-to-SQL generation, {result['device']}, {n} questions | one at a time "
        f"{result['one_at_a_time_examples_per_s']} ex/s | batched ({args.batch_size}) "
        f"{result['batched_examples_per_s']} ex/s | **{result['speedup']}x** | "
        f"identical predictions {result['identical_predictions']}/{n} |"
    )
    print(f"results: {path}")
    return result


if __name__ == "__main__":
    main()
