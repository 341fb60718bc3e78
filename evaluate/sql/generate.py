"""The models being scored: opened through `tunebench.chat` and described honestly in reports.

Every model is named by one spec string (a folder, a hub id, or `http://host:port/v1#served-name`)
and answers through `tunebench.chat.open_chat_model`: in process (batched, left-padded, the model's
own chat template) or from any OpenAI-compatible server (TGI, vLLM, `transformers serve`, …).
A pre-trained base without a chat template is prompted in ChatML, the format its fine-tune is
trained with (`chatml_fallback`): the fair "before" measurement; its description says so.
"""

from __future__ import annotations

from pathlib import Path

from tunebench.chat import ChatModel, ModelSpec, open_chat_model
from tunebench.evaluate.sql.config import EvalConfig
from tunebench.runs.paths import is_tiny_base
from tunebench.runs.record import RunManifest

TINY_BASE_NOTE = (
    "the embedded tiny base: a small Llama-architecture model with **random weights** (its README says "
    "so). It has never seen SQL or English, so its score is a floor (about 0%), not the score of a "
    "pre-trained model."
)


def open_model(spec: str, config: EvalConfig) -> ChatModel:
    return open_chat_model(
        spec,
        config.generation,
        batch_size=config.batch_size,
        concurrency=config.concurrency,
        dtype=config.dtype,
        device=config.device,
        api_key_env=config.api_key_env,
        chatml_fallback=True,
    )


def run_of(spec: str) -> RunManifest | None:
    """The training run a local merged/ or adapter/ folder comes from (None for anything else)."""
    parsed = ModelSpec.parse(spec)
    return RunManifest.for_model(parsed.ref) if parsed.kind == "local" else None


def model_key(spec: str) -> str:
    """How predictions.meta.json names a model: the resolved folder, or the spec as given."""
    parsed = ModelSpec.parse(spec)
    return str(Path(parsed.ref).resolve()) if parsed.kind == "local" else str(parsed)


def describe_model(spec: str) -> dict:
    """What a model is: the random-init tiny base, a tunebench fine-tune of something, or other."""
    parsed = ModelSpec.parse(spec)
    if parsed.kind == "local" and is_tiny_base(parsed.ref):
        return {"path": spec, "random_weights": True, "description": TINY_BASE_NOTE}
    run = run_of(spec)
    if run is not None:
        base = str(run.base_model or "?")
        from_tiny = is_tiny_base(base)
        return {
            "path": spec,
            "random_weights": False,
            "base_model": base,
            "description": f"fine-tuned by tunebench ({run.method}, {run.training.global_step} optimizer "
            f"steps on {', '.join(run.datasets)}) from `{base}`"
            + (
                " — the random-init tiny base, so everything it knows comes from this training."
                if from_tiny
                else "."
            ),
        }
    where = {
        "local": "a local model folder",
        "hub": "a hub model",
        "server": f"a model served at {parsed.ref}",
    }[parsed.kind]
    return {"path": spec, "random_weights": False, "description": f"{where}, not from a tunebench run."}


def is_base_of(baseline: str, model: str) -> bool:
    """True when `baseline` is the very model `model` was fine-tuned from (the report says "base")."""
    run = run_of(model)
    if run is None or run.base_model is None:
        return False
    parsed = ModelSpec.parse(baseline)
    if parsed.kind == "local":
        return Path(run.base_model).resolve() == Path(parsed.ref).resolve()
    return run.base_model == parsed.ref
