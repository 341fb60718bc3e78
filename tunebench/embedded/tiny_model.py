"""The embedded tiny base model: a locally trained byte-level BPE tokenizer with ChatML and a
small Llama-architecture model with random weights. Deterministic from a seed, no download.

Its weights are random: "fine-tuning" it teaches it everything it knows, which is why the tiny
recipe trains the (tied) embeddings too. Reports say so.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tunebench.chat.template import CHATML_TEMPLATE, IM_END, IM_START
from tunebench.runs.paths import TINY_MARKER

PAD = "<|pad|>"
EOT = "<|endoftext|>"
SPECIAL_TOKENS = [EOT, IM_START, IM_END, PAD]

TINY_ARCH = {
    "hidden_size": 128,
    "intermediate_size": 352,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 1024,  # RoPE: no extra weights; MT-Bench smoke judge prompts exceed 512
}


def train_tokenizer(texts: list[str], vocab_size: int = 1024):
    """Byte-level BPE trained on `texts`, wrapped as a ChatML `PreTrainedTokenizerFast`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=IM_END,
        pad_token=PAD,
        unk_token=None,
        additional_special_tokens=[IM_START, IM_END],
        model_max_length=TINY_ARCH["max_position_embeddings"],
    )
    tok.chat_template = CHATML_TEMPLATE
    return tok


def tokenizer_corpus(dataset_dir: Path) -> list[str]:
    """Texts the tokenizer learns from: the training split rendered as ChatML, so common prompt
    pieces (system prompt, CREATE TABLE, column names) become single tokens."""
    from tunebench.embedded.sqlgen import load_split
    from tunebench.sql.prompt import sql_messages

    texts = []
    for r in load_split(dataset_dir, "train"):
        for m in sql_messages(r["schema"], r["question"], r["query"]):
            texts.append(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n")
    return texts


def build_tiny_base(
    out_dir: str | Path,
    dataset_dir: str | Path,
    *,
    seed: int = 0,
    vocab_size: int = 1024,
    force: bool = False,
    **arch,
) -> Path:
    """Write tokenizer + random-init Llama to `out_dir` (reused when already built the same way)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    settings = {
        "seed": seed,
        "vocab_size": vocab_size,
        **TINY_ARCH,
        **arch,
        "dataset": str(Path(dataset_dir).resolve()),
    }
    stamp = out / TINY_MARKER
    if not force and stamp.exists() and json.loads(stamp.read_text()) == settings:
        return out
    tok = train_tokenizer(tokenizer_corpus(Path(dataset_dir)), vocab_size)
    config = LlamaConfig(
        vocab_size=len(tok),
        **{**TINY_ARCH, **arch},
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    # Write next to the target and rename, so an interrupted build never leaves a half model.
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / TINY_MARKER).write_text(json.dumps(settings, indent=2))
    (tmp / "README.md").write_text(
        "# tunebench tiny base\n\nA small Llama-architecture model with **random weights** and a byte-level BPE "
        "tokenizer trained locally on tunebench's generated text-to-SQL training split. It knows nothing before "
        f"fine-tuning. Built by `tunebench.embedded.tiny_model.build_tiny_base` with seed {seed}.\n"
    )
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out
