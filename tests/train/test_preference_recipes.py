"""Every preference recipe parses into TRL's config for its trainer (without downloading anything), and the
Zephyr one keeps alignment-handbook's QLoRA DPO settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tunebench.train.preference_formats import PREFERENCE_FORMATS

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes" / "preference").glob("*.yaml"))


def _parse(recipe, *extra):
    from tunebench.train.recipe import parse_recipe

    parsed = parse_recipe(["--config", str(recipe), *extra])
    return parsed.trainer, parsed.args, parsed.config, parsed.model, parsed.resolved


def test_the_promised_preference_recipes_exist():
    assert {p.name for p in RECIPES} >= {
        "zephyr-7b-dpo-ultrafeedback.yaml",
        "codellama-7b-text-to-sql-dpo.yaml",
        "tiny-text-to-sql-dpo.yaml",
        "smollm2-135m-text-to-sql-dpo.yaml",
    }


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_parses_into_its_trainers_config(recipe, monkeypatch):
    from trl import DPOConfig

    monkeypatch.setattr("torch.cuda.is_available", lambda: False, raising=False)
    kind, tb, cfg, model, resolved = _parse(recipe)
    raw = yaml.safe_load(recipe.read_text())
    assert set(raw) <= set(resolved), "every key of the recipe belongs to a known dataclass"
    assert kind == raw["trainer"] == "dpo" and isinstance(cfg, DPOConfig) and tb.trainer == "dpo"
    assert tb.dataset_format in PREFERENCE_FORMATS
    assert cfg.output_dir.startswith("models/") and Path(cfg.output_dir).name == recipe.stem
    assert model.use_peft and model.lora_target_modules in ("all-linear", ["all-linear"])
    if "7b" in recipe.stem:
        assert model.load_in_4bit and model.bnb_4bit_quant_type == "nf4" and raw["bf16"] is True
        assert raw["dtype"] == "bfloat16" and raw["attn_implementation"] == "auto"
    else:  # the CPU recipes start from their SFT run's merged model (the tiny one, or `make demo`'s)
        sft = "smollm2-135m-text-to-sql" if recipe.stem.startswith("smollm2") else "tiny-text-to-sql"
        assert model.model_name_or_path == f"models/{sft}/merged" and raw["use_cpu"] is True


def test_zephyr_recipe_keeps_the_handbook_qlora_dpo_settings():
    """alignment-handbook's recipes/zephyr-7b-beta/dpo/config_qlora.yaml as it is since February 2024
    (issue 25, item 17: the recipe had the r=16, alpha=16 it replaced)."""
    raw = yaml.safe_load((REPO / "recipes" / "preference" / "zephyr-7b-dpo-ultrafeedback.yaml").read_text())
    assert (raw["lora_r"], raw["lora_alpha"], raw["lora_dropout"]) == (128, 128, 0.05)
    assert (raw["beta"], raw["learning_rate"], raw["optim"]) == (0.01, 5e-6, "paged_adamw_32bit")
    assert (raw["num_train_epochs"], raw["lr_scheduler_type"], raw["max_length"]) == (1, "cosine", 1024)
    assert (raw["per_device_train_batch_size"], raw["gradient_accumulation_steps"]) == (4, 4)
    assert (raw["warmup_steps"], raw["eval_steps"], raw["save_total_limit"], raw["seed"]) == (0.1, 100, 1, 42)
    assert (raw["load_in_4bit"], raw["use_peft"], raw["lora_target_modules"]) == (True, True, "all-linear")
    assert (raw["dataset_train_split"], raw["dataset_test_split"]) == ("train_prefs", "test_prefs")
    text = (REPO / "recipes" / "preference" / "zephyr-7b-dpo-ultrafeedback.yaml").read_text()
    assert "alignment-handbook/zephyr-7b-sft-qlora" in text  # where the handbook starts, and why not here


@pytest.mark.parametrize(
    "recipe", sorted((REPO / "recipes" / "preference").glob("*.yaml")), ids=lambda p: p.name
)
def test_comments_promise_no_evaluation_the_recipe_turns_off(recipe):
    """Issue 25, item 17: the tiny DPO recipe said its held-out margin was measured with eval_strategy "no"."""
    raw = yaml.safe_load(recipe.read_text())
    if raw.get("eval_strategy") == "no":
        claims = [
            line
            for line in recipe.read_text().splitlines()
            if "#" in line and ("is measured" in line or "are measured" in line or "is logged" in line)
        ]
        assert claims == []


@pytest.mark.parametrize(
    ("kind", "config"), [("orpo", "ORPOConfig"), ("kto", "KTOConfig"), ("sft", "SFTConfig")]
)
def test_the_trainer_key_selects_the_trl_config_and_a_bad_one_is_named(kind, config):
    recipe = REPO / "recipes" / "preference" / "tiny-text-to-sql-dpo.yaml"
    from tunebench.train.recipe import config_class

    assert config_class(kind).__name__ == config
    assert _parse(recipe)[0] == "dpo"
    # The DPO recipe's own keys are not every trainer's: a key the chosen trainer lacks is named, not ignored.
    foreign = {"sft": "beta", "orpo": "loss_type"}.get(kind)
    if foreign:
        with pytest.raises(ValueError, match=f"unknown key '{foreign}'"):
            _parse(recipe, f"--trainer={kind}")
    with pytest.raises(ValueError, match="trainer: 'ppo' is not one of"):
        _parse(recipe, "--trainer", "ppo")


def test_kto_recipe_override_parses_with_its_own_options(tmp_path):
    recipe = tmp_path / "kto.yaml"
    raw = yaml.safe_load((REPO / "recipes" / "preference" / "tiny-text-to-sql-dpo.yaml").read_text())
    raw.pop("loss_type")
    raw.update(trainer="kto", desirable_weight=1.5, output_dir="models/kto")
    recipe.write_text(yaml.safe_dump(raw))
    kind, tb, cfg, _, resolved = _parse(recipe)
    assert kind == "kto" and type(cfg).__name__ == "KTOConfig" and cfg.desirable_weight == 1.5
    assert resolved["trainer"] == "kto" and resolved["desirable_weight"] == 1.5
    raw["beta_typo"] = 1
    recipe.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="beta_typo"):
        _parse(recipe)
