"""Back to GGUF: a merged Llama-architecture model as one `.gguf` file that llama.cpp and Ollama load.

    python -m tunebench.train.export_gguf models/<run>/merged [--out model.gguf] [--type f16|q8_0|f32]

Written with the `gguf` package (llama.cpp's own Python writer): its tensor-name map, its BPE vocabulary
and special-token readers, and its Q8_0 quantizer; what it leaves to a converter is the Llama layout
(llama.cpp's convert_hf_to_gguf.py interleaves the rotary halves of the q and k projections, which
transformers' GGUF loader undoes on the way back) and the file's metadata. The pre-tokenizer name
(`tokenizer.ggml.pre`, how llama.cpp splits text before BPE) is taken from the GGUF file the base was
converted from when there is one (SmolLM2's is "smollm"); otherwise "default", with a warning.

A file that transformers loads back (`tunebench.bases.from_gguf`) answers like the merged folder it came
from: tests/train/test_export_gguf.py compares their greedy answers.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

from tunebench.bases.gguf import GgufError, read_record
from tunebench.runs.atomic_io import atomic_path

log = logging.getLogger(__name__)

TYPES = ("f16", "q8_0", "f32")
_GENERATION_TAG = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")


def rotary_interleaved(weights, n_head: int):
    """HF's half-split rotary layout of a q or k projection as GGML's interleaved pairs."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _pre_tokenizer(model_dir: Path) -> str:
    """llama.cpp's name for the base's pre-tokenizer, read from the GGUF file the base came from."""
    from tunebench.runs.record import RunManifest

    run = RunManifest.for_model(model_dir)
    base = run.base_model if run is not None else None
    record = read_record(base) if base else read_record(model_dir)
    source = (record or {}).get("source", {}).get("path")
    if source and Path(source).is_file():
        from gguf import GGUFReader

        field = GGUFReader(source).fields.get("tokenizer.ggml.pre")
        if field is not None:
            return field.contents()
    log.warning("no GGUF file behind %s's base: writing the pre-tokenizer as 'default'", model_dir)
    return "default"


def _add_tokenizer(writer, model_dir: Path, vocab_size: int) -> None:
    import gguf

    vocab = gguf.BpeVocab(model_dir)  # tokenizer.json's byte-level BPE (GPT-2 style), in id order
    tokens = [t for t, _, _ in vocab.all_tokens()]
    if len(tokens) != vocab_size:
        raise GgufError(f"{model_dir}: the tokenizer has {len(tokens)} tokens, the model {vocab_size} rows")
    added = json.loads((model_dir / "tokenizer.json").read_text()).get("added_tokens", [])
    types = [gguf.TokenType.NORMAL] * vocab_size
    for tok in added:
        types[tok["id"]] = gguf.TokenType.CONTROL if tok.get("special") else gguf.TokenType.USER_DEFINED
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(model_dir))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    # merges, bos/eos/unk/pad ids and the chat template, from the folder's tokenizer files
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size)
    if isinstance(special.chat_template, str):  # TRL's training markers render nothing; llama.cpp needs none
        special.chat_template = _GENERATION_TAG.sub("", special.chat_template)
    special.add_to_gguf(writer, quiet=True)


def export_gguf(model_dir: str | Path, out: str | Path, *, out_type: str = "f16") -> Path:
    """Write the merged model in `model_dir` as a GGUF file at `out` (whole or not at all)."""
    import gguf
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_dir, out = Path(model_dir), Path(out)
    if out_type not in TYPES:
        raise GgufError(f"--type {out_type}: choose one of {', '.join(TYPES)}")
    config = AutoConfig.from_pretrained(model_dir)
    if config.model_type != "llama":
        raise GgufError(
            f"{model_dir}: a {config.model_type} model; this exporter writes Llama-architecture ones"
        )
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_head
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[out_type]
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
        writer.add_name(model_dir.parent.name if model_dir.name == "merged" else model_dir.name)
        writer.add_context_length(config.max_position_embeddings)
        writer.add_embedding_length(config.hidden_size)
        writer.add_block_count(config.num_hidden_layers)
        writer.add_feed_forward_length(config.intermediate_size)
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_kv)
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
        writer.add_layer_norm_rms_eps(config.rms_norm_eps)
        writer.add_vocab_size(config.vocab_size)
        writer.add_file_type(file_type)
        _add_tokenizer(writer, model_dir, config.vocab_size)
        for name, tensor in model.state_dict().items():
            if name == "lm_head.weight" and config.tie_word_embeddings:
                continue  # llama.cpp reuses token_embd for a tied output
            gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise GgufError(f"{model_dir}: no GGUF name for tensor {name}")
            data = tensor.numpy()
            if name.endswith("q_proj.weight"):
                data = rotary_interleaved(data, n_head)
            elif name.endswith("k_proj.weight"):
                data = rotary_interleaved(data, n_kv)
            if data.ndim == 1 or out_type == "f32":  # norms stay f32, as llama.cpp writes them
                writer.add_tensor(gguf_name, data.astype(np.float32))
            elif out_type == "f16":
                writer.add_tensor(gguf_name, data.astype(np.float16))
            else:
                q8 = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
                writer.add_tensor(gguf_name, q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.train.export_gguf",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("model", type=Path, help="a merged model folder (models/<run>/merged)")
    ap.add_argument("--out", type=Path, help="the .gguf file (default: beside the folder, <run>-<type>.gguf)")
    ap.add_argument("--type", default="f16", choices=TYPES, help="tensor type of the matrices (default f16)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not (args.model / "config.json").is_file():
        print(f"error: {args.model}: not a model folder (no config.json)", file=sys.stderr)
        return 2
    stem = args.model.parent.name if args.model.name == "merged" else args.model.name
    out = args.out or args.model.parent / f"{stem}-{args.type}.gguf"
    try:
        export_gguf(args.model, out, out_type=args.type)
    except GgufError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"gguf: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
