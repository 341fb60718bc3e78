"""One way to reach a model: a spec string names it, one `ChatModel` answers it.

A model spec is one of
- a local folder (a merged model, an adapter folder with `adapter_config.json`, or the tiny base),
- a hub id (`org/name`, loaded with `from_pretrained`),
- an OpenAI-compatible server: `http://host:port/v1#served-name` (TGI's Messages API, vLLM, SGLang,
  `transformers serve`, OpenAI). Without `#served-name` the server is asked which model it serves.

`open_chat_model(spec)` returns a `ChatModel` that answers a batch of conversations (`generate`) or
streams one (`stream`) with one `GenerationSettings`. In process: batched, left-padded, the model's
own chat template, the dtype rule written once (`resolve_dtype`). Remote: the `openai` client with
at most `concurrency` requests at a time (`map_bounded`, also used by the MT-Bench judge).

Evaluation (text-to-SQL, MT-Bench answers), the Gradio app and bench/ all reach models through here.
This module imports torch and transformers only when a local model is opened: the serve image has
neither.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tunebench.chat_template import CHATML_TEMPLATE
from tunebench.openai_compat import Endpoint, normalize_base_url

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# End-of-turn tokens of the chat formats in use; a template that writes one ends a turn with it, which
# may differ from the tokenizer's eos (Gemma's <end_of_turn>, Phi-3's <|end|>, Llama-3's <|eot_id|>).
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|end|>", "<|eot_id|>", "<|endoftext|>")


class ChatError(Exception):
    """A failure to reach or run a model, in one sentence that can be shown to a user as is."""


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample. Greedy by default; `temperature > 0` samples, seeded."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop_ids: tuple[int, ...] = ()  # extra token ids that end an answer (local models)
    stop: tuple[str, ...] = ()  # extra strings that end an answer (servers)

    def replace(self, **changes) -> GenerationSettings:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------------
# The spec string


@dataclass(frozen=True)
class ModelSpec:
    """What a spec string names. `kind` is "local" (a folder), "hub" (an id) or "server" (a URL)."""

    kind: str
    ref: str  # the folder, the hub id, or the server's /v1 base URL
    served_name: str | None = None  # for servers: the name requests carry (after '#')

    @classmethod
    def parse(cls, spec: str | Path) -> ModelSpec:
        text = str(spec).strip()
        if not text:
            raise ChatError("empty model spec: give a folder, a hub id (org/name) or a URL")
        if text.startswith(("http://", "https://")):
            url, _, served = text.partition("#")
            return cls("server", normalize_base_url(url), served or None)
        path = Path(text)
        if path.is_dir():
            return cls("local", text)
        if path.exists():
            raise ChatError(f"{text}: a file, not a model folder, hub id or URL")
        if _looks_like_hub_id(text):
            return cls("hub", text)
        raise ChatError(
            f"model {text!r}: no such folder; not a hub id (org/name) or a server URL "
            "(http://host:port/v1#served-name) either"
        )

    @property
    def is_server(self) -> bool:
        return self.kind == "server"

    def __str__(self) -> str:
        if self.kind == "server":
            return self.ref + (f"#{self.served_name}" if self.served_name else "")
        return self.ref


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def is_model_spec(text: str) -> bool:
    """True when `text` parses as a model spec (a folder, a hub id or a URL)."""
    try:
        ModelSpec.parse(text)
    except ChatError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------
# Bounded concurrency, written once


def map_bounded(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    concurrency: int,
    progress: bool = False,
    desc: str = "requests",
    return_exceptions: bool = False,
) -> list[R | BaseException]:
    """`[fn(x) for x in items]` with at most `concurrency` calls in flight, results in input order.

    With `return_exceptions` a failed call's exception takes its place in the list (the caller decides
    what a failure means); otherwise the first failure is raised once the others have finished.
    """
    from tqdm.auto import tqdm

    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    items = list(items)
    out: list[Any] = [None] * len(items)
    with (
        ThreadPoolExecutor(
            max_workers=min(concurrency, max(1, len(items))), thread_name_prefix="chat"
        ) as pool,
        tqdm(total=len(items), desc=desc, disable=not progress, unit="req") as bar,
    ):
        futures = {pool.submit(fn, x): i for i, x in enumerate(items)}
        first_error: BaseException | None = None
        for future in as_completed(futures):
            i = futures[future]
            try:
                out[i] = future.result()
            except Exception as err:  # noqa: BLE001 - reported below, in order
                if return_exceptions:
                    out[i] = err
                elif first_error is None:
                    first_error = err
            bar.update()
    if first_error is not None:
        raise first_error
    return out


# ---------------------------------------------------------------------------------------------------
# Models


class ChatModel:
    """Answers chat conversations. `generate` is a batch; `stream` yields one answer piece by piece."""

    spec: ModelSpec
    settings: GenerationSettings

    @property
    def name(self) -> str:
        """The model's name as a report should print it."""
        return str(self.spec)

    @property
    def location(self) -> str:
        return "in this process"

    def generate(
        self,
        conversations: list[list[dict]],
        settings: GenerationSettings | None = None,
        *,
        progress: bool = False,
    ) -> list[str]:
        raise NotImplementedError

    def stream(self, messages: list[dict], settings: GenerationSettings | None = None) -> Iterator[str]:
        raise NotImplementedError

    def complete(self, messages: list[dict], settings: GenerationSettings | None = None) -> str:
        return self.generate([messages], settings)[0]

    def probe(self) -> str:
        """The name of the model that answers; raises `ChatError` when it cannot be reached."""
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        """Free what the model holds (weights, connections)."""


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

    def generate(self, conversations, settings=None, *, progress=False):
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


class RemoteChatModel(ChatModel):
    """An OpenAI-compatible server through the `openai` client, at most `concurrency` requests at once."""

    def __init__(
        self,
        spec: ModelSpec,
        settings: GenerationSettings = GenerationSettings(),
        *,
        concurrency: int = 8,
        api_key_env: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 5,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.spec, self.settings, self.concurrency = spec, settings, concurrency
        self.endpoint = Endpoint(
            base_url=spec.ref,
            model=spec.served_name or "",
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
        self._client = None
        self._served: str | None = spec.served_name

    @property
    def location(self) -> str:
        return self.spec.ref

    @property
    def client(self):
        if self._client is None:
            self._client = self.endpoint.client()  # one client (one connection pool) for all threads
        return self._client

    @property
    def served_name(self) -> str:
        """The name requests carry: the spec's `#name`, else the one model the server lists."""
        if self._served is None:
            try:
                models = [m.id for m in self.client.models.list()]
            except Exception as err:
                raise ChatError(describe_error(err, self.location)) from err
            if len(models) != 1:
                raise ChatError(
                    f"{self.location} serves {len(models)} models ({', '.join(models[:5])}): "
                    f"name one as {self.location}#<model>"
                )
            self._served = models[0]
        return self._served

    def _request(self, messages: list[dict], s: GenerationSettings, *, stream: bool):
        kw: dict[str, Any] = {
            "model": self.served_name,
            "messages": messages,
            "max_tokens": s.max_new_tokens,
            # TGI maps temperature 0 to greedy; leaving it out would mean sampling at 1.0 there.
            "temperature": s.temperature,
            "seed": s.seed,
            "stream": stream,
        }
        if s.temperature > 0 and s.top_p < 1.0:
            kw["top_p"] = s.top_p
        if s.stop:
            kw["stop"] = list(s.stop)
        return self.client.chat.completions.create(**kw)

    def _complete(self, messages: list[dict], s: GenerationSettings) -> str:
        try:
            response = self._request(messages, s, stream=False)
        except Exception as err:  # the openai client already retried 429/5xx/timeouts with backoff
            raise ChatError(describe_error(err, self.location)) from err
        return (response.choices[0].message.content or "").strip()

    def generate(self, conversations, settings=None, *, progress=False):
        s = settings or self.settings
        return map_bounded(
            lambda m: self._complete(m, s),
            conversations,
            concurrency=self.concurrency,
            progress=progress,
            desc="generating",
        )

    def stream(self, messages, settings=None):
        s = settings or self.settings
        try:
            with self._request(messages, s, stream=True) as chunks:
                for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except ChatError:
            raise
        except Exception as err:
            raise ChatError(describe_error(err, self.location)) from err

    def probe(self) -> str:
        self._served = self.spec.served_name  # ask again: the server may have restarted
        try:
            listed = [m.id for m in self.client.models.list()]
        except Exception as err:
            raise ChatError(describe_error(err, self.location)) from err
        return self.spec.served_name or (listed[0] if len(listed) == 1 else self.served_name)

    def describe(self) -> dict:
        return {
            "backend": "openai-compatible server",
            "base_url": self.spec.ref,
            "model": self._served or self.spec.served_name or "(asked from the server)",
            "concurrency": self.concurrency,
        }

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def open_chat_model(
    spec: str | Path | ModelSpec,
    settings: GenerationSettings = GenerationSettings(),
    *,
    batch_size: int = 16,
    concurrency: int = 8,
    dtype: str = "auto",
    device: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 120.0,
    max_retries: int = 5,
    chatml_fallback: bool = False,
) -> ChatModel:
    """The `ChatModel` a spec names: in process for a folder or hub id, over HTTP for a URL."""
    spec = spec if isinstance(spec, ModelSpec) else ModelSpec.parse(str(spec))
    if spec.is_server:
        return RemoteChatModel(
            spec,
            settings,
            concurrency=concurrency,
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
    return LocalChatModel(
        spec, settings, batch_size=batch_size, dtype=dtype, device=device, chatml_fallback=chatml_fallback
    )


# ---------------------------------------------------------------------------------------------------
# Errors a person can read

_TIMEOUTS = {"APITimeoutError", "TimeoutException", "TimeoutError", "ReadTimeout"}
_UNREACHABLE = {"APIConnectionError", "ConnectError", "ConnectionError", "NetworkError"}


def describe_error(err: BaseException, location: str) -> str:
    """One readable sentence for a failed request; the details go to the log only."""
    log.warning("model server at %s failed: %r", location, err)
    names = {cls.__name__ for cls in type(err).__mro__}
    if names & _TIMEOUTS:
        return f"the model server at {location} did not answer in time"
    if names & _UNREACHABLE:
        return f"cannot reach the model server at {location} (is it running?)"
    status = getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)
    if status is not None:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return f"the model server at {location} answered HTTP {status}: {_short(first)}"
    return f"the model at {location} failed ({type(err).__name__}): {_short(str(err))}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
