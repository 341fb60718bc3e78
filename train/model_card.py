"""A Hugging Face model card (README.md with YAML metadata) for the merged model."""

from __future__ import annotations

import json

import yaml


def render_model_card(manifest: dict) -> str:
    recipe = manifest.get("recipe", {})
    train = manifest.get("training", {})
    meta = {
        "library_name": "transformers",
        "base_model": recipe.get("model_name_or_path"),
        "tags": ["tunebench", "trl", "sft"]
        + (["lora"] if recipe.get("use_peft") else [])
        + (["qlora"] if recipe.get("load_in_4bit") else []),
        "pipeline_tag": "text-generation",
    }
    if manifest.get("datasets"):
        meta["datasets"] = manifest["datasets"]
    env = manifest.get("environment", {})
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False).strip(),
        "---",
        "",
        f"# {manifest.get('run_name', 'tunebench model')}",
        "",
        f"Fine-tuned from `{recipe.get('model_name_or_path')}` on `{recipe.get('dataset_name')}` with TRL's "
        f"`SFTTrainer` ({manifest.get('method', 'sft')}), then merged into a full model by tunebench.",
        "",
        "The tokenizer carries the ChatML chat template the model was trained with; serve it with that "
        "template (TGI, vLLM and `transformers serve` read it from `tokenizer_config.json`/`chat_template.jinja`).",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| steps | {train.get('global_step')} |",
        f"| trained tokens | {train.get('train_tokens')} |",
        f"| tokens/s | {train.get('tokens_per_second')} |",
        f"| wall time (s) | {train.get('wall_time_s')} |",
        f"| first / last training loss | {train.get('first_loss')} / {train.get('last_loss')} |",
        f"| attention | {manifest.get('model', {}).get('attn_implementation')} |",
        f"| peak memory | {json.dumps(train.get('peak_memory', {}))} |",
        "",
        "## Recipe",
        "",
        "```yaml",
        yaml.safe_dump(recipe, sort_keys=False).strip(),
        "```",
        "",
        "## Versions",
        "",
        "```json",
        json.dumps(env.get("packages", {}), indent=1),
        "```",
        f"\ngit commit: `{env.get('git_commit')}`",
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "tok = AutoTokenizer.from_pretrained(PATH)",
        "model = AutoModelForCausalLM.from_pretrained(PATH)",
        "ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors='pt')",
        "```",
        "",
    ]
    return "\n".join(lines)
