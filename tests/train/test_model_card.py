"""The model card is a real hub card: `huggingface_hub` parses its metadata back."""

from __future__ import annotations

from huggingface_hub import ModelCard

from tunebench.runs.record import ModelInfo, RunManifest, TrainingStats
from tunebench.train.model_card import render_model_card


def _manifest(**extra) -> RunManifest:
    return RunManifest(
        run_name="sql-run",
        method="qlora",
        recipe={
            "model_name_or_path": "codellama/CodeLlama-7b-hf",
            "dataset_name": "b-mc2/sql-create-context",
            "use_peft": True,
            "load_in_4bit": True,
        },
        seed=42,
        datasets=["b-mc2/sql-create-context"],
        model=ModelInfo(attn_implementation="sdpa"),
        training=TrainingStats(
            global_step=198, first_loss=1.5, last_loss=0.4, peak_memory={"peak_rss_mib": 10}
        ),
        environment={"packages": {"trl": "1.16.0"}, "git_commit": "abc123"},
        extra=extra,
    )


def test_card_metadata_parses_back_with_huggingface_hub(tmp_path):
    text = render_model_card(_manifest())
    (tmp_path / "README.md").write_text(text)
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.base_model == "codellama/CodeLlama-7b-hf"
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "text-generation"
    assert card.data.datasets == ["b-mc2/sql-create-context"]
    assert set(card.data.tags) == {"tunebench", "trl", "sft", "lora", "qlora"}
    assert "| steps | 198 |" in card.text and "model_name_or_path: codellama/CodeLlama-7b-hf" in card.text
    assert "git commit: `abc123`" in card.text


def test_adapter_card_names_peft_and_omits_the_merge():
    card = ModelCard(render_model_card(_manifest(merge={"merge_base": "dequantized"}), merged=False))
    assert card.data.library_name == "peft" and "## Merge" not in card.text
