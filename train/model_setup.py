"""Load the base model and tokenizer for training: dtype, attention, 4-bit NF4, ChatML, LoRA."""

from __future__ import annotations

import logging
from pathlib import Path

from tunebench.chat.template import ensure_chatml
from tunebench.hub import hub_unavailable
from tunebench.train.attention import resolve_attn_implementation

log = logging.getLogger(__name__)


def torch_dtype(name: str | None, *, on_cuda: bool):
    import torch

    if name in (None, "auto"):
        return torch.bfloat16 if on_cuda else torch.float32
    return getattr(torch, name)


def sharded_training() -> bool:
    """FSDP or DeepSpeed ZeRO-3: the launcher shards the model, so no device_map and no fp32 upcasts."""
    import os

    from transformers.integrations import is_deepspeed_zero3_enabled

    return is_deepspeed_zero3_enabled() or os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")


def load_model_and_tokenizer(model_args, sft_args):
    """Returns (model, tokenizer, info) with ChatML set up; info records what was chosen."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import get_quantization_config

    on_cuda = torch.cuda.is_available() and not sft_args.use_cpu
    dtype = torch_dtype(model_args.dtype, on_cuda=on_cuda)
    model_args.dtype = dtype  # get_quantization_config uses it as the 4-bit compute dtype
    attn = resolve_attn_implementation(model_args.attn_implementation)
    quant = get_quantization_config(model_args)
    kwargs = {"dtype": dtype, "attn_implementation": attn, "revision": model_args.model_revision}
    sharded = sharded_training()
    if quant is not None:
        kwargs["quantization_config"] = quant
        if sharded:
            pass  # ZeRO-3 refuses a device_map; FSDP places the shards itself
        elif on_cuda:  # one full copy per process: each DDP rank loads onto its own GPU
            from accelerate import PartialState

            kwargs["device_map"] = {"": PartialState().local_process_index}
        else:
            kwargs["device_map"] = {"": "cpu"}
    name = model_args.model_name_or_path
    try:
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(name, revision=model_args.model_revision)
    except OSError as err:  # transformers' "not a local folder and not reachable on the hub"
        if Path(name).exists():
            raise
        raise hub_unavailable("model", name, err, "model_name_or_path") from None
    # Under FSDP with cpu_ram_efficient_loading, non-zero ranks hold meta tensors: no mean resizing there.
    tokenizer, new_token_ids = ensure_chatml(tokenizer, model, mean_resizing=not sharded)
    # prepare_model_for_kbit_training upcasts norms/embeddings to fp32; FSDP cannot flatten mixed dtypes
    # and PEFT's FSDP/ZeRO-3 QLoRA examples skip it (the trainer enables checkpointing itself).
    if quant is not None and not sharded:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=bool(sft_args.activation_checkpointing),
            gradient_checkpointing_kwargs=sft_args.activation_checkpointing_kwargs,
        )
    info = {
        "attn_implementation": attn,
        "dtype": str(dtype).replace("torch.", ""),
        "quantization": ("4bit-" + model_args.bnb_4bit_quant_type)
        if model_args.load_in_4bit
        else ("8bit" if model_args.load_in_8bit else None),
        "device": "cuda" if on_cuda else "cpu",
        "sharded": sharded,
        "new_token_ids": new_token_ids,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    log.info("model %s loaded: %s", model_args.model_name_or_path, info)
    return model, tokenizer, info


def lora_config(model_args, tb_args, model, new_token_ids: list[int]):
    """A `LoraConfig` from the recipe, or None for full fine-tuning.

    Tokens added for ChatML get their rows trained through `trainable_token_indices`, so the
    adapter stores a few rows instead of the whole embedding matrix (the original notebooks' 1.8 GB adapter).
    Whole embeddings are saved only when the recipe lists them in `lora_modules_to_save`.
    """
    if not model_args.use_peft:
        return None
    from peft import LoraConfig

    modules_to_save = list(model_args.lora_modules_to_save or [])
    target = model_args.lora_target_modules or "all-linear"
    if isinstance(target, list) and target == ["all-linear"]:
        target = "all-linear"
    kwargs = {}
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    if new_token_ids and tb_args.lora_trainable_tokens and "embed_tokens" not in modules_to_save:
        kwargs["trainable_token_indices"] = {"embed_tokens": list(new_token_ids)}
        if not tied:  # an untied output layer must learn to emit the new tokens (<|im_end|>) too
            kwargs["trainable_token_indices"]["lm_head"] = list(new_token_ids)
    if (
        tied
        and tb_args.ensure_weight_tying
        and ("embed_tokens" in modules_to_save or "trainable_token_indices" in kwargs)
    ):
        kwargs["ensure_weight_tying"] = True
    if tb_args.lora_top_layers:
        target, kwargs["layers_to_transform"] = top_layers(model, target, tb_args.lora_top_layers)
    return LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=target,
        modules_to_save=modules_to_save or None,
        task_type="CAUSAL_LM",
        use_rslora=model_args.use_rslora,
        use_dora=model_args.use_dora,
        **kwargs,
    )


def top_layers(model, target, count: int) -> tuple[list[str], list[int]]:
    """(target module names, layer indices) for LoRA on the top `count` decoder layers.

    PEFT takes `layers_to_transform` only with target modules named, not "all-linear": that keyword
    becomes the names of the linear layers inside the decoder layers (PEFT's own meaning: never the
    output head)."""
    import torch

    from tunebench.train.recipe import RecipeError

    layers = model.config.get_text_config().num_hidden_layers
    if count > layers:  # train/recipe.py says so before loading where it can read the config
        raise RecipeError(f"lora_top_layers: {count}: the model has {layers} layers")
    if target == "all-linear":
        target = sorted(
            {
                name.rsplit(".", 1)[-1]
                for name, module in model.named_modules()
                if ".layers." in name and isinstance(module, torch.nn.Linear)
            }
        )
    return list(target), list(range(layers - count, layers))
