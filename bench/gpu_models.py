"""The 7B architectures of the GPU benchmark, with random weights, and synthetic data at recipe lengths.

Speed and memory depend on the architecture and the sequence lengths, not on the weights, so no
download is needed: the configs below are the public config.json values of google/gemma-7b,
codellama/CodeLlama-7b-hf and mistralai/Mistral-7B-v0.1. The model folder gets random bf16 weights
and the embedded tiny tokenizer (its ids, < 1,100, are valid rows of every 7B vocabulary); both arms
then load it with `from_pretrained` + bitsandbytes NF4, as a real QLoRA run does.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

GEMMA_7B = {
    "model_type": "gemma",
    "vocab_size": 256000,
    "hidden_size": 3072,
    "intermediate_size": 24576,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "attention_bias": False,
    "tie_word_embeddings": True,
}
CODELLAMA_7B = {
    "model_type": "llama",
    "vocab_size": 32016,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "hidden_act": "silu",
    "max_position_embeddings": 16384,
    "rms_norm_eps": 1e-5,
    "rope_theta": 1_000_000.0,
    "tie_word_embeddings": False,
}
MISTRAL_7B = {
    "model_type": "mistral",
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "sliding_window": 4096,
    "tie_word_embeddings": False,
}

# Token lengths of one ChatML-formatted training example, modelled as log-normal (median, sigma):
# sql-create-context rows are a short system prompt + one CREATE TABLE + question + SQL (~80-250
# tokens); Dolly-15k rows are mostly short instructions and answers with a long tail (contexts).
SQL_CREATE_CONTEXT_LENGTHS = {"median": 125, "sigma": 0.3, "min": 60}
DOLLY_LENGTHS = {"median": 150, "sigma": 0.9, "min": 30}

MODELS = {
    "codellama-7b": {
        "arch": CODELLAMA_7B,
        "recipe": "recipes/codellama-7b-text-to-sql.yaml",
        "lengths": SQL_CREATE_CONTEXT_LENGTHS,
    },
    "mistral-7b": {
        "arch": MISTRAL_7B,
        "recipe": "recipes/mistral-7b-text-to-sql.yaml",
        "lengths": SQL_CREATE_CONTEXT_LENGTHS,
    },
    "gemma-7b": {"arch": GEMMA_7B, "recipe": "recipes/gemma-7b-dolly-chatml.yaml", "lengths": DOLLY_LENGTHS},
}


def shrink(arch: dict) -> dict:
    """The same architecture family at toy size: runs the whole GPU path on a CPU, for testing it."""
    heads = 4
    kv = heads if arch["num_key_value_heads"] == arch["num_attention_heads"] else 2
    small = {
        **arch,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
    }
    if "head_dim" in arch:
        small["head_dim"] = 16
    return small


def build_random_model(
    arch: dict, out_dir: Path, tokenizer_dir: Path, max_length: int, seed: int = 0
) -> Path:
    """Write a model folder: config + random bf16 weights + the tiny tokenizer. Built on the GPU when
    there is one (random init of 7B parameters takes minutes on a CPU, seconds on a GPU)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if len(tok) > arch["vocab_size"]:
        raise ValueError(f"tokenizer has {len(tok)} ids, more than the model's {arch['vocab_size']} rows")
    params = {k: v for k, v in arch.items() if k != "model_type"}
    config = AutoConfig.for_model(
        arch["model_type"],
        **params,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, max_shard_size="5GB")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    tok.model_max_length = max_length
    tok.save_pretrained(out_dir)
    return out_dir


def one_token_words(tokenizer) -> list[str]:
    """Vocabulary entries that are a space + letters: joined by spaces, each is about one token."""
    words = []
    for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]):
        if token.startswith("Ġ") and token[1:].isalpha():
            words.append(token[1:])
    if len(words) < 20:
        raise ValueError("tokenizer has too few whole-word tokens to build synthetic text")
    return words


def sample_lengths(n: int, median: int, sigma: float, min_len: int, max_len: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [max(min_len, min(max_len, round(math.exp(rng.gauss(math.log(median), sigma))))) for _ in range(n)]


def write_synthetic_messages(
    path: Path, tokenizer_dir: Path, n: int, lengths: dict, max_length: int, seed: int = 0
) -> dict:
    """`n` chat rows ({"messages": [system, user, assistant]}) whose lengths follow `lengths`.

    Returns the token-length statistics as the tokenizer actually counts them (chat template included).
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    words = one_token_words(tok)
    rng = random.Random(seed)
    overhead = len(_ids(tok, [{"role": r, "content": ""} for r in ("system", "user", "assistant")]))
    targets = sample_lengths(n, lengths["median"], lengths["sigma"], lengths["min"], max_length, seed)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        for target in targets:
            body = max(3, target - overhead)
            parts = [max(1, body * 4 // 10), max(1, body * 3 // 10)]
            parts.append(max(1, body - sum(parts)))
            msgs = [
                {"role": role, "content": " ".join(rng.choice(words) for _ in range(count))}
                for role, count in zip(("system", "user", "assistant"), parts, strict=True)
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")
    tmp.replace(path)
    sample = [json.loads(line)["messages"] for line in path.read_text().splitlines()[:200]]
    measured = sorted(len(_ids(tok, m)) for m in sample)
    return {
        "rows": n,
        "model": {**lengths, "max": max_length},
        "measured_median_tokens": measured[len(measured) // 2],
        "measured_p90_tokens": measured[int(len(measured) * 0.9)],
        "measured_max_tokens": measured[-1],
    }


def _ids(tok, messages: list[dict]) -> list[int]:
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=True)
    return list(out["input_ids"])
