"""Merge a LoRA adapter into its base model and save a full model (`python -m tunebench.train.merge`).

The base is reloaded in bf16/fp32, never 4-bit: merging into quantized weights would round the
adapter away. Output is written to a temporary folder and renamed, so a crash never leaves a
half-written model where a server would pick it up.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def merge_adapter(
    adapter_dir: str | Path,
    out_dir: str | Path,
    *,
    base: str | None = None,
    dtype: str = "auto",
    max_shard_size: str = "2GB",
    model_card: str | None = None,
) -> Path:
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunebench.train.model_setup import torch_dtype

    adapter_dir, out = Path(adapter_dir), Path(out_dir)
    cfg = PeftConfig.from_pretrained(str(adapter_dir))
    base = base or cfg.base_model_name_or_path
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    model = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch_dtype(dtype, on_cuda=torch.cuda.is_available())
    )
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))  # tokens were added for ChatML at training time
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    for cfg_obj in (model.config, model.generation_config):
        cfg_obj.eos_token_id = tokenizer.eos_token_id
        cfg_obj.pad_token_id = tokenizer.pad_token_id
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True, max_shard_size=max_shard_size)
    tokenizer.save_pretrained(tmp)
    if model_card is not None:
        (tmp / "README.md").write_text(model_card)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("adapter", help="adapter folder (PEFT format), e.g. models/<run>/adapter")
    ap.add_argument("--out", help="output folder (default: the run's merged/)")
    ap.add_argument("--base", help="base model id or folder (default: the one in adapter_config.json)")
    ap.add_argument("--dtype", default="auto", help="auto | bfloat16 | float32 | float16")
    ap.add_argument("--max-shard-size", default="2GB")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.adapter).parent / "merged"
    card = Path(args.adapter) / "README.md"
    merged = merge_adapter(
        args.adapter,
        out,
        base=args.base,
        dtype=args.dtype,
        max_shard_size=args.max_shard_size,
        model_card=card.read_text() if card.exists() else None,
    )
    print(f"merged model: {merged}")


if __name__ == "__main__":
    main()
