"""The model card (README.md with YAML metadata) of a run's adapter and merged model.

Built with `huggingface_hub.ModelCard` / `ModelCardData`, so the metadata block is what the hub
parses (base_model, library_name, datasets, tags, pipeline_tag) and the body is a Jinja template.
"""

from __future__ import annotations

import json

import yaml

from tunebench.runs.record import RunManifest

TEMPLATE = """---
{{ card_data }}
---

# {{ run_name }}

Fine-tuned from `{{ base_model }}` on `{{ dataset }}` with TRL's `{{ trainer_class }}` ({{ method }}{% if preference %}; beta {{ preference.beta }}, reference: {{ preference.reference_model or 'none' }}, {{ preference.data.pairs }} pairs, {{ preference.data.ties }} ties dropped{% endif %}){% if merged %}, then merged into a full model by tunebench{% endif %}.

The tokenizer carries the ChatML chat template the model was trained with; serve it with that template (TGI, vLLM and `transformers serve` read it from `tokenizer_config.json`/`chat_template.jinja`).

## Training

| | |
|---|---|
| steps | {{ training.global_step }} |
| trained tokens | {{ training.train_tokens }} |
| tokens/s | {{ training.tokens_per_second }} |
| wall time (s) | {{ training.wall_time_s }} |
| first / last training loss | {{ training.first_loss }} / {{ training.last_loss }} |
| attention | {{ attn_implementation }} |
| peak memory | {{ peak_memory }} |
{% if merge %}
## Merge

{{ merge_text }}

| | |
|---|---|
| merge base | {{ merge.merge_base }} |
| merge dtype | {{ merge.dtype }} |
{% if fidelity %}| held-out prompts compared | {{ fidelity.prompts }} |
| identical greedy answers | {{ fidelity.identical_answers }} / {{ fidelity.prompts }} ({{ "%.1f" | format(100 * fidelity.identical_rate) }}%) |
| greedy next-token agreement | {{ "%.2f" | format(100 * fidelity.next_token_agreement) }}% |
| largest logit difference | {{ "%.4g" | format(fidelity.max_logit_diff) }} |
{% endif %}{% if warning %}
> **Warning:** {{ warning }}
{% endif %}{% endif %}
## Recipe

```yaml
{{ recipe_yaml }}
```

## Versions

```json
{{ packages_json }}
```

git commit: `{{ git_commit }}`

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(PATH)
model = AutoModelForCausalLM.from_pretrained(PATH)
ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors='pt')
```
"""

MERGE_TEXT = {
    "dequantized": "The adapter was trained on the 4-bit (NF4) base. It was merged into that base dequantized "
    "with the training quantization config, the weights the adapter learned to correct, and saved in "
    "the merge dtype.",
    "original": "The adapter was merged into the base reloaded in full precision (not the 4-bit weights it "
    "was trained against); answers can differ from the model as trained (see the fidelity figures).",
    "full-precision": "The adapter was trained on the full-precision base and merged into it.",
}


TRAINER_CLASSES = {"sft": "SFTTrainer", "dpo": "DPOTrainer", "orpo": "ORPOTrainer", "kto": "KTOTrainer"}


def render_model_card(manifest: RunManifest, *, merged: bool = True) -> str:
    """The card text for `manifest`'s run; `merged` says whether it describes the merged model."""
    from huggingface_hub import ModelCard, ModelCardData

    recipe = manifest.recipe
    preference = manifest.extra.get("preference") or {}  # DPO/ORPO/KTO runs (train/preference.py)
    card_data = ModelCardData(
        base_model=manifest.base_model,
        library_name="transformers" if merged else "peft",
        datasets=list(manifest.datasets) or None,
        tags=["tunebench", "trl", preference.get("trainer", "sft")]
        + (["lora"] if recipe.get("use_peft") else [])
        + (["qlora"] if recipe.get("load_in_4bit") else []),
        pipeline_tag="text-generation",
    )
    merge = manifest.extra.get("merge") or {}
    fidelity = merge.get("fidelity")
    card = ModelCard.from_template(
        card_data,
        template_str=TEMPLATE,
        run_name=manifest.run_name,
        base_model=manifest.base_model,
        dataset=manifest.dataset_name,
        method=manifest.method,
        trainer_class=TRAINER_CLASSES.get(preference.get("trainer", "sft"), "SFTTrainer"),
        preference=preference,
        merged=merged,
        training=manifest.training,
        attn_implementation=manifest.model.attn_implementation,
        peak_memory=json.dumps(manifest.training.peak_memory),
        merge=merge if merged else None,
        merge_text=MERGE_TEXT.get(merge.get("merge_base"), ""),
        fidelity=fidelity,
        warning=(fidelity or {}).get("warning"),
        recipe_yaml=yaml.safe_dump(recipe, sort_keys=False).strip(),
        packages_json=json.dumps(manifest.environment.get("packages", {}), indent=1),
        git_commit=manifest.environment.get("git_commit"),
    )
    return str(card)
