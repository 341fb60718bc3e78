"""Batched in-process generation and concurrent endpoint generation (a real `transformers serve`)
give the same predictions as one-at-a-time greedy generation, on the fine-tuned tiny model."""

from __future__ import annotations

import threading

import pytest

from tunebench.evaluate.sql.data import load_embedded
from tunebench.evaluate.sql.generate import EndpointBackend, GenerationSettings, InProcessBackend
from tunebench.sql_text import extract_sql

N_QUESTIONS = 32
SETTINGS = GenerationSettings(max_new_tokens=48)  # gold queries: at most 41 tokens

pytestmark = pytest.mark.slow


class CountingEndpoint(EndpointBackend):
    """The real backend, recording how many requests were in flight at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight = self.max_in_flight = 0
        self._count_lock = threading.Lock()

    def _complete(self, messages):
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return super()._complete(messages)
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
    backend = InProcessBackend(trained_run.merged, SETTINGS, batch_size=1)
    return [extract_sql(a) for a in backend.generate(conversations)]


def test_model_answers_with_sql(one_at_a_time):
    assert sum(p.upper().startswith("SELECT") for p in one_at_a_time) >= 0.9 * N_QUESTIONS


def test_batched_generation_matches_one_at_a_time(trained_run, conversations, one_at_a_time):
    backend = InProcessBackend(trained_run.merged, SETTINGS, batch_size=16)
    batched = [extract_sql(a) for a in backend.generate(conversations)]
    mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(one_at_a_time, batched, strict=True)) if a != b]
    assert not mismatches


def test_concurrent_endpoint_matches_one_at_a_time(tiny_server, conversations, one_at_a_time):
    backend = CountingEndpoint(tiny_server, SETTINGS, concurrency=4)
    served = [extract_sql(a) for a in backend.generate(conversations)]
    assert backend.max_in_flight > 1, "requests were not concurrent"
    assert backend.max_in_flight <= 4
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
    backend = InProcessBackend(model, GenerationSettings(max_new_tokens=2))
    assert "no chat template" in backend.describe()["chat_template"]
    prompt = backend.generator.render([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}])
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    assert InProcessBackend(embedded.base_dir).describe()["chat_template"] == "the model's own"
