"""The ChatML chat template every tunebench model is trained and served with.

The `{% generation %}` markers let TRL's `assistant_only_loss` find the assistant tokens; the
closing `<|im_end|>` is inside them so the model learns to stop. The same template is saved into
the merged model's tokenizer, so a server (TGI, vLLM, `transformers serve`) prompts the model
exactly as it was trained.
"""

from __future__ import annotations

import json

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def chatml_template(default_system: str | None = None) -> str:
    """CHATML_TEMPLATE, or the same with the system message a ChatML base writes into a conversation
    that has none (SmolLM2: "You are a helpful AI assistant named SmolLM, ..."): a fine-tune of such a
    base is then prompted exactly as its base was, with or without a system message of its own."""
    if not default_system:
        return CHATML_TEMPLATE
    system = json.dumps(IM_START + "system\n" + default_system + IM_END + "\n")  # a Jinja string literal
    return (
        f"{{%- if messages and messages[0]['role'] != 'system' %}}{{{{- {system} }}}}{{%- endif %}}"
        + CHATML_TEMPLATE
    )


def default_system_message(tokenizer) -> str | None:
    """The system message the tokenizer's own ChatML template adds to a conversation without one, or None
    (no template, not ChatML, or no default). Found by rendering a one-turn conversation."""
    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str) or IM_START not in template:
        return None
    probe = "\x00probe"
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": probe}], tokenize=False)
    except Exception:  # noqa: BLE001 - a template that needs other variables has no usable default
        return None
    head, tail = f"{IM_START}system\n", f"{IM_END}\n{IM_START}user\n{probe}{IM_END}\n"
    if isinstance(text, str) and text.startswith(head) and text.endswith(tail):
        return text[len(head) : -len(tail)] or None
    return None


# Reserved tokens that base tokenizers ship unused; ChatML can take their place without growing
# the embedding matrix (the original notebooks' Gemma ChatML tokenizer did this by hand).
_RESERVED_PATTERNS = ("<unused{}>", "<|reserved_special_token_{}|>", "<extra_id_{}>")


def find_reserved_tokens(tokenizer, count: int = 2) -> list[str] | None:
    vocab = tokenizer.get_vocab()
    for pattern in _RESERVED_PATTERNS:
        names = [pattern.format(i) for i in range(count)]
        if all(n in vocab for n in names):
            return names
    return None


def _rename_tokens(tokenizer, renames: dict[str, str]):
    """Rename tokens in a fast tokenizer's vocabulary, keeping their ids."""
    import json

    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    state = json.loads(tokenizer.backend_tokenizer.to_str())
    for tok in state.get("added_tokens", []):
        if tok["content"] in renames:
            tok["content"] = renames[tok["content"]]
            tok["special"] = True
    vocab = state["model"].get("vocab")
    if isinstance(vocab, dict):
        for old, new in renames.items():
            if old in vocab:
                vocab[new] = vocab.pop(old)
    new_backend = Tokenizer.from_str(json.dumps(state))
    special = dict(tokenizer.special_tokens_map)
    return PreTrainedTokenizerFast(
        tokenizer_object=new_backend, **{k: v for k, v in special.items() if isinstance(v, str)}
    )


def ensure_chatml(tokenizer, model=None, *, allow_resize: bool = True, mean_resizing: bool = True):
    """Give `tokenizer` the ChatML tokens and template; returns (tokenizer, new_token_ids).

    Order of preference: the tokens already exist → nothing to do; the tokenizer has reserved
    tokens → rename two of them (no embedding resize); else add the tokens and resize `model`'s
    embeddings. `new_token_ids` lists ids whose embeddings are untrained and must be learned
    (train them with PEFT's `trainable_token_indices` rather than saving the whole matrix).
    """
    default_system = default_system_message(tokenizer)
    vocab = tokenizer.get_vocab()
    new_ids: list[int] = []
    if IM_START not in vocab or IM_END not in vocab:
        reserved = find_reserved_tokens(tokenizer)
        if reserved is not None:
            tokenizer = _rename_tokens(tokenizer, {reserved[0]: IM_START, reserved[1]: IM_END})
            new_ids = [tokenizer.convert_tokens_to_ids(IM_START), tokenizer.convert_tokens_to_ids(IM_END)]
        elif allow_resize:
            tokenizer.add_special_tokens({"additional_special_tokens": [IM_START, IM_END]})
            new_ids = [tokenizer.convert_tokens_to_ids(IM_START), tokenizer.convert_tokens_to_ids(IM_END)]
            if model is not None:
                model.resize_token_embeddings(len(tokenizer), mean_resizing=mean_resizing)
        else:
            raise ValueError("tokenizer has no ChatML tokens and resizing is disabled")
    tokenizer.chat_template = chatml_template(default_system)
    tokenizer.eos_token = IM_END
    if tokenizer.pad_token is None or tokenizer.pad_token == tokenizer.eos_token:
        # A pad distinct from <|im_end|>: padding must never be mistaken for (or masked as) the stop token.
        # An existing token serves (SmolLM2's unk, <|endoftext|>): a pad is masked out of attention and never
        # a label, so its embedding is never read or trained, and the vocabulary keeps its size (a GGUF
        # export and the base's llama.cpp files agree on it). Only a tokenizer with none gets a new one,
        # and it is not in `new_ids`: there is nothing to learn for it.
        for candidate in ("<|pad|>", "<pad>", "<unk>", tokenizer.unk_token):
            if candidate and candidate != IM_END and candidate in tokenizer.get_vocab():
                tokenizer.pad_token = candidate
                break
        else:
            tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
            if model is not None:
                model.resize_token_embeddings(len(tokenizer), mean_resizing=mean_resizing)
    if model is not None:
        model.config.eos_token_id = tokenizer.eos_token_id
        model.config.pad_token_id = tokenizer.pad_token_id
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.eos_token_id = tokenizer.eos_token_id
            model.generation_config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, new_ids
