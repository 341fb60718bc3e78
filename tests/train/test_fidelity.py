"""The merge-fidelity measure itself, on the tiny base: it sees no difference where there is none and
reports one where there is (no training needed)."""

from __future__ import annotations

import pytest

from tunebench.runs.record import RunManifest
from tunebench.train.fidelity import AGREEMENT_WARNING, compare, prompt_conversations
from tunebench.train.merging import merge_base_for, training_quantization_config
from tunebench.train.sources import load_messages


@pytest.fixture(scope="module")
def tiny(embedded):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded.base_dir)
    model = AutoModelForCausalLM.from_pretrained(embedded.base_dir).eval()
    rows = load_messages(str(embedded.data_dir / "test.jsonl"))
    return model, tok, prompt_conversations(rows, 8)


def test_prompts_stop_before_the_answer(tiny):
    _, _, conversations = tiny
    assert len(conversations) == 8
    assert all(c[-1]["role"] == "user" and c[0]["role"] == "system" for c in conversations)


def test_a_model_against_itself_agrees_everywhere(tiny):
    model, tok, conversations = tiny
    result = compare(model, model, tok, conversations, max_new_tokens=16, batch_size=3)
    assert (result.identical_answers, result.prompts) == (8, 8) and result.identical_rate == 1.0
    assert result.next_token_agreement == 1.0 and result.max_logit_diff == 0.0 and result.warning is None


def test_a_perturbed_copy_is_caught_and_warned_about(tiny):
    import copy

    import torch

    model, tok, conversations = tiny
    other = copy.deepcopy(model)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn_like(p) * p.std())  # noise as large as the weights
    result = compare(model, other, tok, conversations, max_new_tokens=16, batch_size=3)
    assert result.identical_rate < AGREEMENT_WARNING and result.max_logit_diff > 0.1
    assert result.next_token_agreement < 1.0
    assert result.warning and f"only {result.identical_answers} of 8" in result.warning


def test_merge_base_follows_the_method_and_the_recipe():
    lora = RunManifest(run_name="r", method="lora", recipe={"merge_base": "original"})
    assert merge_base_for(lora) == "full-precision"
    qlora = RunManifest(run_name="r", method="qlora", recipe={})
    assert merge_base_for(qlora) == "dequantized" and merge_base_for(qlora, "original") == "original"
    with pytest.raises(ValueError, match="merge_base: 'nf4' is not one of dequantized, original"):
        merge_base_for(RunManifest(run_name="r", method="qlora", recipe={"merge_base": "nf4"}))


def test_the_training_quantization_config_is_rebuilt_from_the_recipe():
    import torch

    recipe = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "use_bnb_nested_quant": True, "lora_r": 8}
    cfg = training_quantization_config(
        RunManifest(run_name="r", method="qlora", recipe=recipe), torch.bfloat16
    )
    assert cfg.load_in_4bit and cfg.bnb_4bit_quant_type == "nf4" and cfg.bnb_4bit_use_double_quant
    assert cfg.bnb_4bit_compute_dtype == torch.bfloat16
