"""Every shipped recipe parses and validates (torchtune style), the 7B ones without downloading."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tunebench.data.formats import FORMATTERS
from tunebench.train.sources import FOLDER_FORMATS

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
ACCELERATE = sorted((REPO / "recipes" / "accelerate").glob("*.yaml"))


def test_the_recipes_the_readme_promises_exist():
    names = {p.name for p in RECIPES}
    assert {
        "tiny-text-to-sql.yaml",
        "gemma-7b-dolly-chatml.yaml",
        "codellama-7b-text-to-sql.yaml",
        "mistral-7b-text-to-sql.yaml",
    } <= names


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_parses_into_trl_dataclasses(recipe, monkeypatch):
    """Every shipped recipe parses as it is, on a CPU too: the GPU settings (tf32, bf16, gradient
    checkpointing) are switched off before TRL's and transformers' own checks see them."""
    from tunebench.train.recipe import parse_recipe

    monkeypatch.setattr("torch.cuda.is_available", lambda: False, raising=False)
    parsed = parse_recipe(["--config", str(recipe)])
    tb, sft, model, resolved = parsed.args, parsed.config, parsed.model, parsed.resolved
    raw = yaml.safe_load(recipe.read_text())
    assert set(raw) <= set(resolved), "every key of the recipe belongs to a known dataclass"
    assert sft.use_cpu and not sft.tf32 and not sft.gradient_checkpointing and sft.bf16 == tb.cpu_bf16
    assert tb.dataset_format == "auto" or tb.dataset_format in (*FORMATTERS, *FOLDER_FORMATS)
    assert sft.output_dir.startswith("models/") and Path(sft.output_dir).name == recipe.stem
    assert sft.assistant_only_loss
    # GPU recipes pack (flash-attention's variable-length kernel makes a packed row cheap); the CPU
    # recipe does not (SDPA pays dense attention for a packed row: docs/bench.md).
    assert sft.packing == ("7b" in recipe.stem)
    if sft.packing:
        assert sft.packing_strategy == "bfd"
    assert getattr(sft, "train_sampling_strategy", "random") != "group_by_length"
    assert model.use_peft and model.lora_r > 0 and model.lora_target_modules in ("all-linear", ["all-linear"])
    assert sft.max_length and sft.max_length >= 512
    if "7b" in recipe.stem:
        assert model.load_in_4bit and model.bnb_4bit_quant_type == "nf4" and model.use_bnb_nested_quant
        assert raw["dtype"] == "bfloat16" and raw["bf16"] is True
        assert raw["attn_implementation"] == "auto"


def test_original_notebook_settings_are_kept_for_gemma():
    raw = yaml.safe_load((REPO / "recipes" / "gemma-7b-dolly-chatml.yaml").read_text())
    assert (raw["lora_r"], raw["lora_alpha"], raw["lora_dropout"]) == (6, 8, 0.05)
    assert (
        raw["per_device_train_batch_size"],
        raw["gradient_accumulation_steps"],
        raw["num_train_epochs"],
    ) == (2, 2, 3)
    assert (raw["learning_rate"], raw["max_grad_norm"], raw["max_length"]) == (2e-4, 0.3, 1512)


def test_command_line_overrides_win_and_are_recorded():
    from tunebench.train.recipe import parse_recipe

    recipe = parse_recipe(
        [
            "--config",
            str(REPO / "recipes" / "tiny-text-to-sql.yaml"),
            "--max_steps=7",
            "--lora_r",
            "4",
            "--resume=true",
        ]
    )
    assert recipe.config.max_steps == 7 and recipe.model.lora_r == 4 and recipe.args.resume
    resolved = recipe.resolved
    assert resolved["max_steps"] == 7 and resolved["lora_r"] == 4 and resolved["resume"] is True


def test_the_record_holds_every_key_so_no_reader_restates_a_default():
    """The run record keeps the whole parsed recipe (tunebench's keys, the TRL config's, ModelConfig's),
    JSON-ready, with no token in it; recipe.yaml keeps the keys the user set."""
    import json

    from tunebench.train.recipe import parse_recipe

    recipe = parse_recipe(
        ["--config", str(REPO / "recipes" / "tiny-text-to-sql.yaml"), "--hub_token=hf_secret"]
    )
    record = json.loads(json.dumps(recipe.record))
    assert record["eval_fraction"] == 0.0 and "eval_fraction" not in recipe.resolved  # the default, recorded
    assert record["lora_r"] == recipe.model.lora_r and record["max_length"] == recipe.config.max_length
    assert record["trainer"] == "sft" and "hf_secret" not in json.dumps(record)


@pytest.mark.parametrize("config", ACCELERATE, ids=[p.stem for p in ACCELERATE])
def test_accelerate_configs_load(config):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(config))
    assert cfg.num_processes >= 2 and cfg.mixed_precision == "bf16"
    if config.stem == "fsdp":
        assert (
            cfg.fsdp_config["fsdp_use_orig_params"] is False
            and cfg.fsdp_config["fsdp_cpu_ram_efficient_loading"]
        )
    if config.stem == "zero3":
        assert cfg.deepspeed_config["zero_stage"] == 3 and cfg.deepspeed_config["zero3_init_flag"]


def test_length_grouping_is_warned_about(caplog):
    """The sampler that made the embedded set unlearnable (docs/bench.md) is named when a user sets it."""
    import logging
    from types import SimpleNamespace

    from tunebench.train.assemble import warn_about_length_grouping

    with caplog.at_level(logging.WARNING, logger="tunebench.train"):
        assert warn_about_length_grouping(SimpleNamespace(train_sampling_strategy="group_by_length"))
        assert not warn_about_length_grouping(SimpleNamespace(train_sampling_strategy="random"))
    assert len(caplog.records) == 1 and "ignore the question" in caplog.records[0].getMessage()
