"""Fixtures for the contract's model-access tests: a tiny model whose greedy answers are varied text.

The embedded tiny base at its initialisation answers nothing but newlines, so "batched equals one at a
time" would hold trivially on it. The same architecture with larger random weights answers a different
string of tokens to every question: equal answers then mean equal computations.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import HANG_S


@pytest.fixture(scope="session")
def varied_model(embedded, tmp_path_factory):
    """A folder with the tiny base's tokenizer, template and config, weights drawn at a larger scale."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    out = tmp_path_factory.mktemp("varied") / "model"
    config = AutoConfig.from_pretrained(embedded.base_dir)
    config.initializer_range = 0.3  # the base uses 0.02: its logits are nearly flat
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(embedded.base_dir).save_pretrained(out)
    shutil.copy(embedded.base_dir / "generation_config.json", out / "generation_config.json")
    return out


@pytest.fixture(scope="session")
def conversations(embedded):
    """Seven text-to-SQL questions of the embedded test split, of different lengths (padding matters)."""
    from tunebench.embedded.sqlgen import load_split
    from tunebench.sql.prompt import sql_messages

    rows = load_split(embedded.data_dir, "test")[:7]
    return [sql_messages(r["schema"], r["question"]) for r in rows]


@pytest.fixture(scope="session")
def varied_server(varied_model, tmp_path_factory):
    """A real `transformers serve` on 127.0.0.1 serving `varied_model` (no training needed)."""
    from tunebench.chat.local_server import transformers_serve

    log = tmp_path_factory.mktemp("varied-server") / "transformers-serve.log"
    with transformers_serve(varied_model, log_path=log, ready_timeout_s=HANG_S) as endpoint:
        yield endpoint
