"""Merging a run's LoRA adapter into a full model (the library; `python -m tunebench.train.merge` is the CLI).

A LoRA adapter is merged into the full-precision base it was trained on. A QLoRA adapter learned to
correct the NF4-quantized weights, so by default (`merge_base: dequantized`) it is merged into that
base dequantized with the training quantization config, then saved in the merge dtype; `merge_base:
original` merges into the base reloaded in full precision instead. Never into 4-bit weights: that
would round the adapter away. Every merge of a run is compared with the adapter on its training base
(`tunebench.train.fidelity`); the figures go into the run record and the model card.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tunebench.runs.atomic_io import atomic_path, atomic_write_text
from tunebench.runs.paths import RunPaths, tiny_base_build
from tunebench.runs.record import RunManifest

log = logging.getLogger(__name__)


MERGE_BASES = ("dequantized", "original")
REFERENCE_TEXT = {
    "as-trained": "the adapter on the NF4 4-bit base it was trained on",
    "full-precision": "the adapter on the full-precision base it was trained on",
}


def merge_adapter(
    adapter_dir: str | Path,
    out_dir: str | Path,
    *,
    base: str | None = None,
    dtype: str = "auto",
    max_shard_size: str = "2GB",
    model_card: str | None = None,
) -> Path:
    """Merge an adapter folder outside a tunebench run (no record to read settings from) into its base
    (or `base`) and save the full model + tokenizer in `out_dir`. No fidelity is measured: without the
    run's recipe there is no training base or held-out split to compare on."""
    import torch
    from peft import PeftConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunebench.train.model_setup import torch_dtype

    adapter_dir = Path(adapter_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    base = base or PeftConfig.from_pretrained(str(adapter_dir)).base_model_name_or_path
    model = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch_dtype(dtype, on_cuda=torch.cuda.is_available())
    )
    merged = merge_into(with_chatml_rows(model, tokenizer), adapter_dir, tokenizer)
    return save_merged(merged, tokenizer, Path(out_dir), card=model_card, max_shard_size=max_shard_size)


def with_chatml_rows(model, tokenizer):
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))  # tokens were added for ChatML at training time
    return model


def merge_into(base_model, adapter_dir: Path, tokenizer):
    """The adapter folded into `base_model`'s weights; generation stops where the tokenizer's turns end."""
    from peft import PeftModel

    merged = PeftModel.from_pretrained(base_model, str(adapter_dir)).merge_and_unload().eval()
    for cfg_obj in (merged.config, merged.generation_config):
        cfg_obj.eos_token_id = tokenizer.eos_token_id
        cfg_obj.pad_token_id = tokenizer.pad_token_id
    return merged


def save_merged(model, tokenizer, out: Path, *, card: str | None, max_shard_size: str) -> Path:
    """Model, tokenizer and card built beside `out` and moved in whole: a server never sees half of one."""
    with atomic_path(out, is_dir=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True, max_shard_size=max_shard_size)
        tokenizer.save_pretrained(tmp)
        if card is not None:
            atomic_write_text(tmp / "README.md", card)
    return out


class BaseChanged(ValueError):
    """The base on disk is not the one the adapter was trained on."""


def check_base_unchanged(manifest: RunManifest) -> None:
    """Refuse to merge into a tiny base rebuilt since the run trained on it (other seed, other random
    weights): the merge would 'succeed' and every answer of the merged model would be noise."""
    trained_on = manifest.extra.get("tiny_base")
    if not trained_on or not manifest.base_model:
        return
    now = tiny_base_build(manifest.base_model)
    if now != trained_on:
        then_seed = trained_on.get("seed")
        found = "no tiny base" if now is None else f"one built with seed {now.get('seed')}"
        raise BaseChanged(
            f"{manifest.base_model} is not the base this run trained on (seed {then_seed}): found {found}. "
            f"Rebuild it (python -m tunebench.embedded --seed {then_seed} --force) or train the run again."
        )


def merge_base_for(manifest: RunManifest, requested: str | None = None) -> str:
    """What the adapter is merged into: a QLoRA adapter into its NF4 base dequantized (default) or the
    original full-precision base; a LoRA adapter into the full-precision base it was trained on."""
    if manifest.method != "qlora":
        return "full-precision"
    choice = requested or recorded_args(manifest).merge_base
    if choice not in MERGE_BASES:
        raise ValueError(f"merge_base: {choice!r} is not one of {', '.join(MERGE_BASES)}")
    return choice


def recorded_args(manifest: RunManifest):
    """The run's tunebench keys as training parsed them. A record keeps every key; for an older one
    that kept only the keys the user set, the dataclass's own defaults fill the rest (training owns the
    dataclass, so nothing is restated here)."""
    from dataclasses import fields

    from tunebench.train.args import TunebenchArguments

    names = {f.name for f in fields(TunebenchArguments)}
    return TunebenchArguments(**{k: v for k, v in manifest.recipe.items() if k in names})


def recorded_model_config(manifest: RunManifest, compute_dtype=None):
    """TRL's ModelConfig as training parsed it (the quantization settings), `dtype` the compute dtype."""
    from dataclasses import fields

    from trl import ModelConfig

    names = {f.name for f in fields(ModelConfig)} - {"dtype"}
    model_args = ModelConfig(**{k: v for k, v in manifest.recipe.items() if k in names})
    model_args.dtype = compute_dtype  # as model_setup sets it before asking TRL
    return model_args


def training_quantization_config(manifest: RunManifest, compute_dtype):
    """The BitsAndBytesConfig training used, rebuilt from the recipe the run recorded (TRL's own rule)."""
    from trl import get_quantization_config

    return get_quantization_config(recorded_model_config(manifest, compute_dtype))


def trained_on_cuda(manifest: RunManifest) -> bool:
    import torch

    return torch.cuda.is_available() and manifest.model.device != "cpu"


def load_base(manifest: RunManifest, kind: str, merge_dtype, tokenizer):
    """The base weights for `kind`: "as-trained" (4-bit, for the fidelity reference), "dequantized",
    "original" or "full-precision", with the embedding rows of tokens added for ChatML."""
    from transformers import AutoModelForCausalLM

    from tunebench.train.model_setup import torch_dtype

    on_cuda = trained_on_cuda(manifest)
    device = "cuda" if on_cuda else "cpu"
    if kind in ("as-trained", "dequantized"):
        compute_dtype = torch_dtype(manifest.recipe.get("dtype"), on_cuda=on_cuda)
        model = AutoModelForCausalLM.from_pretrained(
            manifest.base_model,
            dtype=compute_dtype,
            quantization_config=training_quantization_config(manifest, compute_dtype),
            device_map={"": 0 if on_cuda else "cpu"},
        )
        if kind == "dequantized":
            model = model.dequantize(dtype=merge_dtype).to(merge_dtype)
        else:
            keep_training_kernel(model)
    else:
        model = AutoModelForCausalLM.from_pretrained(manifest.base_model, dtype=merge_dtype).to(device)
    return with_chatml_rows(model, tokenizer)


def keep_training_kernel(model) -> None:
    """Run 4-bit layers in inference as in training. On a CPU with AVX512-BF16, bitsandbytes switches
    eval-mode layers to a repacked kernel with bf16 block scales: other numerics than the model was
    trained with, and it fails outright when in_features is not a multiple of the block size (the tiny
    model's 352-wide MLP)."""
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False


def fidelity_conversations(manifest: RunManifest, n: int) -> list[list[dict]]:
    """A fixed sample of prompts the run did not train on: `fidelity_dataset` when the recipe names one,
    else the run's held-out split, else (no held-out rows at all) its first training rows."""
    from tunebench.train.data import load_train_eval
    from tunebench.train.fidelity import prompt_conversations
    from tunebench.train.sources import load_messages

    args = recorded_args(manifest)
    source = args.fidelity_dataset
    if source and not Path(source).exists():
        log.warning("fidelity_dataset %s does not exist here: using the run's held-out split", source)
        source = None
    if source:
        return prompt_conversations(load_messages(source, fmt=args.dataset_format), n)
    if args.trainer != "sft":
        return preference_prompts(args, n)
    train, heldout = load_train_eval(args)
    if heldout is None:
        log.warning("the run held no rows out: merge fidelity is measured on training prompts")
    return prompt_conversations(heldout if heldout is not None else train, n)


def preference_prompts(args, n: int) -> list[list[dict]]:
    """A preference run's fidelity prompts: the prompts of its held-out pairs (else its first pairs),
    read as training read them; a KTO run's unpaired rows share a prompt two by two, asked once."""
    from tunebench.train.preference import load_preference_train_eval

    train, heldout, _ = load_preference_train_eval(args, args.trainer)
    if heldout is None:
        log.warning("the run held no pairs out: merge fidelity is measured on training prompts")
    prompts: list[list[dict]] = []
    for row in heldout if heldout is not None else train:
        raw = row["prompt"]
        prompt = [{"role": "user", "content": raw}] if isinstance(raw, str) else [dict(m) for m in raw]
        if prompt not in prompts:
            prompts.append(prompt)
        if len(prompts) == n:
            break
    return prompts


def merge_run(
    run: RunPaths,
    *,
    manifest: RunManifest | None = None,
    out: Path | None = None,
    merge_base: str | None = None,
    fidelity_samples: int | None = None,
) -> tuple[Path, dict]:
    """Merge the adapter of `run` as its recipe says, measure fidelity against the adapter on its training
    base, and (into the run's own merged/) record both in the manifest and the model card.

    Returns (merged folder, merge record)."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from tunebench.train.fidelity import compare
    from tunebench.train.model_card import render_model_card
    from tunebench.train.model_setup import torch_dtype

    manifest = manifest or RunManifest.load(run.manifest)
    check_base_unchanged(manifest)
    out = Path(out or run.merged)
    kind = merge_base_for(manifest, merge_base)
    args = recorded_args(manifest)
    on_cuda = trained_on_cuda(manifest)
    dtype = torch_dtype(args.merge_dtype, on_cuda=on_cuda)
    tokenizer = AutoTokenizer.from_pretrained(str(run.adapter))
    log.info("merging %s into the %s base (%s)", run.adapter, kind, dtype)
    merged = merge_into(load_base(manifest, kind, dtype, tokenizer), run.adapter, tokenizer)
    record = {"merge_base": kind, "dtype": str(dtype).replace("torch.", "")}
    samples = fidelity_samples if fidelity_samples is not None else args.fidelity_samples
    if samples > 0:
        reference_kind = "as-trained" if manifest.method == "qlora" else "full-precision"
        reference = PeftModel.from_pretrained(
            load_base(manifest, reference_kind, dtype, tokenizer), str(run.adapter)
        ).eval()
        conversations = fidelity_conversations(manifest, samples)
        record["fidelity"] = compare(reference, merged, tokenizer, conversations).to_dict()
        record["fidelity"]["reference"] = REFERENCE_TEXT[reference_kind]
        del reference
    own_folder = out.resolve() == run.merged.resolve()
    if own_folder:
        manifest.extra["merge"] = record
    card = render_model_card(manifest if own_folder else _with_merge(manifest, record))
    save_merged(merged, tokenizer, out, card=card, max_shard_size=args.max_shard_size)
    if own_folder:
        manifest.save(run.manifest)
    return out, record


def _with_merge(manifest: RunManifest, record: dict) -> RunManifest:
    import dataclasses

    return dataclasses.replace(manifest, extra={**manifest.extra, "merge": record})
