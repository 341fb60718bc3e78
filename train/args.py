"""The recipe keys tunebench adds to TRL's config (SFTConfig, DPOConfig, …) and TRL's `ModelConfig`.

A recipe is one YAML file whose keys fill these three dataclasses (alignment-handbook style);
`--key=value` on the command line overrides a key. train/recipe.py parses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    trainer: str = field(
        default="sft",
        metadata={"help": "sft | dpo | orpo | kto: which TRL trainer (and config) the recipe fills"},
    )
    preference_bad_rows: str = field(
        default="error",
        metadata={"help": "error: stop at the first malformed preference row | drop: count and skip it"},
    )
    shp_min_score_ratio: float = field(
        default=2.0,
        metadata={"help": "SHP pairs below this score ratio are left out (the dataset card's advice)"},
    )
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint of this run"})
    overwrite: bool = field(
        default=False,
        metadata={
            "help": "replace an existing run in output_dir (without it, or --resume, a used folder is refused)"
        },
    )
    cpu_bf16: bool = field(
        default=False,
        metadata={
            "help": "keep bf16 when training on a CPU (CPUs with AMX/AVX512-BF16); off by default: without CUDA "
            "tunebench switches bf16, tf32 and gradient checkpointing off"
        },
    )
    merge: bool = field(default=True, metadata={"help": "merge the adapter into a full model after training"})
    merge_dtype: str = field(
        default="auto", metadata={"help": "auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float32"}
    )
    lora_trainable_tokens: bool = field(
        default=True,
        metadata={"help": "train only the rows of tokens added for ChatML (PEFT trainable_token_indices)"},
    )
    lora_top_layers: int | None = field(
        default=None,
        metadata={
            "help": "LoRA on the top N decoder layers only (PEFT layers_to_transform): the backward pass stops "
            "below them, so a step costs the forward of every layer and the backward of N (default: all)"
        },
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
