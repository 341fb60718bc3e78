"""One arm of the training-throughput benchmark, run in its own process: `python -m bench.train_arms SPEC OUT`.

An arm is either `tunebench` (the recipe through tunebench's own code: recipe parsing, model setup,
LoRA config, CPU overrides) or `plain` (TRL's `SFTTrainer` as its docs show it: a model from
`from_pretrained` with the default attention, padded batches, no packing, TRL's defaults). Both count
the tokens of every micro-batch they train on, so padding is measured, not estimated, and a callback
times optimizer steps after the warm-up. Its own process gives each arm a clean peak-memory figure.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from bench.arm_timing import Control, WindowTimer, counting_trainer_class, new_counts
from bench.memory import PeakMemory

MAX_STEPS = 100_000  # the timer stops training; this only bounds the learning-rate schedule


def recipe_overrides(spec: dict) -> list[str]:
    """The recipe's command line for an arm: its model and data, no saving, no eval, the arm's overrides."""
    out = [
        "--config",
        spec["recipe"],
        "--embedded=false",
        f"--model_name_or_path={spec['model']}",
        f"--dataset_name={spec['dataset']}",
        f"--dataset_format={spec['dataset_format']}",
        "--eval_fraction=0",
        "--eval_strategy=no",
        f"--output_dir={spec['output_dir']}",
        f"--logging_steps={spec.get('logging_steps', 10)}",
        "--save_strategy=no",
        "--report_to=none",
        "--disable_tqdm=true",
    ]
    if spec.get("schedule") != "own":  # throughput: the timer stops training, not the schedule
        out.append(f"--max_steps={MAX_STEPS}")
    if spec.get("cpu"):  # the GPU recipes on a CPU (the shrunk test run): what `make train` does there
        out += ["--use_cpu=true", "--bf16=false", "--tf32=false"]
    return out + list(spec.get("overrides", []))


def tunebench_trainer(spec: dict, tb, sft, margs, callbacks):
    """The recipe as `python -m tunebench.train` runs it, up to `trainer.train()` (the same function).
    `trl_loss` swaps in TRL's own loss for the labelled-positions one, to measure what that is worth."""
    from trl import SFTTrainer

    from tunebench.train.assemble import build_trainer
    from tunebench.train.labelled_loss import LabelledLossSFTTrainer
    from tunebench.train.recipe import Recipe

    if spec.get("liger"):
        sft.use_liger_kernel = True
    base = SFTTrainer if spec.get("trl_loss") else LabelledLossSFTTrainer
    built = build_trainer(
        Recipe(tb, sft, margs), trainer_cls=counting_trainer_class(base), callbacks=callbacks
    )
    info = built.model_info
    return built.trainer, {
        "attn_implementation": info["attn_implementation"],
        "quantization": info["quantization"],
    }


def plain_trainer(spec: dict, tb, sft, margs, callbacks):
    """TRL's SFTTrainer as a user writes it from the TRL/PEFT docs: only the recipe's model, LoRA shape,
    batch shape, learning rate and sequence length carry over; every speed setting is TRL's default."""
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    from tunebench.train.sources import load_messages

    on_cuda = torch.cuda.is_available() and not spec.get("cpu")
    kwargs: dict = {}
    if margs.load_in_4bit:
        compute = torch.bfloat16 if on_cuda else torch.float32
        kwargs["dtype"] = compute
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=margs.bnb_4bit_quant_type,
            bnb_4bit_use_double_quant=margs.use_bnb_nested_quant,
            bnb_4bit_compute_dtype=compute,
            bnb_4bit_quant_storage=margs.bnb_4bit_quant_storage or "uint8",
        )
        kwargs["device_map"] = {"": 0 if on_cuda else "cpu"}
    model = AutoModelForCausalLM.from_pretrained(spec["model"], **kwargs)
    tok = AutoTokenizer.from_pretrained(spec["model"])
    if sft.assistant_only_loss and "generation" not in (tok.chat_template or "").replace(
        "add_generation", ""
    ):
        # TRL refuses assistant-only loss on a template without {% generation %} markers (SmolLM2's own):
        # a user must supply one. This arm gets the rendering tunebench trains with, markers added.
        from tunebench.chat.template import chatml_template, default_system_message

        tok.chat_template = chatml_template(default_system_message(tok))
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    to_save = list(margs.lora_modules_to_save or []) or None
    peft = LoraConfig(
        r=margs.lora_r,
        lora_alpha=margs.lora_alpha,
        lora_dropout=margs.lora_dropout,
        target_modules="all-linear",
        modules_to_save=to_save,
        task_type="CAUSAL_LM",
        **({"ensure_weight_tying": True} if tied and to_save else {}),
    )
    batch, accum = spec.get("plain_batch") or (
        sft.per_device_train_batch_size,
        sft.gradient_accumulation_steps,
    )
    gc = bool(spec.get("gradient_checkpointing", True))
    schedule: dict = {} if spec.get("schedule") == "own" else {"max_steps": MAX_STEPS}
    if spec.get("schedule") == "own" and spec.get("recipe_examples"):
        # TRL's defaults otherwise, but as many examples as the recipe's schedule trains on (800 x 32)
        schedule = {
            "max_steps": sft.max_steps
            * sft.per_device_train_batch_size
            * sft.gradient_accumulation_steps
            // batch
        }
    args = SFTConfig(
        output_dir=spec["output_dir"],
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accum,
        max_length=sft.max_length,
        learning_rate=sft.learning_rate,
        assistant_only_loss=sft.assistant_only_loss,
        # time to accuracy runs TRL's own schedule (3 epochs, linear decay); throughput never ends it
        **schedule,
        logging_steps=spec.get("logging_steps", 10),
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=sft.seed,
        gradient_checkpointing=gc,
        **({} if on_cuda else {"use_cpu": True, "bf16": False}),
    )
    train_ds = load_messages(spec["dataset"], fmt=spec["dataset_format"])
    trainer = counting_trainer_class(SFTTrainer)(
        model=model,
        args=args,
        train_dataset=train_ds,
        processing_class=tok,
        peft_config=peft,
        callbacks=callbacks,
    )
    return trainer, {"attn_implementation": model.config._attn_implementation, "quantization": None}


def run_arm(spec: dict) -> dict:
    from tunebench.train.recipe import parse_recipe

    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(spec.get("seed", 0))
    recipe = parse_recipe(recipe_overrides(spec))
    tb, sft, margs = recipe.args, recipe.config, recipe.model
    counts = new_counts()
    control = Control(spec.get("ctl_read_fd"), spec.get("ctl_write_fd"))
    timer = WindowTimer(counts, control, spec["warmup_steps"], spec["windows"], spec["window_s"])
    build = tunebench_trainer if spec["kind"] == "tunebench" else plain_trainer
    trainer, info = build(spec, tb, sft, margs, [timer])
    trainer.bench_counts = counts
    if margs.load_in_4bit and info["quantization"] is None:
        info["quantization"] = f"4bit-{margs.bnb_4bit_quant_type}"
    a = trainer.args
    with PeakMemory() as mem:
        trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        "arm": spec["name"],
        "kind": spec["kind"],
        "settings": {
            **info,
            "packing": bool(getattr(a, "packing", False)),
            "padding_free": bool(
                getattr(a, "padding_free", False) or getattr(trainer, "padding_free", False)
            ),
            "per_device_train_batch_size": a.per_device_train_batch_size,
            "gradient_accumulation_steps": a.gradient_accumulation_steps,
            "gradient_checkpointing": bool(
                getattr(a, "activation_checkpointing", False) or a.gradient_checkpointing
            ),
            "bf16": bool(a.bf16),
            "use_liger_kernel": bool(a.use_liger_kernel),
            "max_length": a.max_length,
            "train_sampling_strategy": getattr(a, "train_sampling_strategy", None),
            "torch_threads": torch.get_num_threads(),
            "device": "cuda" if torch.cuda.is_available() and not a.use_cpu else "cpu",
        },
        **timer.summary(),
        "memory": mem.result(),
        "first_loss": round(losses[0], 4) if losses else None,
        "last_loss": round(losses[-1], 4) if losses else None,
    }


def main(argv: list[str] | None = None) -> None:
    spec_path, out_path = (argv if argv is not None else sys.argv[1:])[:2]
    spec = json.loads(Path(spec_path).read_text())
    result = run_arm(spec)
    tmp = Path(out_path + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
