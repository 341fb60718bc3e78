"""Judging wall time at concurrency 1 vs 16, in one process run, against a local OpenAI-compatible
endpoint that answers every call after a fixed delay (a stand-in for a remote judge's latency).

The original notebooks judged 320 calls one at a time (53 min). This measures the judging step
tunebench runs (`tunebench.evaluate.mt_bench.judge`: FastChat's matches, both answer orders, journal +
FastChat file on disk) at both settings and reports the ratio. Writes bench/results/judge_concurrency.json.

    .venv/bin/python -m bench.judge_concurrency [--delay-s 0.25] [--questions 80]   # about 2 minutes
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import RESULTS_DIR, write_result
from tunebench.chat.openai_compat import Endpoint
from tunebench.evaluate.mt_bench import (
    SAMPLE_REFERENCES,
    JudgeCommand,
    JudgeConfig,
    QuestionsConfig,
    judge,
    sample_questions,
    write_sample_questions,
)
from tunebench.runs.atomic_io import atomic_write_jsonl


def fixed_delay_server(delay_s: float) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real API server

        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(delay_s)
            msg = {"role": "assistant", "content": "Both are similar. [[C]]"}
            data = json.dumps(
                {
                    "id": "bench",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default backlog (5) drops connections beyond it: 1 s SYN retries
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def write_answers(out: Path, model: str, questions: list[dict]) -> None:
    rows = [
        {
            "question_id": q["question_id"],
            "answer_id": f"{model}-{q['question_id']}",
            "model_id": model,
            "choices": [{"index": 0, "turns": [f"{model} answer {i}" for i in (1, 2)]}],
            "tstamp": 0.0,
        }
        for q in questions
    ]
    atomic_write_jsonl(out / "model_answer" / f"{model}.jsonl", rows)


def write_questions(root: Path, n_questions: int) -> tuple[Path, list[dict]]:
    """The sample questions repeated to `n_questions` (80 = MT-Bench's size: 320 judge calls)."""
    folder = write_sample_questions(root / "questions")
    base = sample_questions()
    questions = [dict(base[i % len(base)], question_id=i + 1) for i in range(n_questions)]
    atomic_write_jsonl(folder / "question.jsonl", questions)
    refs = [
        {
            "question_id": q["question_id"],
            "answer_id": f"ref-{q['question_id']}",
            "model_id": "bench-judge",
            "choices": [{"index": 0, "turns": SAMPLE_REFERENCES[q["category"]]}],
            "tstamp": 0.0,
        }
        for q in questions
        if q["category"] in SAMPLE_REFERENCES
    ]
    atomic_write_jsonl(folder / "reference_answer" / "bench-judge.jsonl", refs)
    return folder, questions


def timed_run(root: Path, url: str, concurrency: int, n_questions: int) -> tuple[float, int]:
    folder, questions = write_questions(root, n_questions)
    out = root / f"out-c{concurrency}"
    for m in ("tuned", "base"):
        write_answers(out, m, questions)
    cmd = JudgeCommand(
        out=out,
        judge=JudgeConfig(Endpoint(url, "bench-judge", max_retries=0), concurrency=concurrency),
        models=("tuned",),
        baseline="base",
        questions=QuestionsConfig(questions_dir=folder),
    )
    t0 = time.perf_counter()
    stats = judge(cmd, progress=False)
    return time.perf_counter() - t0, stats.games


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delay-s", type=float, default=0.25, help="the endpoint's fixed latency per call")
    ap.add_argument(
        "--questions",
        type=int,
        default=80,
        help="80 questions = 320 judge calls, as in the original notebooks",
    )
    ap.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    server, url = fixed_delay_server(args.delay_s)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = {c: timed_run(Path(tmp), url, c, args.questions) for c in (1, 16)}
    finally:
        server.shutdown()
        server.server_close()
    (t1, calls), (t16, _) = runs[1], runs[16]
    result = {
        "what": "judging wall time (mt_bench.judge) against a local endpoint with a fixed delay per call",
        "summary_rows": [],
        "delay_s": args.delay_s,
        "questions": args.questions,
        "calls": calls,
        "wall_s_concurrency_1": round(t1, 3),
        "wall_s_concurrency_16": round(t16, 3),
        "speedup_16_vs_1": round(t1 / t16, 2),
        "ideal_speedup": round(min(16, calls), 2),
    }
    result["summary_rows"] = [
        {
            "figure": "MT-Bench judging wall time, concurrency 16 vs 1",
            "value": f"{result['speedup_16_vs_1']}x",
            "note": f"{calls} judge calls at {args.delay_s} s each against a local endpoint "
            f"(ideal {result['ideal_speedup']}x): {result['wall_s_concurrency_1']} s vs {result['wall_s_concurrency_16']} s",
        }
    ]
    path = write_result("judge_concurrency", result, args.results_dir)
    print(json.dumps({k: v for k, v in result.items() if k != "summary_rows"}, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
