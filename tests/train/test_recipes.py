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
    from tunebench.train.args import parse

    monkeypatch.setattr("torch.cuda.is_available", lambda: False, raising=False)
    cpu = ["--use_cpu=true", "--bf16=false", "--tf32=false", "--optim=adamw_torch"]
    tb, sft, model, resolved = parse(["--config", str(recipe), *cpu])
    raw = yaml.safe_load(recipe.read_text())
    assert set(raw) <= set(resolved), "every key of the recipe belongs to a known dataclass"
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
    from tunebench.train.args import parse

    recipe = REPO / "recipes" / "tiny-text-to-sql.yaml"
    tb, sft, model, resolved = parse(
        ["--config", str(recipe), "--max_steps=7", "--lora_r", "4", "--resume=true"]
    )
    assert sft.max_steps == 7 and model.lora_r == 4 and tb.resume
    assert resolved["max_steps"] == 7 and resolved["lora_r"] == 4 and resolved["resume"] is True


def test_unknown_recipe_key_is_an_error(tmp_path):
    from tunebench.train.args import parse

    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "recipes" / "tiny-text-to-sql.yaml").read_text() + "\nlearning_rat: 0.1\n")
    with pytest.raises(ValueError, match="learning_rat"):
        parse(["--config", str(bad)])


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

    from tunebench.train.run import warn_about_length_grouping

    with caplog.at_level(logging.WARNING, logger="tunebench.train"):
        assert warn_about_length_grouping(SimpleNamespace(train_sampling_strategy="group_by_length"))
        assert not warn_about_length_grouping(SimpleNamespace(train_sampling_strategy="random"))
    assert len(caplog.records) == 1 and "ignore the question" in caplog.records[0].getMessage()
