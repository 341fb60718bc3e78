"""A frozen model server (it accepts connections and never answers, as a SIGSTOPped one does) costs
nothing to `/health` and the page's health line: they read the background check, which waits at most
`AppConfig.health_timeout_s` and then says so. A question to it waits for the client's token timeout
(tests/serve/test_question.py checks that sentence); here the client waits HANG_S, so `/health`
answering while the question is in flight shows that health never waits on the server."""

from __future__ import annotations

import json
import os
import statistics
import time

import pytest
from gradio_client import Client

from tests.browser.conftest import artifacts_dir
from tests.conftest import HANG_S
from tests.serve.apps import running_demo
from tests.serve.test_app import wait_for_health
from tests.serve.wire_servers import FrozenServer
from tunebench.serve.config import AppConfig, ModelConfig
from tunebench.serve.models import ModelChoices


def test_health_answers_while_the_model_server_is_frozen(embedded):
    config = AppConfig(data_dir=embedded.data_dir, health_every_s=0.5, health_timeout_s=1.0)
    frozen = FrozenServer().__enter__()
    try:
        location = f"{frozen.url}/v1"
        models = ModelChoices(ModelConfig(spec=f"{location}#frozen", timeout_s=HANG_S), config)
        with running_demo(models, config) as (url, demo):
            client = Client(url, verbose=False)
            question = client.submit(
                question="How many students are there?", database="school", api_name="/ask"
            )
            health = wait_for_health(client, "", lambda h: h["detail"] != "checking…")
            took = []
            for _ in range(20):  # recorded, not asserted: how long /health takes while the server is frozen
                began = time.monotonic()
                client.predict(api_name="/health")
                took.append(time.monotonic() - began)
            assert not question.done()  # the question still waits on the frozen server; health did not
            assert health == {
                "model": "frozen",
                "location": location,
                "live": False,
                "detail": f"the model server at {location} did not answer within 1 s",
            }
            frozen.__exit__()  # the server goes away: the question ends with one sentence
            answer = question.result(timeout=HANG_S)
            assert answer["failure"] == "model" and answer["message"].startswith("model error: ")
    finally:
        frozen.__exit__()
    record(
        "health-frozen",
        {"health_s_p50": statistics.median(took), "health_s_max": max(took), "calls": len(took)},
    )


@pytest.mark.slow  # waits the default 15 s
def test_a_question_to_a_frozen_server_waits_the_default_timeout_then_says_so(embedded):
    config = AppConfig(data_dir=embedded.data_dir)
    with FrozenServer() as frozen:
        models = ModelChoices(ModelConfig(spec=f"{frozen.url}/v1#frozen"), config)  # the app's defaults
        with running_demo(models, config) as (url, _):
            client = Client(url, verbose=False)
            began = time.monotonic()
            answer = client.predict(
                question="How many students are there?", database="school", api_name="/ask"
            )
            took = time.monotonic() - began
    timeout = ModelConfig.timeout_s
    assert (answer["failure"], answer["message"]) == (
        "model",
        f"model error: the model server at {frozen.url}/v1 sent nothing for {timeout:g} s (overloaded or frozen); "
        "ask again in a moment",
    )
    record("ask-frozen", {"ask_s": took, "timeout_s": timeout})


def record(name: str, figures: dict) -> None:
    out = artifacts_dir().parent / "serve" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    load = [round(x, 2) for x in os.getloadavg()]
    out.write_text(
        json.dumps({**{k: round(v, 3) for k, v in figures.items()}, "loadavg": load}, indent=2) + "\n"
    )
    print(f"{name}: {figures} (load average {load[0]} on {os.cpu_count()} CPUs)")
