"""A bounded load test of a running app: N callers, each with its own `gradio_client`, ask `/ask` at
the same moment (a barrier) and once each; the run ends when every caller has its answer.

    .venv/bin/python -m tests.serve.load --url http://127.0.0.1:7860/ --callers 50

Records what each caller got (an answer, the app's "busy" sentence, anything else) and the latency
percentiles of each kind; prints them and writes them as JSON (--out). Only loopback addresses are
accepted: this is a test of one's own app, not of someone else's server.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gradio_client import Client

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Outcome:
    kind: str  # answer | busy | other
    seconds: float
    detail: str = ""


@dataclass
class LoadReport:
    url: str
    callers: int
    question: str
    database: str
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    def of(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]

    @staticmethod
    def percentile(values: list[float], q: float) -> float | None:
        if not values:
            return None
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    def summary(self) -> dict:
        out = {"callers": self.callers, "wall_s": round(self.wall_s, 2)}
        for kind in ("answer", "busy", "other"):
            seconds = sorted(o.seconds for o in self.of(kind))
            out[kind] = {
                "count": len(seconds),
                "p50_s": _round(self.percentile(seconds, 50)),
                "p95_s": _round(self.percentile(seconds, 95)),
            }
        return out

    def to_json(self) -> dict:
        return {
            **self.summary(),
            "question": self.question,
            "database": self.database,
            "outcomes": [asdict(o) for o in self.outcomes],
        }

    def line(self) -> str:
        s = self.summary()

        def part(kind: str) -> str:
            k = s[kind]
            return f"{k['count']} {kind}" + (
                f" (p50 {k['p50_s']} s, p95 {k['p95_s']} s)" if k["count"] else ""
            )

        return f"{self.callers} callers in {s['wall_s']} s: {part('answer')}, {part('busy')}, {part('other')}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def classify(answer) -> tuple[str, str]:
    if isinstance(answer, dict) and answer.get("failure") == "busy":
        return "busy", answer["message"]
    if (
        isinstance(answer, dict)
        and answer.get("state") in ("done", "error")
        and answer.get("failure") != "internal"
    ):
        return "answer", answer["message"]
    return "other", repr(answer)[:300]


def run_load(url: str, callers: int, *, question: str, database: str, hang_s: float = 3600) -> LoadReport:
    """Ask `question` of `database` from `callers` threads at once; returns when all have answered."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the load test runs against this machine's app only (127.0.0.1), not {host}")
    report = LoadReport(url, callers, question, database)
    clients = [Client(url, verbose=False) for _ in range(callers)]
    start = threading.Barrier(callers + 1)
    lock = threading.Lock()

    def call(client: Client) -> None:
        start.wait()
        began = time.monotonic()
        try:
            kind, detail = classify(client.predict(question=question, database=database, api_name="/ask"))
        except Exception as err:  # noqa: BLE001 - what a caller met, recorded as "other"
            kind, detail = "other", f"{type(err).__name__}: {err}"
        with lock:
            report.outcomes.append(Outcome(kind, time.monotonic() - began, detail))

    threads = [threading.Thread(target=call, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in threads:
        t.join(timeout=hang_s)
    report.wall_s = time.monotonic() - began
    for client in clients:
        client.close()
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.serve.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--url", default="http://127.0.0.1:7860/")
    ap.add_argument("--callers", type=int, default=50)
    ap.add_argument("--question", default="How many students are there?")
    ap.add_argument("--database", default="school")
    ap.add_argument("--out", type=Path, help="write the report as JSON here")
    args = ap.parse_args(argv)
    try:
        report = run_load(args.url, args.callers, question=args.question, database=args.database)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.line())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0 if not report.of("other") else 1


if __name__ == "__main__":
    sys.exit(main())
