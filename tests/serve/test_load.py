"""Under load: every caller gets an answer or the app's "busy" sentence, nothing else.

The first test fills the line deterministically (the model server holds its answers until the test
opens its gate); the load tests send N callers at once (tests/serve/load.py) and record answers,
rejections and p50/p95 latency to artifacts/serve/ without asserting any time: a machine running four
other jobs passes them too. docs/serve.md quotes their figures.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from gradio_client import Client

from tests.browser.conftest import artifacts_dir
from tests.conftest import HANG_S
from tests.serve.apps import running_demo
from tests.serve.load import run_load
from tests.serve.wire_servers import CannedOpenAIServer
from tunebench.serve.config import AppConfig

QUESTION = "How many students are there?"
ANSWERS = {QUESTION: "SELECT count(*) FROM students"}
CALLERS = int(os.environ.get("TUNEBENCH_LOAD_CALLERS", "50"))


def wait_until(condition, hang_s: float = HANG_S) -> None:
    deadline = time.monotonic() + hang_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never got there")
        time.sleep(0.05)


def test_a_full_line_is_told_so_in_words_and_the_rest_are_answered(embedded):
    with CannedOpenAIServer(ANSWERS) as server:
        config = AppConfig(data_dir=embedded.data_dir, concurrency_limit=1, queue_size=2)
        with running_demo(f"{server.url}/v1#canned-sql", config) as (url, demo):
            line = demo.service.admission
            server.gate.clear()  # answers wait until the test says so
            client = Client(url, verbose=False)
            running = client.submit(question=QUESTION, database="school", api_name="/ask")
            assert server.held.acquire(timeout=HANG_S)  # it reached the model
            second = client.submit(question=QUESTION, database="school", api_name="/ask")
            wait_until(lambda: line.load() == (1, 1))
            third = client.submit(question=QUESTION, database="school", api_name="/ask")
            wait_until(lambda: line.load() == (1, 2))
            busy = client.predict(question=QUESTION, database="school", api_name="/ask")
            assert (busy["ok"], busy["failure"], busy["state"]) == (False, "busy", "error")
            assert busy["message"] == (
                "the demo is busy: 1 questions are being answered and 2 are waiting, as many as it takes; "
                "ask again in a minute"
            )
            assert busy["model"] == "canned-sql" and line.rejected == 1
            server.gate.set()
            answers = [job.result(timeout=HANG_S) for job in (running, second, third)]
            assert all(a["ok"] and a["rows"] for a in answers)
            # while they waited, the stream said where they stood
            waits = [
                [s["message"] for s in job.outputs() if s["state"] == "waiting"] for job in (second, third)
            ]
            assert "waiting for the model: yours is next" in waits[0]
            assert "waiting for the model: 1 question ahead of yours" in waits[1]


def record(name: str, report, config: AppConfig, extra: dict) -> None:
    out = artifacts_dir().parent / "serve" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    data = {
        **report.to_json(),
        **extra,
        "concurrency_limit": config.concurrency_limit,
        "queue_size": config.queue_size,
        "cpus": os.cpu_count(),
        "loadavg_1_5_15_at_end": [round(x, 2) for x in load],
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"{name}: {report.line()}; load average {load[0]:.2f} on {os.cpu_count()} CPUs ({out})")


def check_outcomes(report, busy_message: str) -> None:
    """What every caller may get: an answer, or the busy sentence. Nothing else, whatever the timing."""
    assert len(report.outcomes) == report.callers
    assert not report.of("other"), [o.detail for o in report.of("other")][:3]
    assert all(o.detail == busy_message for o in report.of("busy"))
    assert report.of("answer")  # the first caller in always gets a turn


@pytest.mark.slow  # about a minute of 50 clients on 2 cores
def test_n_callers_at_once_get_an_answer_or_busy(embedded):
    """A model server that takes ~0.5 s per answer (25 words, 20 ms apart): the app's line, not the model."""
    with CannedOpenAIServer(ANSWERS, delay_s={QUESTION: 0.02}, default="x " * 25) as server:
        server.answers = {QUESTION: ANSWERS[QUESTION] + " " + "/* streaming */ " * 24}
        config = AppConfig(data_dir=embedded.data_dir)
        with running_demo(f"{server.url}/v1#canned-sql", config) as (url, demo):
            report = run_load(url, CALLERS, question=QUESTION, database="school", hang_s=HANG_S)
            check_outcomes(report, demo.service.admission.busy_message())
            assert demo.service.admission.rejected == len(report.of("busy"))
            assert all("1 row" in o.detail for o in report.of("answer"))
    record("load-canned", report, config, {"model": "canned server, 25 chunks 20 ms apart"})


@pytest.mark.slow
def test_n_callers_at_once_with_the_fine_tuned_model(tiny_server, embedded):
    """The same, against a real `transformers serve` of the model fine-tuned in this session."""
    config = AppConfig(data_dir=embedded.data_dir)
    spec = f"{tiny_server.base_url}#{tiny_server.model}"
    with running_demo(spec, config) as (url, demo):
        report = run_load(url, CALLERS, question=QUESTION, database="school", hang_s=HANG_S)
        check_outcomes(report, demo.service.admission.busy_message())
    record("load-transformers-serve", report, config, {"model": "the session's fine-tuned tiny model"})
