"""MT-Bench answers in FastChat's `model_answer/<model_id>.jsonl` format, from any model.

A model is named by a spec (`tunebench.chat`): a folder (merged or adapter), a hub id, or an
OpenAI-compatible server `URL#served-name`, all answered through one `ChatModel`. Local models are
prompted with their own tokenizer chat template (a tunebench fine-tune sees the ChatML it was
trained on, never a template guessed from its name as FastChat does); a server applies the served
model's template. Two MT-Bench-only forms sit on top: an answer file (`*.jsonl`, copied in) and the
bare id of answers already in `model_answer/`.

Questions are answered in groups that share FastChat's temperature, turn by turn (turn 2 sees the
model's own first answer), one `generate` call per turn and chunk; each finished question is
appended and flushed at once, so a rerun only answers what is missing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tunebench.chat import ChatModel, ModelSpec
from tunebench.data.formats import DataFormatError
from tunebench.data.jsonl import JsonlAppender, iter_jsonl, read_jsonl
from tunebench.evaluate.conventions import default_model_id
from tunebench.evaluate.mt_bench.config import API_SYSTEM_MESSAGE, AnswerConfig
from tunebench.evaluate.mt_bench.data import load_answers, temperature_for
from tunebench.evaluate.mt_bench.fingerprints import (
    answer_fingerprint,
    digest,
    model_fingerprint,
    set_aside,
    stale_files,
)
from tunebench.runs.atomic_io import atomic_write_jsonl


@dataclass(frozen=True)
class AnswerSource:
    """Where a model's answers come from: a model to ask, or an answer file already written."""

    model_id: str
    spec: ModelSpec | None = None  # a model to ask
    answer_file: Path | None = None  # answers already written (FastChat's format)

    @property
    def kind(self) -> str:
        return self.spec.kind if self.spec is not None else "answers"


def resolve_source(spec: str, answer_dir: Path, model_id: str | None = None) -> AnswerSource:
    """An answer file (*.jsonl) or the id of answers in `answer_dir`; otherwise a model spec
    (folder, hub id, URL[#served-name]). The id of a server without `#name` is set once it answers."""
    path = Path(spec)
    if path.suffix == ".jsonl" and path.is_file():
        return AnswerSource(model_id or path.stem, answer_file=path)
    existing = Path(answer_dir) / f"{model_id or spec}.jsonl"
    if not path.exists() and not spec.startswith(("http://", "https://")) and "/" not in spec:
        if existing.exists():
            return AnswerSource(model_id or spec, answer_file=existing)
        raise FileNotFoundError(
            f"model {spec!r}: not a folder, hub id (org/name), URL or answer file, "
            f"and {existing} does not exist"
        )
    parsed = ModelSpec.parse(spec)
    if model_id:
        return AnswerSource(model_id, spec=parsed)
    if parsed.is_server:  # "" until the server says which model it serves
        return AnswerSource(default_model_id(parsed.served_name) if parsed.served_name else "", spec=parsed)
    return AnswerSource(default_model_id(spec), spec=parsed)


@dataclass
class AnswerStats:
    model_id: str
    path: str
    written: int = 0
    skipped: int = 0  # already on disk, from the same model and settings
    stale: int = 0  # on disk from another model or settings: set aside and answered again
    stale_file: str | None = None
    restored: int = 0  # answered before by the same model and settings: brought back from stale/
    wall_s: float = 0.0


def fingerprint_of(model: ChatModel) -> dict:
    """What identifies the model that answers (see fingerprints.py); settings are added per answer.
    Computed from the folder, the hub cache or the server, without loading any weights."""
    spec = model.spec
    if spec.is_server:
        return model_fingerprint("server", spec.ref, served_name=model.served_name)
    return model_fingerprint(
        spec.kind, spec.ref, revision=hub_revision(spec.ref) if spec.kind == "hub" else None
    )


class DeferredModel(ChatModel):
    """A local model loaded on its first `generate`: a rerun whose answers are all current loads nothing."""

    def __init__(self, spec: ModelSpec, opener):
        self.spec, self._opener, self._model = spec, opener, None

    def generate(self, conversations, settings=None, *, progress=False, on_done=None):
        if self._model is None:
            self._model = self._opener()
        return self._model.generate(conversations, settings, progress=progress, on_done=on_done)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def close(self) -> None:
        if self._model is not None:
            self._model.close()


def hub_revision(repo_id: str) -> str | None:
    """The commit of the hub snapshot a model was loaded from (its folder name in the HF cache)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True)).name
    except Exception:  # noqa: BLE001 - not in the cache as a snapshot: the id alone identifies it
        return None


def pending(questions: list[dict], path: Path, fingerprint_for=None) -> tuple[list[dict], list[dict]]:
    """(questions without a complete, current answer in `path`, rows of `path` that are stale)."""
    done = load_answers(path) if path.exists() else {}
    stale = []
    if fingerprint_for is not None:
        wanted = {q["question_id"]: q for q in questions}
        stale = [
            row
            for qid, row in done.items()
            if qid in wanted and row.get("fingerprint") != fingerprint_for(wanted[qid])
        ]
        for row in stale:
            del done[row["question_id"]]
    todo = [
        q
        for q in questions
        if q["question_id"] not in done
        or len(done[q["question_id"]]["choices"][0]["turns"]) != len(q["turns"])
    ]
    return todo, stale


def answer_record(question: dict, model_id: str, turns: list[str], fingerprint: str | None) -> dict:
    return {
        "question_id": question["question_id"],
        "answer_id": uuid.uuid4().hex[:22],  # FastChat writes a 22-character shortuuid
        "model_id": model_id,
        "choices": [{"index": 0, "turns": turns}],
        "tstamp": time.time(),
        "fingerprint": fingerprint,  # an extra field: FastChat's readers ignore it
    }


def reorg_answer_file(path: Path) -> None:
    """Sort by question id, one line per question (FastChat's reorg_answer_file), atomically."""
    rows = {r["question_id"]: r for r in read_jsonl(path)}
    atomic_write_jsonl(path, [rows[k] for k in sorted(rows)])


def check_answer_file(path: Path, questions: list[dict]) -> dict[int, dict]:
    """The rows of an answer file, every question answered with every turn; else one error naming the
    file, the line and the field (before the file is copied anywhere)."""
    from tunebench.evaluate.mt_bench.matches import MissingDataError

    rows = load_answers(path)  # shape errors name their line
    lines = {row.get("question_id"): number for number, row in iter_jsonl(path)}
    missing = [q["question_id"] for q in questions if q["question_id"] not in rows]
    if missing:
        raise MissingDataError(f"{path}: no answer to question(s) {missing[:10]}")
    for q in questions:
        turns = rows[q["question_id"]]["choices"][0]["turns"]
        if len(turns) < len(q["turns"]) or not all(isinstance(t, str) for t in turns):
            raise DataFormatError(
                str(path),
                lines.get(q["question_id"]),
                "choices[0].turns",
                f"{len(turns)} answer turn(s) to question {q['question_id']}, which has {len(q['turns'])}",
            )
    return rows


def import_answers(
    source: AnswerSource, answer_dir: Path, questions: list[dict]
) -> tuple[Path, int, Path | None]:
    """Copy pre-written answers (e.g. FastChat's) in under this model id, each row fingerprinted by the
    file's content hash, once the file is checked whole. Returns (path, stale rows set aside, where
    they went)."""
    path = Path(answer_dir) / f"{source.model_id}.jsonl"
    if source.answer_file is None or Path(source.answer_file).resolve() == path.resolve():
        return path, 0, None
    fingerprint = digest(model_fingerprint("answers", str(source.answer_file)))
    rows = check_answer_file(Path(source.answer_file), questions)
    on_disk = read_jsonl(path) if path.exists() else []
    stale = [r for r in on_disk if r.get("fingerprint") != fingerprint]
    if on_disk and not stale:
        return path, 0, None  # the same file as last time: nothing to do
    aside = set_aside(path, stale, []) if stale else None
    atomic_write_jsonl(
        path, [dict(r, model_id=source.model_id, fingerprint=fingerprint) for r in rows.values()]
    )
    return path, len(stale), aside


def _restore(todo: list[dict], path: Path, fingerprint_for) -> tuple[list[dict], int]:
    """Answers set aside in stale/ by the same model and settings (going back to earlier weights), back
    into `path` instead of generated again; returns (what is still to answer, how many came back)."""
    wanted = {q["question_id"]: q for q in todo}
    found: dict[int, dict] = {}
    for stale_path in stale_files(path):
        for row in read_jsonl(stale_path):
            q = wanted.get(row.get("question_id"))
            turns = (row.get("choices") or [{}])[0].get("turns") or []
            if (
                q is not None
                and row.get("fingerprint") == fingerprint_for(q)
                and len(turns) == len(q["turns"])
            ):
                found[q["question_id"]] = row
    if found:
        with JsonlAppender(path) as out:
            for row in found.values():
                out.write(row)
    return [q for q in todo if q["question_id"] not in found], len(found)


def system_prefix(model: ChatModel, cfg: AnswerConfig) -> list[dict]:
    """FastChat's system message for API models; local models keep their own template's default."""
    text = cfg.system_message
    if text is None:
        text = API_SYSTEM_MESSAGE if model.spec.is_server else ""
    return [{"role": "system", "content": text}] if text else []


def generate_answers(
    questions: list[dict],
    model: ChatModel,
    model_id: str,
    answer_dir: Path,
    cfg: AnswerConfig = AnswerConfig(),
    *,
    fingerprint: dict | None = None,
    progress: bool = True,
) -> AnswerStats:
    """Write answer_dir/<model_id>.jsonl for every question without a current answer there. With the
    model's `fingerprint`, answers another model (or other settings) wrote are set aside and redone."""
    from tqdm.auto import tqdm

    path = Path(answer_dir) / f"{model_id}.jsonl"
    stats = AnswerStats(model_id, str(path))
    t0 = time.perf_counter()
    prefix = system_prefix(model, cfg)

    def fingerprint_for(q: dict) -> str | None:
        if fingerprint is None:
            return None
        settings = cfg.settings(temperature_for(q["category"])).to_json()
        return answer_fingerprint(fingerprint, {**settings, "system": prefix, "dtype": cfg.dtype})

    todo, stale = pending(questions, path, fingerprint_for if fingerprint is not None else None)
    if stale:
        stale_ids = {r["question_id"] for r in stale}
        keep = [r for r in read_jsonl(path) if r["question_id"] not in stale_ids]
        stats.stale, stats.stale_file = len(stale), str(set_aside(path, stale, keep))
    if fingerprint is not None and todo:
        todo, stats.restored = _restore(todo, path, fingerprint_for)
    stats.skipped = len(questions) - len(todo) - stats.restored
    by_temperature: dict[float, list[dict]] = {}
    for q in todo:
        by_temperature.setdefault(temperature_for(q["category"]), []).append(q)
    # A chunk is what one generate() call per turn covers: a killed run loses at most one chunk.
    chunk_size = max(cfg.batch_size, cfg.concurrency)
    bar = tqdm(total=len(todo), desc=f"answers {model_id}", unit="question", disable=not progress)
    with JsonlAppender(path) as out:
        for temperature, group in by_temperature.items():
            settings = cfg.settings(temperature)
            for start in range(0, len(group), chunk_size):
                chunk = group[start : start + chunk_size]
                conversations: list[list[dict]] = [list(prefix) for _ in chunk]
                for turn in range(max(len(q["turns"]) for q in chunk)):
                    live = [i for i, q in enumerate(chunk) if turn < len(q["turns"])]
                    for i in live:
                        conversations[i].append({"role": "user", "content": chunk[i]["turns"][turn]})
                    texts = model.generate([conversations[i] for i in live], settings)
                    for i, text in zip(live, texts, strict=True):
                        conversations[i].append({"role": "assistant", "content": text})
                for q, conv in zip(chunk, conversations, strict=True):
                    turns = [m["content"] for m in conv if m["role"] == "assistant"]
                    out.write(answer_record(q, model_id, turns, fingerprint_for(q)))
                    stats.written += 1
                bar.update(len(chunk))
    bar.close()
    if path.exists():
        reorg_answer_file(path)
    stats.wall_s = round(time.perf_counter() - t0, 3)
    return stats
