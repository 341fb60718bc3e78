"""A stand-in for the paid MT-Bench judge: a real HTTP server on 127.0.0.1 speaking the OpenAI
chat-completions wire format, answering in the judge's formats (with malformed verdicts, 429s and
500s on cue), plus the answer files and CLI arguments the judging tests share."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import HANG_S
from tunebench.evaluate.mt_bench import sample_questions, write_sample_questions

REPO = Path(__file__).resolve().parents[3]
SECRET = "sk-test-never-on-disk-7d1e"
MARK = re.compile(r"QUALITY=(\d+)(?: FLAG=(\w+))?")

# (question id, turn) -> (quality of "tuned", quality of "base", flag on tuned's answer)
TABLE = {
    (1, 1): (8, 3, None),
    (1, 2): (2, 6, None),
    (2, 1): (5, 5, None),
    (2, 2): (7, 4, "BIAS"),
    (3, 1): (9, 1, "GARBLE"),
    (3, 2): (6, 2, "FLAKY429"),
    (4, 1): (7, 3, None),
    (4, 2): (3, 7, "FLAKY500"),
    (5, 1): (4, 8, None),
    (5, 2): (8, 1, None),
    (6, 1): (6, 6, "DOWN"),
    (6, 2): (6, 6, None),
    (7, 1): (9, 2, None),
    (7, 2): (9, 8, None),
    (8, 1): (1, 9, None),
    (8, 2): (5, 5, None),
}


class StandInJudge:
    """Answers like a judge, from QUALITY=/FLAG= markers in the answers it is shown; counts calls."""

    def __init__(self, delay_s: float = 0.0, *, hold_after: int | None = None, empty_replies: int = 0):
        self.delay_s = delay_s
        # Requests after the first `hold_after` wait until `release` is set (a run caught mid-flight).
        self.hold_after, self.release, self.received = hold_after, threading.Event(), 0
        self.empty_replies = empty_replies  # the first N requests get a 200 with no text
        self.calls: Counter[str] = Counter()  # user prompt -> HTTP requests
        self.answered: Counter[str] = Counter()  # user prompt -> 200 answers
        self.bodies: list[dict] = []
        self.auth: set[str] = set()
        self.inflight = 0
        self.lock = threading.Lock()

    def wait_idle(self, timeout_s: float = 300.0) -> None:
        """Let requests of a killed client finish, so they are not counted as the next run's."""
        deadline = time.monotonic() + timeout_s
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.02)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.answered.clear()
            self.bodies.clear()

    def reply(self, body: dict) -> tuple[int, str]:
        msgs = body["messages"]
        user = msgs[-1]["content"]
        text = " ".join(m["content"] for m in msgs)
        with self.lock:
            self.calls[user] += 1
            n = self.calls[user]
            self.bodies.append(body)
        marks = MARK.findall(user)
        if not marks and "[[A]]" in text:  # a judgment of answers without markers (a real model's)
            return 200, "Neither answer is better. [[C]]"
        if not marks:  # not a judgment: an answer or a reference answer
            return 200, f"REF-ANSWER({user[:30]})"
        pairwise = "[[A]]" in text
        if pairwise:
            (qa, fa), (qb, fb) = (marks[0], marks[1]) if len(marks) == 2 else (marks[1], marks[3])
            flags = {fa, fb}
        else:
            qa, fa = marks[0] if len(marks) == 1 else marks[1]
            flags = {fa}
        if "DOWN" in flags or ("FLAKY500" in flags and n <= 2):
            return 500, ""
        if "FLAKY429" in flags and n == 1:
            return 429, ""
        if "GARBLE" in flags:
            return 200, "Both answers have merit; hard to say." if pairwise else "Rating: quite good"
        if not pairwise:
            return 200, f"The answer is adequate. Rating: [[{qa}]]"
        if "BIAS" in flags:
            return 200, "The first answer reads better. [[A]]"
        verdict = "[[A]]" if int(qa) > int(qb) else "[[B]]" if int(qb) > int(qa) else "[[C]]"
        return 200, f"Comparing both answers, my verdict: {verdict}"

    def serve(self):
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output quiet
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                with judge.lock:
                    judge.inflight += 1
                try:
                    self.answer()
                except BrokenPipeError:  # the client was killed mid-request
                    pass
                finally:
                    with judge.lock:
                        judge.inflight -= 1

            def answer(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                judge.auth.add(self.headers.get("Authorization", ""))
                with judge.lock:
                    judge.received += 1
                    n, empty = judge.received, judge.received <= judge.empty_replies
                if judge.hold_after is not None and n > judge.hold_after:
                    judge.release.wait(HANG_S)
                if judge.delay_s:
                    time.sleep(judge.delay_s)
                status, content = judge.reply(body)
                if empty:
                    status, content = 200, ""
                if status == 200:
                    with judge.lock:
                        judge.answered[body["messages"][-1]["content"]] += 1
                    payload = {
                        "id": "chatcmpl-standin",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                    }
                else:
                    payload = {"error": {"message": f"stand-in error {status}", "type": "server_error"}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "10")  # the client honours it: keeps the test fast
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@contextmanager
def serving_sample(tmp_path: Path, judge: StandInJudge):
    """`judge` on 127.0.0.1 over the sample questions and unflagged answers of "tuned" and "base":
    yields (url, questions folder, run folder); the server stops (held requests released) after."""
    server, url = judge.serve()
    try:
        questions = write_sample_questions(tmp_path / "questions", reference_judges=("standin",))
        out = tmp_path / "out"
        write_answers(out, "tuned", 0, flags=False)
        write_answers(out, "base", 1, flags=False)
        yield url, questions, out
    finally:
        judge.release.set()
        server.shutdown()
        server.server_close()


def write_answers(out: Path, model: str, which: int, flags: bool = True) -> None:
    rows = []
    for q in sample_questions():
        turns = []
        for t in (1, 2):
            quality, flag = TABLE[(q["question_id"], t)][which], TABLE[(q["question_id"], t)][2]
            text = f"Answer by {model} to q{q['question_id']} turn {t}. QUALITY={quality}"
            if flag and which == 0 and flags:
                text += f" FLAG={flag}"
            turns.append(text)
        rows.append(
            {
                "question_id": q["question_id"],
                "answer_id": f"{model}-{q['question_id']}",
                "model_id": model,
                "choices": [{"index": 0, "turns": turns}],
                "tstamp": 0.0,
            }
        )
    (out / "model_answer").mkdir(parents=True, exist_ok=True)
    (out / "model_answer" / f"{model}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def judge_args(questions, out, url, *extra) -> list[str]:
    return [
        "judge",
        "--out",
        str(out),
        "--questions-dir",
        str(questions),
        "--judge",
        "standin",
        "--judge-base-url",
        url,
        "--models",
        "tuned",
        "--baseline",
        "base",
        "--judge-max-retries",
        "1",
        "--retry-rounds",
        "1",
        "--retry-wait-s",
        "0.01",
        *extra,
    ]


def results_of(out, judge: str = "standin", mode: str = "pairwise-baseline") -> Path:
    """Where `results` writes one judge's results in one mode."""
    from tunebench.evaluate.mt_bench.store import results_dir

    return results_dir(out, judge, mode)


def results_args(questions, out, *extra) -> list[str]:
    return ["results", "--out", str(out), "--questions-dir", str(questions), "--judge", "standin", *extra]
