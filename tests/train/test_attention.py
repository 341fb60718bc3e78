"""Attention is chosen at run time: FlashAttention-2 only where it can actually run."""

from __future__ import annotations

import logging

import pytest

from tunebench.train import attention


@pytest.mark.parametrize(
    "cuda, flash, requested, expected",
    [
        (False, False, "auto", "sdpa"),
        (False, False, None, "sdpa"),
        (True, False, "auto", "sdpa"),
        (True, True, "auto", "flash_attention_2"),
        (False, True, "flash_attention_2", "sdpa"),  # asked for it where it cannot run: fall back, loudly
        (True, True, "flash_attention_2", "flash_attention_2"),
        (False, False, "eager", "eager"),
    ],
)
def test_resolution(monkeypatch, caplog, cuda, flash, requested, expected):
    monkeypatch.setattr("torch.cuda.is_available", lambda: cuda)
    monkeypatch.setattr(attention.importlib.util, "find_spec", lambda name: object() if flash else None)
    with caplog.at_level(logging.INFO, logger="tunebench.train.attention"):
        assert attention.resolve_attn_implementation(requested) == expected
    assert f"attention implementation: {expected}" in caplog.text
    if requested == "flash_attention_2" and expected == "sdpa":
        assert "flash-attn is not importable" in caplog.text
