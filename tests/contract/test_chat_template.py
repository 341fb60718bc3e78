"""ChatML for any base tokenizer: reuse reserved tokens, else add them; adapters stay small."""

from __future__ import annotations

import pytest

from tunebench.chat.template import CHATML_TEMPLATE, IM_END, IM_START, ensure_chatml


def _tokenizer(specials: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(["select name from users where id = 1"] * 20, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", pad_token="<pad>")


def _model(vocab: int, tied: bool):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=tied,
    )
    return LlamaForCausalLM(cfg)


def test_reserved_tokens_are_reused_without_resizing():
    tok = _tokenizer(["<eos>", "<pad>", "<unused0>", "<unused1>", "<unused2>"])
    reserved = [tok.convert_tokens_to_ids("<unused0>"), tok.convert_tokens_to_ids("<unused1>")]
    size = len(tok)
    model = _model(size, tied=True)
    tok, new_ids = ensure_chatml(tok, model)
    assert len(tok) == size and model.get_input_embeddings().weight.shape[0] == size
    assert [tok.convert_tokens_to_ids(IM_START), tok.convert_tokens_to_ids(IM_END)] == reserved == new_ids
    assert tok.chat_template == CHATML_TEMPLATE and tok.eos_token == IM_END
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == reserved[0] and reserved[1] in ids  # each marker is one token, at the reused id
    assert model.config.eos_token_id == reserved[1]


def test_tokens_are_added_and_embeddings_resized_when_nothing_is_reserved():
    tok = _tokenizer(["<eos>", "<pad>"])
    size = len(tok)
    model = _model(size, tied=False)
    tok, new_ids = ensure_chatml(tok, model)
    assert len(tok) == size + 2 and sorted(new_ids) == [size, size + 1]
    assert model.get_input_embeddings().weight.shape[0] == size + 2


def test_existing_chatml_tokens_need_nothing(embedded):
    from transformers import AutoTokenizer

    tok, new_ids = ensure_chatml(AutoTokenizer.from_pretrained(embedded.base_dir))
    assert new_ids == []


@pytest.mark.parametrize("tied", [True, False])
def test_adapter_trains_only_the_new_rows_not_the_whole_matrix(tied, tmp_path):
    """The original notebooks resized CodeLlama's embeddings and saved them whole (a 1.8 GB adapter)."""
    from types import SimpleNamespace

    from peft import get_peft_model
    from safetensors import safe_open

    from tunebench.train.model_setup import lora_config

    tok = _tokenizer(["<eos>", "<pad>"])
    model = _model(len(tok), tied=tied)
    tok, new_ids = ensure_chatml(tok, model)
    margs = SimpleNamespace(
        use_peft=True,
        lora_modules_to_save=None,
        lora_target_modules="all-linear",
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        use_rslora=False,
        use_dora=False,
    )
    targs = SimpleNamespace(lora_trainable_tokens=True, ensure_weight_tying=True)
    cfg = lora_config(margs, targs, model, new_ids)
    peft_model = get_peft_model(model, cfg)
    peft_model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "adapter_model.safetensors"), "pt") as f:
        shapes = {k: tuple(f.get_tensor(k).shape) for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict
    vocab = len(tok)
    assert not any(vocab in s for s in shapes.values()), "a full embedding matrix was saved"
    token_rows = [s for k, s in shapes.items() if "trainable_tokens" in k]
    assert token_rows and all(s[0] == len(new_ids) for s in token_rows)
    if not tied:
        assert any("lm_head" in k for k in shapes)
