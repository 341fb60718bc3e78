"""A model in this process (`tunebench.chat.LocalChatModel`): batched, left-padded, the model's own
chat template, the dtype rule and the stop tokens written once. torch and transformers are imported
only when a model is opened: the serve image has neither."""

from __future__ import annotations

import threading
from pathlib import Path

from tunebench.chat.base import ChatError, ChatModel, GenerationSettings, ModelSpec
from tunebench.chat.template import CHATML_TEMPLATE

# End-of-turn tokens of the chat formats in use; a template that writes one ends a turn with it, which
# may differ from the tokenizer's eos (Gemma's <end_of_turn>, Phi-3's <|end|>, Llama-3's <|eot_id|>).
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|end|>", "<|eot_id|>", "<|endoftext|>")


def resolve_dtype(name: str, device: str):
    """The dtype rule, once: "auto" is bf16 on CUDA and fp32 on CPU (bf16 matmuls are slow there)."""
    import torch

    table = {
        "auto": torch.bfloat16 if device.startswith("cuda") else torch.float32,
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if name not in table:
        raise ChatError(f"unknown dtype {name!r}: choose auto, float32, bfloat16 or float16")
    return table[name]


def end_of_turn_ids(tokenizer, generation_config=None) -> list[int]:
    """Every token id that ends an answer: the generation config's eos ids, the tokenizer's eos, and
    the end-of-turn token the chat template writes (when it is not eos, generation must still stop)."""
    ids: list[int] = []

    def add(value):
        for v in value if isinstance(value, list | tuple) else [value]:
            if isinstance(v, int) and v >= 0 and v not in ids:
                ids.append(v)

    if generation_config is not None:
        add(getattr(generation_config, "eos_token_id", None))
    add(tokenizer.eos_token_id)
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    vocab = tokenizer.get_vocab()
    for token in END_OF_TURN_TOKENS:
        if token in template and token in vocab:
            add(vocab[token])
    return ids


class LocalChatModel(ChatModel):
    """A folder or hub id loaded in this process: many conversations per forward pass, left-padded."""

    def __init__(
        self,
        spec: ModelSpec,
        settings: GenerationSettings = GenerationSettings(),
        *,
        batch_size: int = 16,
        dtype: str = "auto",
        device: str | None = None,
        chatml_fallback: bool = False,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec, self.settings, self.batch_size = spec, settings, batch_size
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = resolve_dtype(dtype, device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(spec.ref)
            if (Path(spec.ref) / "adapter_config.json").exists():
                from peft import AutoPeftModelForCausalLM

                model = AutoPeftModelForCausalLM.from_pretrained(spec.ref, dtype=torch_dtype)
            else:
                model = AutoModelForCausalLM.from_pretrained(spec.ref, dtype=torch_dtype)
        except (OSError, ValueError) as err:  # transformers raises either for a folder without a model
            raise ChatError(f"cannot load {spec.ref}: {str(err).splitlines()[0]}") from err
        self.model = model.to(device).eval()
        tokenizer.padding_side = "left"  # decoder-only batched generation pads on the left
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.chat_template = "the model's own"
        if not tokenizer.chat_template:
            if not chatml_fallback:
                raise ChatError(f"{spec.ref} has no chat template (tokenizer_config.json)")
            # A pre-trained base without a template (CodeLlama-7b-hf): prompt it in the ChatML format its
            # fine-tune is trained with, the fair "before" measurement. describe() says so.
            tokenizer.chat_template = CHATML_TEMPLATE
            self.chat_template = "tunebench ChatML (the model has no chat template of its own)"
        self.tokenizer = tokenizer
        self.stop_ids = end_of_turn_ids(tokenizer, getattr(self.model, "generation_config", None))
        self._lock = threading.Lock()  # one generate() at a time on a shared model

    @property
    def device(self):
        return self.model.device

    def render(self, messages: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _gen_kwargs(self, s: GenerationSettings) -> dict:
        kw = {
            "max_new_tokens": s.max_new_tokens,
            "eos_token_id": list(dict.fromkeys([*self.stop_ids, *s.stop_ids])),
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if s.temperature > 0:
            kw.update(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw

    def generate(self, conversations, settings=None, *, progress=False, on_done=None):
        import torch
        from tqdm.auto import tqdm

        s = settings or self.settings
        prompts = [self.render(m) for m in conversations]
        # Sort by length so each batch pads little; answers go back in the caller's order.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out: list[str] = [""] * len(prompts)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for batch in tqdm(batches, desc="generating", disable=not progress, unit="batch"):
            enc = self.tokenizer(
                [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            with self._lock, torch.inference_mode():
                torch.manual_seed(s.seed)
                ids = self.model.generate(**enc, **self._gen_kwargs(s))
            new = ids[:, enc["input_ids"].shape[1] :]
            for i, row in zip(batch, new, strict=True):
                out[i] = self.tokenizer.decode(row, skip_special_tokens=True).strip()
            if on_done is not None:
                on_done(len(batch))
        return out

    def stream(self, messages, settings=None):
        import torch
        from transformers import TextIteratorStreamer

        s = settings or self.settings
        enc = self.tokenizer([self.render(messages)], return_tensors="pt", add_special_tokens=False).to(
            self.device
        )
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**enc, **self._gen_kwargs(s), streamer=streamer)
        failure: list[BaseException] = []

        def run():
            try:
                with self._lock, torch.inference_mode():
                    torch.manual_seed(s.seed)
                    self.model.generate(**kwargs)
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(err)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if failure:
            raise ChatError(f"generation failed: {failure[0]}") from failure[0]

    def probe(self) -> str:
        return self.spec.ref

    def describe(self) -> dict:
        return {
            "backend": "in-process",
            "model": self.spec.ref,
            "batch_size": self.batch_size,
            "device": str(self.device),
            "chat_template": self.chat_template,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "stop_ids": self.stop_ids,
        }

    def close(self) -> None:
        import gc

        self.model = None
        gc.collect()
