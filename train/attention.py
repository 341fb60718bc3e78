"""Pick the attention kernel at run time: FlashAttention-2 where it can run, else PyTorch SDPA."""

from __future__ import annotations

import importlib.util
import logging

log = logging.getLogger(__name__)


def flash_attn_usable() -> bool:
    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None


def resolve_attn_implementation(requested: str | None) -> str:
    """`auto`/None → flash_attention_2 on CUDA with flash-attn installed, else sdpa.

    An explicit `flash_attention_2` where flash-attn cannot run falls back to sdpa with a warning
    instead of failing an hour into a job (flash-attn is the most common install breakage).
    """
    if requested in (None, "", "auto"):
        choice = "flash_attention_2" if flash_attn_usable() else "sdpa"
    elif requested == "flash_attention_2" and not flash_attn_usable():
        log.warning("flash_attention_2 requested but flash-attn is not importable on CUDA here; using sdpa")
        choice = "sdpa"
    else:
        choice = requested
    log.info("attention implementation: %s", choice)
    return choice
