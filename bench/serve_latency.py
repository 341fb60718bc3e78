"""Serving latency through the app's own model client (`tunebench.chat`): time to first token and tokens/s.

    .venv/bin/python -m bench.serve_latency [--model models/tiny-text-to-sql/merged] [--runs 7]

Starts a real `transformers serve` of the model on 127.0.0.1 and asks it the demo's text-to-SQL
prompts through `tunebench.chat` as the app does (a server spec, streaming), then the same prompts
with the same model folder opened in this process as the baseline of the same run.
Rounds alternate between the two so load from other processes hurts both alike; each figure is the
median of --runs rounds (after one warm-up). Tokens are counted with the model's tokenizer (the
in-process streamer hands out whole words, the server single tokens). The default model is the
fine-tuned one when it exists; the random tiny base never stops early, so every answer has
--max-new-tokens tokens (steadier tokens/s). On a busy shared CPU, --threads 1 avoids thread
oversubscription, which otherwise dominates the figures.
Writes bench/results/serve_latency.json (and refreshes bench/results/summary.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import write_result
from tunebench.chat import ChatModel, GenerationSettings, open_chat_model
from tunebench.chat.local_server import transformers_serve
from tunebench.runs.paths import tiny_base_dir
from tunebench.serve.config import default_model
from tunebench.serve.sample_dbs import SampleDatabases
from tunebench.sql.prompt import sql_messages


def pick_model(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if (default_model() / "config.json").is_file():
        return default_model()
    if not (tiny_base_dir() / "config.json").is_file():
        from tunebench.embedded import build_embedded

        build_embedded()
    return tiny_base_dir()  # random weights: it never stops early, so every answer is max length


def one_run(model: ChatModel, messages: list[dict], max_new_tokens: int, tokenizer) -> dict:
    start = time.perf_counter()
    first = None
    text = ""
    for piece in model.stream(messages, GenerationSettings(max_new_tokens=max_new_tokens)):
        if piece and first is None:
            first = time.perf_counter()
        text += piece
    end = time.perf_counter()
    tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    first = first or end
    return {
        "ttft_s": first - start,
        "tokens": tokens,
        # Decoding speed after the first token, and the whole request as a user sees it.
        "decode_tokens_per_s": (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0,
        "e2e_tokens_per_s": tokens / (end - start),
    }


def summarize(runs: list[dict]) -> dict:
    keys = ("ttft_s", "tokens", "decode_tokens_per_s", "e2e_tokens_per_s")
    return {f"median_{k}": round(statistics.median(r[k] for r in runs), 4) for k in keys} | {"runs": runs}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model folder (default: models/tiny-text-to-sql/merged, else tiny-base)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument(
        "--threads",
        type=int,
        help="torch threads, here and in the server (1 is steadier on a busy shared CPU)",
    )
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by `transformers serve`
    from transformers import AutoTokenizer

    model = pick_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    samples = SampleDatabases.load()
    prompts = [sql_messages(samples.schema(db), samples.examples(db, 1)[0]) for db in samples.ids]
    inprocess = open_chat_model(model, batch_size=1)
    results: dict[str, list[dict]] = {"http": [], "inprocess": []}
    log = Path(tempfile.gettempdir()) / "tunebench-bench-transformers-serve.log"
    with transformers_serve(model, log_path=log) as endpoint:
        http = open_chat_model(f"{endpoint.base_url}#{endpoint.model}", max_retries=1)
        for chat_model in (http, inprocess):  # warm-up: model load, first-request compilation, connections
            one_run(chat_model, prompts[0], args.max_new_tokens, tokenizer)
        for i in range(args.runs):
            messages = prompts[i % len(prompts)]
            results["http"].append(one_run(http, messages, args.max_new_tokens, tokenizer))
            results["inprocess"].append(one_run(inprocess, messages, args.max_new_tokens, tokenizer))
    http_s, local_s = summarize(results["http"]), summarize(results["inprocess"])
    ttft_ratio = http_s["median_ttft_s"] / max(local_s["median_ttft_s"], 1e-9)
    decode_ratio = http_s["median_decode_tokens_per_s"] / max(local_s["median_decode_tokens_per_s"], 1e-9)
    rows = [
        {"figure": "TTFT, transformers serve via openai backend", "value": f"{http_s['median_ttft_s'] * 1000:.0f} ms",
         "note": f"median of {args.runs}; in-process {local_s['median_ttft_s'] * 1000:.0f} ms ({ttft_ratio:.2f}x)"},
        {"figure": "decode tokens/s, transformers serve via openai backend",
         "value": f"{http_s['median_decode_tokens_per_s']:.0f}",
         "note": f"median of {args.runs}; in-process {local_s['median_decode_tokens_per_s']:.0f} ({decode_ratio:.2f}x)"},
    ]  # fmt: skip
    path = write_result(
        "serve_latency",
        {
            "model": str(model),
            "max_new_tokens": args.max_new_tokens,
            "runs": args.runs,
            "torch_threads": args.threads or "default",
            "http_openai_backend": http_s,
            "inprocess_backend": local_s,
            "ratios_http_over_inprocess": {
                "ttft": round(ttft_ratio, 3),
                "decode_tokens_per_s": round(decode_ratio, 3),
            },
            "summary_rows": rows,
        },
    )
    print("| backend | median TTFT | median decode tokens/s | median end-to-end tokens/s | median tokens |")
    print("|---|---|---|---|---|")
    for name, s in (("openai → transformers serve", http_s), ("inprocess", local_s)):
        print(
            f"| {name} | {s['median_ttft_s'] * 1000:.0f} ms | {s['median_decode_tokens_per_s']:.0f} | "
            f"{s['median_e2e_tokens_per_s']:.0f} | {s['median_tokens']:.0f} |"
        )
    print(f"HTTP/in-process: TTFT {ttft_ratio:.2f}x, decode tokens/s {decode_ratio:.2f}x  → {path}")


if __name__ == "__main__":
    main()
