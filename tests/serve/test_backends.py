"""Each backend protocol against a real local HTTP server, all serving the model fine-tuned in this
session and compared with the same model run in-process (greedy decoding: the same SQL everywhere).

- OpenAI-compatible (`openai` client) and TGI's Messages API through `huggingface_hub.InferenceClient`:
  against the REAL `transformers serve` (fixture `tiny_server`).
- TGI's native /generate_stream and TGI's Messages API as TGI itself answers them: TGI cannot run here,
  so `TGIWireServer` (tests/serve/wire_servers.py) speaks TGI's documented wire format, generating with
  the real fine-tuned model.
- in-process transformers on the same model folder.
"""

from __future__ import annotations

import pytest

from tests.serve.wire_servers import TGIWireServer
from tunebench.chat_template import IM_END
from tunebench.embedded.sqlgen import load_split
from tunebench.local_server import free_port
from tunebench.prompts import sql_messages
from tunebench.serve.backends import BackendError, make_backend
from tunebench.serve.config import BackendConfig, add_backend_args, config_from_args
from tunebench.sql_text import extract_sql

MAX_NEW = 48
pytestmark = pytest.mark.slow  # serves the model fine-tuned in this session


@pytest.fixture(scope="module")
def conversations(embedded):
    rows = [r for r in load_split(embedded.data_dir, "test") if r["difficulty"] == "easy"][:3]
    return [sql_messages(r["schema"], r["question"]) for r in rows]


@pytest.fixture(scope="module")
def inprocess(trained_run):
    return make_backend(BackendConfig(backend="inprocess", model=str(trained_run.merged)))


@pytest.fixture(scope="module")
def reference(inprocess, conversations):
    """What the fine-tuned model answers, computed in this process."""
    return [inprocess.complete(m, max_new_tokens=MAX_NEW) for m in conversations]


@pytest.fixture(scope="module")
def tgi_server(trained_run):
    with TGIWireServer(trained_run.merged) as srv:
        yield srv


def pieces_of(backend, messages, **kw) -> list[str]:
    return list(backend.stream(messages, max_new_tokens=MAX_NEW, **kw))


def test_inprocess_backend_streams_the_fine_tuned_model(inprocess, reference, conversations, trained_run):
    pieces = pieces_of(inprocess, conversations[0])
    assert len(pieces) > 1 and "".join(pieces) == reference[0]
    assert IM_END not in reference[0] and extract_sql(reference[0])  # it answers and stops
    health = inprocess.health()
    assert health.ok and health.model == str(trained_run.merged) and health.location == "in this process"


@pytest.mark.parametrize("kind", ["openai", "tgi"])
def test_openai_compatible_streaming_against_transformers_serve(tiny_server, kind, reference, conversations):
    # `openai`: the openai client; `tgi`: InferenceClient on the Messages API, which
    # `transformers serve` speaks too. No model configured for `openai`: it asks /v1/models.
    url = tiny_server.base_url if kind == "openai" else tiny_server.base_url.removesuffix("/v1")
    model = None if kind == "openai" else tiny_server.model
    backend = make_backend(BackendConfig(backend=kind, url=url, model=model))
    for messages, expected in zip(conversations, reference, strict=True):
        pieces = pieces_of(backend, messages)
        assert len(pieces) > 1, "the answer should arrive in pieces"
        assert extract_sql("".join(pieces)) == extract_sql(expected)
    if kind == "openai":
        health = backend.health()
        assert health.ok and health.model == tiny_server.model and health.location == tiny_server.base_url


def test_tgi_generate_stream_renders_the_chat_template_locally(
    tgi_server, trained_run, reference, conversations
):
    backend = make_backend(
        BackendConfig(backend="tgi-generate", url=tgi_server.url, model=str(trained_run.merged))
    )
    tgi_server.requests.clear()
    pieces = pieces_of(backend, conversations[0])
    request = [r for r in tgi_server.requests if r["method"] == "POST"][-1]
    assert request["path"] == "/generate_stream"
    # The native route takes raw text: the prompt must be the model's own chat template, verbatim.
    assert request["body"]["inputs"] == backend.tokenizer.apply_chat_template(
        conversations[0], tokenize=False, add_generation_prompt=True
    )
    assert request["body"]["inputs"].endswith("<|im_start|>assistant\n")
    params = request["body"]["parameters"]
    assert params["do_sample"] is False and "temperature" not in params  # TGI rejects temperature 0
    assert params["max_new_tokens"] == MAX_NEW and params["stop"] == [IM_END] and params["details"] is True
    assert len(pieces) > 1 and "".join(pieces) == reference[0]  # the stop token is not part of the answer
    # Sampling sends TGI's sampling parameters.
    pieces_of(backend, conversations[1], temperature=0.7)
    params = tgi_server.requests[-1]["body"]["parameters"]
    assert params["do_sample"] is True and params["temperature"] == 0.7


def test_tgi_messages_api(tgi_server, trained_run, reference, conversations):
    backend = make_backend(BackendConfig(backend="tgi", url=tgi_server.url))
    tgi_server.requests.clear()
    for messages, expected in zip(conversations, reference, strict=True):
        assert extract_sql("".join(pieces_of(backend, messages))) == extract_sql(expected)
    request = tgi_server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["messages"] == conversations[-1] and body["stream"] is True
    assert body["temperature"] == 0 and body["model"] == "tgi"  # TGI: greedy at 0, one model
    health = backend.health()  # /health, then /info for the model id
    assert health.ok and health.model == str(trained_run.merged) and health.location == tgi_server.url


def test_hub_offline_mode_blocks_the_hub_but_not_the_own_server(tgi_server, conversations, monkeypatch):
    """HF_HUB_OFFLINE=1 (set in containers and in these tests) must not cut the app off its TGI."""
    from huggingface_hub import constants, get_session
    from huggingface_hub.errors import OfflineModeIsEnabled

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    backend = make_backend(BackendConfig(backend="tgi", url=tgi_server.url))
    assert backend.complete(conversations[0], max_new_tokens=8)
    with pytest.raises(OfflineModeIsEnabled):  # raised before any connection is made
        get_session().get(f"{constants.ENDPOINT}/api/models/gpt2")


def test_tgi_validation_error_is_readable(tgi_server, trained_run, conversations):
    backend = make_backend(
        BackendConfig(backend="tgi-generate", url=tgi_server.url, model=str(trained_run.merged))
    )
    with pytest.raises(BackendError, match="answered HTTP 422") as err:
        list(backend.stream(conversations[0], max_new_tokens=4096))
    assert "max_new_tokens" in str(err.value) and "Traceback" not in str(err.value)


@pytest.mark.parametrize("kind", ["openai", "tgi", "tgi-generate"])
def test_backend_down(kind, embedded, conversations):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    # The base model's folder is enough: tgi-generate only reads its chat template before connecting.
    backend = make_backend(BackendConfig(backend=kind, url=url, model=str(embedded.base_dir)))
    with pytest.raises(BackendError, match=r"cannot reach the model server at http://127\.0\.0\.1:\d+"):
        list(backend.stream(conversations[0]))
    health = backend.health()
    assert not health.ok and "cannot reach" in health.detail
    assert "not reachable" in health.markdown() and kind in health.markdown()


def test_configuration_from_environment_and_flags():
    import argparse

    env = {
        "TUNEBENCH_BACKEND": "tgi",
        "TUNEBENCH_BACKEND_URL": "http://tgi:80",
        "TUNEBENCH_MODEL": "m",
        "TUNEBENCH_API_KEY_ENV": "MY_KEY",
        "TUNEBENCH_BACKEND_TIMEOUT": "5",
    }
    parser = argparse.ArgumentParser()
    add_backend_args(parser)
    config = config_from_args(parser.parse_args([]), env)
    assert (config.backend, config.url, config.model, config.api_key_env, config.timeout_s) == (
        "tgi",
        "http://tgi:80",
        "m",
        "MY_KEY",
        5.0,
    )
    config = config_from_args(parser.parse_args(["--backend", "openai", "--url", "http://x:1/v1"]), env)
    assert (config.backend, config.url, config.model) == ("openai", "http://x:1/v1", "m")
    assert BackendConfig.from_env({}).backend == "openai"
    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        make_backend(BackendConfig(backend="nope"))
