"""In-process generation with Hugging Face transformers: batched, left-padded, greedy by default.

Used by evaluation (text-to-SQL, MT-Bench answers) and by the demo's in-process backend when no
server is running. Prompts are rendered with the model's own chat template.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path


def load_for_inference(model_path: str | Path, *, dtype: str = "auto", device: str | None = None):
    """Load (model, tokenizer) from a merged folder, an adapter folder (PEFT) or a hub id."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = {
        "auto": (torch.bfloat16 if device == "cuda" else torch.float32),
        "float32": torch.float32,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
    }[dtype]
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    if (path / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch_dtype)
    model.to(device).eval()
    tokenizer.padding_side = "left"  # decoder-only batched generation pads on the left
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


class HFGenerator:
    """Chat completions from a local model, many prompts per forward pass."""

    def __init__(
        self, model_path: str | Path, *, dtype: str = "auto", device: str | None = None, seed: int = 0
    ):
        self.model_path = str(model_path)
        self.model, self.tokenizer = load_for_inference(model_path, dtype=dtype, device=device)
        self.seed = seed
        self._lock = threading.Lock()  # one generate() at a time on a shared model

    @property
    def device(self):
        return self.model.device

    def _gen_kwargs(self, max_new_tokens: int, temperature: float) -> dict:
        kw = {
            "max_new_tokens": max_new_tokens,
            "eos_token_id": self.tokenizer.eos_token_id,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if temperature and temperature > 0:
            kw.update(do_sample=True, temperature=temperature, top_p=1.0)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw

    def render(self, messages: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(
        self,
        conversations: list[list[dict]],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        batch_size: int = 16,
        progress: bool = False,
    ) -> list[str]:
        """One completion per conversation (text after the prompt, stop token removed)."""
        import torch
        from tqdm.auto import tqdm

        prompts = [self.render(m) for m in conversations]
        # Sort by length so each batch pads little; answers are put back in the caller's order.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out: list[str | None] = [None] * len(prompts)
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for batch in tqdm(batches, desc="generating", disable=not progress, unit="batch"):
            enc = self.tokenizer(
                [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            with self._lock, torch.inference_mode():
                torch.manual_seed(self.seed)
                ids = self.model.generate(**enc, **self._gen_kwargs(max_new_tokens, temperature))
            new = ids[:, enc["input_ids"].shape[1] :]
            for i, row in zip(batch, new, strict=True):
                out[i] = self.tokenizer.decode(row, skip_special_tokens=True).strip()
        return out  # type: ignore[return-value]

    def stream(
        self, messages: list[dict], *, max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield text pieces as the model writes them."""
        import torch
        from transformers import TextIteratorStreamer

        enc = self.tokenizer([self.render(messages)], return_tensors="pt", add_special_tokens=False).to(
            self.device
        )
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**enc, **self._gen_kwargs(max_new_tokens, temperature), streamer=streamer)

        def run():
            with self._lock, torch.inference_mode():
                self.model.generate(**kwargs)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
