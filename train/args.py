"""Recipe arguments: TRL's `SFTConfig` and `ModelConfig`, plus the few things tunebench adds.

A recipe is one YAML file whose keys fill these three dataclasses (alignment-handbook style);
`--key=value` on the command line overrides a key.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields

import yaml


@dataclass
class TunebenchArguments:
    dataset_name: str = field(
        default="data/text2sql/train.jsonl",
        metadata={"help": "hub id, or local .json/.jsonl/.parquet/.csv file(s) / folder"},
    )
    dataset_config: str | None = field(default=None, metadata={"help": "hub dataset config name"})
    dataset_format: str = field(
        default="auto",
        metadata={
            "help": "auto | messages | dolly | alpaca | openorca | sql-create-context | text2sql | spider "
            "(a Spider-format folder; its split: train, dev or a .json file in it)"
        },
    )
    dataset_train_split: str = field(default="train")
    dataset_test_split: str | None = field(
        default=None, metadata={"help": "hub split (or local file) for eval"}
    )
    eval_fraction: float = field(
        default=0.0, metadata={"help": "hold out this share of train for eval (seeded)"}
    )
    max_train_samples: int | None = field(default=None)
    sample_seed: int = field(default=42, metadata={"help": "seed for sub-sampling and the eval split"})
    embedded: bool = field(default=False, metadata={"help": "build the embedded tiny model + dataset first"})
    embedded_seed: int = field(
        default=0,
        metadata={
            "help": "seed of the embedded dataset and tiny base (the embedded default is 0); the training "
            "seed never rebuilds them, so runs with other seeds share one base and one held-out split"
        },
    )
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint of this run"})
    merge: bool = field(default=True, metadata={"help": "merge the adapter into a full model after training"})
    merge_dtype: str = field(
        default="auto", metadata={"help": "auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float32"}
    )
    lora_trainable_tokens: bool = field(
        default=True,
        metadata={"help": "train only the rows of tokens added for ChatML (PEFT trainable_token_indices)"},
    )
    ensure_weight_tying: bool = field(default=True, metadata={"help": "keep tied embeddings tied under LoRA"})
    merge_base: str = field(
        default="dequantized",
        metadata={
            "help": "QLoRA runs: merge into the NF4 base dequantized with the training quantization config "
            "(the weights the adapter was trained against) | original (the base in full precision)"
        },
    )
    fidelity_samples: int = field(
        default=32,
        metadata={
            "help": "held-out prompts on which the merged model is compared with the adapter (0: skip)"
        },
    )
    fidelity_dataset: str | None = field(
        default=None,
        metadata={"help": "file of held-out rows for that comparison (default: the run's held-out split)"},
    )
    max_shard_size: str = field(default="2GB")
    hub_model_card_datasets: list[str] = field(default_factory=list)


def parse(argv: list[str] | None = None):
    """Parse `--config recipe.yaml [--key=value …]` into (tunebench, SFTConfig, ModelConfig, resolved)."""
    from trl import ModelConfig, SFTConfig, TrlParser

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = TrlParser((TunebenchArguments, SFTConfig, ModelConfig))
    tb, sft, model = parser.parse_args_and_config(argv)
    return tb, sft, model, resolved_recipe(argv, (tb, sft, model))


def _cli_keys(argv: list[str]) -> list[str]:
    keys = []
    for a in argv:
        if a.startswith("--") and a != "--config":
            keys.append(a[2:].split("=", 1)[0].replace("-", "_"))
    return keys


def resolved_recipe(argv: list[str], parsed) -> dict:
    """The recipe as it ran: the YAML's keys plus command-line overrides, with their final values."""
    keys: list[str] = []
    if "--config" in argv:
        with open(argv[argv.index("--config") + 1]) as f:
            keys.extend((yaml.safe_load(f) or {}).keys())
    keys.extend(k for k in _cli_keys(argv) if k not in keys)
    out = {}
    for obj in parsed:
        names = {f.name for f in fields(obj)}
        for k in keys:
            if k in names and k not in out:
                v = getattr(obj, k)
                out[k] = v.value if hasattr(v, "value") else v  # enums → their string
    return out
