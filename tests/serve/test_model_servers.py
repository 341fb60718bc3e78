"""The app reaches every model the same way (`tunebench.chat`, one spec): a folder in process, a real
`transformers serve` and TGI's Messages API, all serving the model fine-tuned in this session
(greedy decoding: the same SQL everywhere). vLLM and SGLang speak the same OpenAI-compatible API.

TGI cannot run here, so `TGIWireServer` (tests/serve/wire_servers.py) speaks TGI's documented Messages
API with the same real model.
"""

from __future__ import annotations

import argparse

import pytest

from tests.conftest import HANG_S
from tests.serve.wire_servers import TGIWireServer
from tunebench.chat import ChatError, GenerationSettings
from tunebench.chat.local_server import free_port
from tunebench.chat.template import IM_END
from tunebench.embedded.sqlgen import load_split
from tunebench.serve.config import ModelConfig, add_model_args, default_model, model_config_from_args
from tunebench.serve.health import probe
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages

SETTINGS = GenerationSettings(max_new_tokens=48)


@pytest.fixture(scope="module")
def conversations(embedded):
    rows = [r for r in load_split(embedded.data_dir, "test") if r["difficulty"] == "easy"][:3]
    return [sql_messages(r["schema"], r["question"]) for r in rows]


@pytest.fixture(scope="module")
def inprocess(trained_run):
    return ModelConfig(spec=str(trained_run.merged)).open(SETTINGS)


@pytest.fixture(scope="module")
def reference(inprocess, conversations):
    """What the fine-tuned model answers, computed in this process."""
    return [inprocess.complete(m) for m in conversations]


@pytest.fixture(scope="module")
def tgi_server(trained_run):
    with TGIWireServer(trained_run.merged) as srv:
        yield srv


@pytest.mark.slow
def test_a_folder_streams_the_fine_tuned_model_in_process(inprocess, reference, conversations, trained_run):
    pieces = list(inprocess.stream(conversations[0]))
    assert len(pieces) > 1 and "".join(pieces).strip() == reference[0]
    assert IM_END not in reference[0] and extract_sql(reference[0])  # it answers and stops
    health = probe("tiny", inprocess, timeout_s=1)
    assert health.ok and health.location == "in this process" and inprocess.probe() == str(trained_run.merged)


@pytest.mark.slow
@pytest.mark.parametrize("named", [True, False], ids=["url#name", "url"])
def test_transformers_serve_streams_the_same_sql(tiny_server, named, reference, conversations):
    # Without `#name` the server is asked which model it serves (GET /v1/models).
    spec = f"{tiny_server.base_url}#{tiny_server.model}" if named else tiny_server.base_url
    model = ModelConfig(spec=spec).open(SETTINGS)
    for messages, expected in zip(conversations, reference, strict=True):
        pieces = list(model.stream(messages))
        assert len(pieces) > 1, "the answer should arrive in pieces"
        assert extract_sql("".join(pieces)) == extract_sql(expected)
    health = probe("tiny", model, timeout_s=HANG_S)
    assert health.ok and model.probe() == tiny_server.model and health.location == tiny_server.base_url


@pytest.mark.slow
def test_tgi_messages_api(tgi_server, reference, conversations):
    model = ModelConfig(spec=f"{tgi_server.url}/v1#tiny-text-to-sql").open(SETTINGS)
    tgi_server.requests.clear()
    for messages, expected in zip(conversations, reference, strict=True):
        assert extract_sql("".join(model.stream(messages))) == extract_sql(expected)
    request = tgi_server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["messages"] == conversations[-1] and body["stream"] is True
    assert body["temperature"] == 0  # TGI decodes greedily at 0; left out it would sample at 1.0
    assert body["model"] == "tiny-text-to-sql" and body["max_tokens"] == SETTINGS.max_new_tokens
    health = probe("tiny-text-to-sql", model, timeout_s=HANG_S)
    assert health.ok and model.probe() == "tiny-text-to-sql" and health.location == f"{tgi_server.url}/v1"


@pytest.mark.slow
def test_tgi_validation_error_is_one_readable_sentence(tgi_server, conversations):
    model = ModelConfig(spec=f"{tgi_server.url}/v1#tgi").open(SETTINGS)
    with pytest.raises(ChatError, match="answered HTTP 422") as err:
        list(model.stream(conversations[0], SETTINGS.replace(max_new_tokens=4096)))
    # TGI's reason is in the openai error's `body` (str(err) is only "Error code: 422"): it is shown.
    assert str(err.value).startswith(f"the model server at {tgi_server.url}/v1 answered HTTP 422: ")
    assert "max_new_tokens" in str(err.value) and "Error code" not in str(err.value)
    assert "Traceback" not in str(err.value)


def test_server_down_is_one_readable_sentence(conversations):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    model = ModelConfig(spec=f"{url}#m").open(SETTINGS)
    with pytest.raises(ChatError, match=r"cannot reach the model server at http://127\.0\.0\.1:\d+/v1"):
        list(model.stream(conversations[0]))
    health = probe("m", model, timeout_s=HANG_S)
    assert not health.ok and "cannot reach" in health.detail and health.detail in health.line()


def test_configuration_from_environment_and_flags(tmp_path, monkeypatch):
    env = {
        "TUNEBENCH_MODEL": "http://tgi:80/v1#run",
        "TUNEBENCH_API_KEY_ENV": "MY_KEY",
        "TUNEBENCH_TIMEOUT": "5",
    }
    parser = argparse.ArgumentParser()
    add_model_args(parser)
    config = model_config_from_args(parser.parse_args([]), env)
    assert (config.spec, config.api_key_env, config.timeout_s) == ("http://tgi:80/v1#run", "MY_KEY", 5.0)
    config = model_config_from_args(parser.parse_args(["--model", "http://x:1/v1#m", "--timeout", "7"]), env)
    assert (config.spec, config.api_key_env, config.timeout_s) == ("http://x:1/v1#m", "MY_KEY", 7.0)
    monkeypatch.setenv("TUNEBENCH_MODELS", str(tmp_path))
    assert (
        ModelConfig.from_env({}).resolved_spec
        == str(default_model())
        == str(tmp_path / "tiny-text-to-sql" / "merged")
    )
    with pytest.raises(ChatError, match="no such folder"):  # the default run was never trained here
        ModelConfig.from_env({}).open(SETTINGS)
