"""MT-Bench answers in FastChat's `model_answer/<model_id>.jsonl` format, from any model.

A model is a merged folder, an adapter folder or a hub id (answered in-process, batched, with the
model's own tokenizer chat template: a tunebench fine-tune is prompted in ChatML, the format it was
trained on, never a template guessed from its name as FastChat does), or an OpenAI-compatible endpoint
(TGI, vLLM, `transformers serve`: the server applies the model's template; requests run concurrently).
Two turns per question, temperature by category as FastChat sets it, resumable: a rerun only answers
the questions missing from the file, and each finished question is appended and flushed at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tunebench.atomic_io import atomic_write_jsonl, atomic_write_text
from tunebench.evaluate.mt_bench.data import JsonlAppender, load_answers, read_jsonl, temperature_for
from tunebench.openai_compat import Endpoint, normalize_base_url, run_sync
from tunebench.paths import RunPaths

DEFAULT_MAX_NEW_TOKENS = 1024


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "endpoint" | "local" | "hub" | "answers"
    ref: str  # base URL, folder, hub id or answer file
    model_id: str
    served_model: str | None = None  # the name an endpoint expects in requests


def default_model_id(spec: str) -> str:
    """FastChat's model id for a model: the run name for models/<run>/merged, else the last path part."""
    p = Path(spec)
    run = RunPaths.from_model_dir(p) if p.exists() else None
    if run is not None:
        return run.root.name + ("-adapter" if p.name == "adapter" else "")
    parts = [s for s in spec.replace("\\", "/").split("/") if s]
    if len(parts) >= 2 and parts[-1] in ("merged", "adapter"):
        return parts[-2]
    return parts[-1] if parts else spec


def resolve_model(spec: str, answer_dir: Path, model_id: str | None = None) -> ModelSource:
    """URL[#served-name] → endpoint; folder → local; *.jsonl → existing answers; org/name → hub id;
    a bare name → answers already in model_answer/<name>.jsonl."""
    if spec.startswith(("http://", "https://")):
        url, _, served = spec.partition("#")
        served = served or None
        mid = model_id or (default_model_id(served) if served else url.split("//", 1)[1].split("/")[0])
        return ModelSource("endpoint", normalize_base_url(url), mid.replace(":", "_"), served)
    path = Path(spec)
    if path.is_dir():
        return ModelSource("local", str(path), model_id or default_model_id(spec))
    if path.suffix == ".jsonl" and path.is_file():
        return ModelSource("answers", str(path), model_id or path.stem)
    if "/" in spec and not path.exists():
        return ModelSource("hub", spec, model_id or default_model_id(spec))
    existing = answer_dir / f"{model_id or spec}.jsonl"
    if existing.exists():
        return ModelSource("answers", str(existing), model_id or spec)
    raise FileNotFoundError(
        f"model {spec!r}: not a folder, hub id (org/name), URL or answer file, and {existing} does not exist"
    )


def served_model_name(base_url: str, fallback: str = "tgi") -> str:
    """The first model an endpoint lists (vLLM, `transformers serve`); TGI accepts any name."""
    try:
        models = Endpoint(base_url, fallback, timeout_s=10, max_retries=1).client().models.list()
        return next(iter(models)).id
    except Exception:  # noqa: BLE001 - a server without /models still answers chat completions
        return fallback


@dataclass
class AnswerStats:
    model_id: str
    path: str
    written: int = 0
    skipped: int = 0  # already on disk
    failed: int = 0
    wall_s: float = 0.0


def _pending(questions: list[dict], path: Path) -> tuple[list[dict], int]:
    done = load_answers(path) if path.exists() else {}
    todo = [
        q
        for q in questions
        if q["question_id"] not in done
        or len(done[q["question_id"]]["choices"][0]["turns"]) != len(q["turns"])
    ]
    return todo, len(questions) - len(todo)


def _record(q: dict, model_id: str, turns: list[str]) -> dict:
    import shortuuid  # FastChat's answer ids (a dependency of fschat)

    return {
        "question_id": q["question_id"],
        "answer_id": shortuuid.uuid(),
        "model_id": model_id,
        "choices": [{"index": 0, "turns": turns}],
        "tstamp": time.time(),
    }


def reorg_answer_file(path: Path) -> None:
    """Sort by question id, one line per question (FastChat's reorg_answer_file), atomically."""
    rows = {r["question_id"]: r for r in read_jsonl(path, tolerate_torn_tail=True)}
    atomic_write_jsonl(path, [rows[k] for k in sorted(rows)])


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="question", disable=not enabled)


async def _answer_endpoint(
    questions: list[dict],
    endpoint: Endpoint,
    out: JsonlAppender,
    stats: AnswerStats,
    *,
    max_new_tokens: int,
    concurrency: int,
    progress: bool,
) -> None:
    client = endpoint.async_client()
    sem = asyncio.Semaphore(max(1, concurrency))
    bar = _progress(len(questions), f"answers {stats.model_id}", progress)

    async def one(q: dict) -> None:
        messages: list[dict] = []
        turns: list[str] = []
        try:
            async with sem:
                for text in q["turns"]:  # the second turn sees the model's own first answer
                    messages.append({"role": "user", "content": text})
                    resp = await client.chat.completions.create(
                        model=endpoint.model,
                        messages=messages,
                        temperature=temperature_for(q["category"]),
                        max_tokens=max_new_tokens,
                    )
                    answer = (resp.choices[0].message.content or "").strip()
                    messages.append({"role": "assistant", "content": answer})
                    turns.append(answer)
        except Exception as e:  # noqa: BLE001 - the question stays missing; a rerun retries it
            stats.failed += 1
            print(f"question {q['question_id']}: {type(e).__name__}: {e}", file=sys.stderr)
        else:
            out.write(_record(q, stats.model_id, turns))
            stats.written += 1
        bar.update()

    try:
        await asyncio.gather(*(one(q) for q in questions))
    finally:
        bar.close()
        await client.close()


def _answer_in_process(
    questions: list[dict],
    generator,
    out: JsonlAppender,
    stats: AnswerStats,
    *,
    max_new_tokens: int,
    batch_size: int,
    progress: bool,
) -> None:
    """Batches of questions that share a temperature; turn 2 of a batch follows its turn 1."""
    by_temp: dict[float, list[dict]] = {}
    for q in questions:
        by_temp.setdefault(temperature_for(q["category"]), []).append(q)
    bar = _progress(len(questions), f"answers {stats.model_id}", progress)
    for temperature, group in by_temp.items():
        for start in range(0, len(group), batch_size):
            chunk = group[start : start + batch_size]
            convs: list[list[dict]] = [[] for _ in chunk]
            n_turns = max(len(q["turns"]) for q in chunk)
            for t in range(n_turns):
                live = [i for i, q in enumerate(chunk) if t < len(q["turns"])]
                for i in live:
                    convs[i].append({"role": "user", "content": chunk[i]["turns"][t]})
                outs = generator.generate(
                    [convs[i] for i in live],
                    max_new_tokens=max_new_tokens,
                    temperature=temperature,
                    batch_size=batch_size,
                )
                for i, text in zip(live, outs, strict=True):
                    convs[i].append({"role": "assistant", "content": text})
            for q, conv in zip(chunk, convs, strict=True):
                out.write(
                    _record(q, stats.model_id, [m["content"] for m in conv if m["role"] == "assistant"])
                )
                stats.written += 1
            bar.update(len(chunk))
    bar.close()


def generate_answers(
    questions: list[dict],
    source: ModelSource,
    answer_dir: Path,
    *,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    concurrency: int = 8,
    batch_size: int = 8,
    progress: bool = True,
    generator=None,
    endpoint: Endpoint | None = None,
    dtype: str = "auto",
    device: str | None = None,
) -> AnswerStats:
    """Write answer_dir/<model_id>.jsonl for every question not already answered there."""
    path = Path(answer_dir) / f"{source.model_id}.jsonl"
    stats = AnswerStats(source.model_id, str(path))
    t0 = time.perf_counter()
    if source.kind == "answers" and Path(source.ref).resolve() != path.resolve():
        # Pre-generated answers (e.g. FastChat's): copied in, renamed to this model id.
        rows = [dict(r, model_id=source.model_id) for r in load_answers(Path(source.ref)).values()]
        atomic_write_jsonl(path, rows)
    todo, stats.skipped = _pending(questions, path)
    if todo and source.kind == "answers":
        raise FileNotFoundError(
            f"{path}: no answers to {len(todo)} question(s) and no model to generate them"
        )
    if todo:
        with JsonlAppender(path) as out:
            if source.kind == "endpoint":
                endpoint = endpoint or Endpoint(
                    source.ref, source.served_model or served_model_name(source.ref)
                )
                run_sync(
                    _answer_endpoint(
                        todo,
                        endpoint,
                        out,
                        stats,
                        max_new_tokens=max_new_tokens,
                        concurrency=concurrency,
                        progress=progress,
                    )
                )
            else:
                if generator is None:
                    from tunebench.generation import HFGenerator

                    generator = HFGenerator(source.ref, dtype=dtype, device=device)
                _answer_in_process(
                    todo,
                    generator,
                    out,
                    stats,
                    max_new_tokens=max_new_tokens,
                    batch_size=batch_size,
                    progress=progress,
                )
    if path.exists():
        reorg_answer_file(path)
    stats.wall_s = round(time.perf_counter() - t0, 3)
    meta = {
        **asdict(source),
        "prompt_format": (
            "the server's chat template for the served model"
            if source.kind == "endpoint"
            else "the model tokenizer's own chat template (apply_chat_template)"
        ),
        "max_new_tokens": max_new_tokens,
        "temperatures": "FastChat temperature_config by category",
        "last_run": asdict(stats),
    }
    atomic_write_text(
        Path(answer_dir).parent / "answer_meta" / f"{source.model_id}.json", json.dumps(meta, indent=2)
    )
    return stats
