"""ChatML for any base tokenizer: reuse reserved tokens, else add them; adapters stay small."""

from __future__ import annotations

import pytest

from tunebench.chat.template import CHATML_TEMPLATE, IM_END, IM_START, default_system_message, ensure_chatml

# SmolLM2-135M-Instruct's own template (from its GGUF file): ChatML with a default system message.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)


def _tokenizer(specials: list[str], **tokens):
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
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, **(tokens or {"eos_token": "<eos>", "pad_token": "<pad>"})
    )


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
    targs = SimpleNamespace(lora_trainable_tokens=True, ensure_weight_tying=True, lora_top_layers=None)
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


def _smollm2_like():
    """A tokenizer shaped like SmolLM2's: ChatML tokens present, pad = eos = <|im_end|>, unk <|endoftext|>."""
    tok = _tokenizer(
        ["<|endoftext|>", IM_START, IM_END], unk_token="<|endoftext|>", eos_token=IM_END, pad_token=IM_END
    )
    tok.chat_template = SMOLLM2_TEMPLATE
    return tok


def test_pad_reuses_an_existing_token_and_nothing_is_trained_for_it():
    """SmolLM2 pads with <|im_end|>: the pad becomes its unk token, the vocabulary keeps its size and no
    row is trainable (a new <|pad|> became a trainable token on the tied head and crashed training)."""
    tok = _smollm2_like()
    size = len(tok)
    model = _model(size, tied=True)
    tok, new_ids = ensure_chatml(tok, model)
    assert new_ids == [] and len(tok) == size and model.get_input_embeddings().weight.shape[0] == size
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == IM_END
    assert model.config.pad_token_id == tok.convert_tokens_to_ids("<|endoftext|>")


def test_a_pad_is_added_untrained_only_when_none_exists():
    tok = _tokenizer([IM_START, IM_END], eos_token=IM_END)
    size = len(tok)
    model = _model(size, tied=True)
    tok, new_ids = ensure_chatml(tok, model)
    assert tok.pad_token == "<|pad|>" and len(tok) == size + 1
    assert model.get_input_embeddings().weight.shape[0] == size + 1
    assert new_ids == [], "a pad is masked out and never a label: nothing to learn"


def test_a_chatml_base_keeps_its_default_system_message():
    """The fine-tune is prompted exactly as its base was (SmolLM2 adds its system message when there is
    none), and the assistant turns still carry the markers assistant-only loss needs."""
    tok = _smollm2_like()
    assert (
        default_system_message(tok) == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    )
    conversations = [
        [{"role": "user", "content": "hi"}],
        [{"role": "system", "content": "schema"}, {"role": "user", "content": "q"}],
        [{"role": "user", "content": 'a "quoted" \\ question'}, {"role": "assistant", "content": "x"}],
    ]
    before = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    tok, _ = ensure_chatml(tok)
    after = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    assert after == before
    masked = tok.apply_chat_template(
        conversations[2], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    answer = tok("x" + IM_END, add_special_tokens=False)["input_ids"]
    kept = [i for i, m in zip(masked["input_ids"], masked["assistant_masks"], strict=True) if m]
    assert kept == answer, "the answer and its end of turn are trained, nothing else"


def test_templates_without_a_default_system_message_are_plain_chatml(embedded):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded.base_dir)
    assert default_system_message(tok) is None
    assert ensure_chatml(tok)[0].chat_template == CHATML_TEMPLATE
