"""SQL answers through `tunebench.chat`: batched in-process generation and concurrent generation
from a real `transformers serve` give the same predictions as one-at-a-time greedy generation, on
the fine-tuned tiny model; a base without a chat template is prompted in ChatML."""

from __future__ import annotations

import threading

import pytest

from tunebench.chat import GenerationSettings, ModelSpec, RemoteChatModel
from tunebench.chat.template import IM_END
from tunebench.evaluate.sql.config import EvalConfig
from tunebench.evaluate.sql.data import load_embedded
from tunebench.evaluate.sql.generate import open_model
from tunebench.sql.extract import extract_sql

N_QUESTIONS = 32
SETTINGS = GenerationSettings(max_new_tokens=48, stop=(IM_END,))  # gold queries: at most 41 tokens


def _open(model, batch_size=16):
    return open_model(str(model), EvalConfig(model=str(model), generation=SETTINGS, batch_size=batch_size))


pytestmark = pytest.mark.slow


class CountingServerModel(RemoteChatModel):
    """The real server client, recording how many requests were in flight at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight = self.max_in_flight = 0
        self._count_lock = threading.Lock()

    def _complete(self, messages, settings):
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return super()._complete(messages, settings)
        finally:
            with self._count_lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def conversations(embedded):
    examples = load_embedded(embedded.data_dir, "test")
    # Every difficulty and prompt length: the first N of the (shuffled) test split.
    return [ex.messages() for ex in examples[:N_QUESTIONS]]


@pytest.fixture(scope="module")
def one_at_a_time(trained_run, conversations):
    model = _open(trained_run.merged, batch_size=1)
    return [extract_sql(a) for a in model.generate(conversations)]


def test_model_answers_with_sql(one_at_a_time):
    assert sum(p.upper().startswith("SELECT") for p in one_at_a_time) >= 0.9 * N_QUESTIONS


def test_batched_generation_matches_one_at_a_time(trained_run, conversations, one_at_a_time):
    batched = [extract_sql(a) for a in _open(trained_run.merged, batch_size=16).generate(conversations)]
    mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(one_at_a_time, batched, strict=True)) if a != b]
    assert not mismatches


def test_concurrent_endpoint_matches_one_at_a_time(tiny_server, conversations, one_at_a_time):
    spec = ModelSpec.parse(f"{tiny_server.base_url}#{tiny_server.model}")
    model = CountingServerModel(spec, SETTINGS, concurrency=4)
    served = [extract_sql(a) for a in model.generate(conversations)]
    assert model.max_in_flight > 1, "requests were not concurrent"
    assert model.max_in_flight <= 4
    mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(one_at_a_time, served, strict=True)) if a != b]
    assert not mismatches


def test_base_without_chat_template_is_prompted_in_chatml(embedded, tmp_path):
    """A pre-trained base with no chat template gets the ChatML format its fine-tune will see."""
    import json
    import shutil

    model = tmp_path / "no-template"
    shutil.copytree(embedded.base_dir, model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    for extra in model.glob("chat_template.*"):
        extra.unlink()
    opened = _open(model)
    assert "no chat template" in opened.describe()["chat_template"]
    prompt = opened.render([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}])
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    assert _open(embedded.base_dir).describe()["chat_template"] == "the model's own"
