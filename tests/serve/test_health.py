"""A frozen model server (it accepts connections and never answers, as a SIGSTOPped one does) costs
nothing to `/health` and the page's health line: they read the background check, which waits at most
`AppConfig.health_timeout_s` and then says so. A question to it waits for the client's token timeout
(tests/serve/test_question.py checks that sentence); here the client waits HANG_S, so `/health`
answering while the question is in flight shows that health never waits on the server."""

from __future__ import annotations

from gradio_client import Client

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
