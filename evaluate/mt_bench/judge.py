"""The judging loop: FastChat's matches played through the `openai>=1` async client, concurrently.

Any OpenAI-compatible judge works (OpenAI, vLLM, TGI, `transformers serve`, Anthropic's OpenAI
endpoint). Robustness: the client retries 429/5xx/timeouts with backoff (`max_retries`); what still
fails gets `retry_rounds` more tries with a longer backoff, then is recorded as FastChat's `$ERROR$`
judgment (counted, never fatal; a rerun tries it again since it was never paid for). Bad keys or an
unknown judge model stop the run at once: every call would fail the same way.

Resumable: each finished game (one judge call) is appended to a journal and flushed, and each match
whose two games are done is appended to `model_judgment/<judge>_pair.jsonl` in FastChat's format.
A rerun makes no call for a game already on disk; the final file has every match exactly once.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tunebench.atomic_io import atomic_write_jsonl
from tunebench.evaluate.mt_bench.data import API_ERROR_OUTPUT, JsonlAppender, read_jsonl
from tunebench.evaluate.mt_bench.matches import (
    Match,
    game_winner,
    judge_messages,
    parse_pair_verdict,
    parse_rating,
    render_pair,
    render_single,
)
from tunebench.openai_compat import Endpoint, run_sync

ASSUMED_JUDGMENT_TOKENS = 300  # a typical GPT-4 MT-Bench judgment; only for the dry-run estimate


class FatalJudgeError(RuntimeError):
    """The judge cannot answer any call (bad key, unknown model): stop instead of recording errors."""


@dataclass
class JudgeConfig:
    endpoint: Endpoint
    judge_id: str  # names the files and the reference answers (FastChat uses the model name)
    concurrency: int = 16
    max_tokens: int = 2048  # FastChat's judge settings: temperature 0, 2048 tokens
    temperature: float = 0.0
    retry_rounds: int = 3
    retry_wait_s: float = 10.0
    system_in_user: bool = False


@dataclass
class JudgeStats:
    matches: int = 0
    already_done: int = 0
    calls: int = 0
    api_errors: int = 0
    parse_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)


def judgment_file(out_dir: Path, judge_id: str, pairwise: bool) -> Path:
    return Path(out_dir) / "model_judgment" / f"{judge_id}_{'pair' if pairwise else 'single'}.jsonl"


def _key_of(row: dict, pairwise: bool) -> tuple:
    if pairwise:
        return (row["question_id"], row["model_1"], row["model_2"], row["turn"])
    return (row["question_id"], row["model"], row["turn"])


class JudgmentStore:
    """What is on disk: finished games (FastChat file + journal) and the files to append to."""

    def __init__(self, out_dir: Path, judge_id: str, pairwise: bool):
        self.pairwise = pairwise
        self.path = judgment_file(out_dir, judge_id, pairwise)
        self.journal = self.path.parent / "journal" / self.path.name
        self.done: dict[tuple, dict] = {}  # (match key, game) -> game record
        self.complete: set[tuple] = set()
        for row in read_jsonl(self.path, tolerate_torn_tail=True):
            key = _key_of(row, pairwise)
            games = {g: self._game_from_line(row, g) for g in ((1, 2) if pairwise else (0,))}
            for g, rec in games.items():
                if rec["judgment"] != API_ERROR_OUTPUT:
                    self.done[(key, g)] = rec
            if all(rec["judgment"] != API_ERROR_OUTPUT for rec in games.values()):
                self.complete.add(key)
        for row in read_jsonl(self.journal, tolerate_torn_tail=True):
            key = tuple(row["key"])
            if row["judgment"] != API_ERROR_OUTPUT:
                self.done.setdefault((key, row["game"]), row)

    def _game_from_line(self, row: dict, game: int) -> dict:
        if not self.pairwise:
            return {k: row.get(k) for k in ("user_prompt", "judgment", "score", "error", "usage")}
        p = f"g{game}_"
        return {
            "user_prompt": row[p + "user_prompt"],
            "judgment": row[p + "judgment"],
            "winner": row[p + "winner"],
            "error": row.get(p + "error"),
            "usage": row.get(p + "usage"),
        }

    def is_complete(self, match: Match) -> bool:
        if match.key in self.complete:
            return True
        if not self.pairwise:
            return False
        # The same pair judged the other way round (pairwise-all vs -baseline) already holds both orders.
        q, m1, m2, turn = match.key
        return (q, m2, m1, turn) in self.complete

    def compact(self) -> None:
        """One line per match (the latest), atomically; FastChat's readers then count each once."""
        rows = read_jsonl(self.path, tolerate_torn_tail=True)
        latest = {_key_of(r, self.pairwise): r for r in rows}
        atomic_write_jsonl(self.path, latest.values())


async def call_judge(client, cfg: JudgeConfig, messages: list[dict]) -> tuple[str, dict | None, str | None]:
    """(judgment, usage, error). Retries what the client gave up on; never raises for one bad call."""
    import openai

    last: Exception | None = None
    for attempt in range(cfg.retry_rounds + 1):
        try:
            resp = await client.chat.completions.create(
                model=cfg.endpoint.model,
                messages=messages,
                n=1,
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
            )
            usage = resp.usage.model_dump() if resp.usage else None
            return resp.choices[0].message.content or "", usage, None
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
            raise FatalJudgeError(f"judge {cfg.endpoint.model} at {cfg.endpoint.base_url}: {e}") from e
        except openai.BadRequestError as e:  # e.g. a prompt over the context limit: retrying won't help
            return API_ERROR_OUTPUT, None, f"{type(e).__name__}: {e}"
        except (openai.APIStatusError, openai.APITimeoutError, openai.APIConnectionError) as e:
            last = e
            if attempt < cfg.retry_rounds:
                await asyncio.sleep(cfg.retry_wait_s * (2**attempt) * (0.75 + 0.5 * random.random()))
        except Exception as e:  # noqa: BLE001 - e.g. a malformed response body: one judgment lost, not the run
            return API_ERROR_OUTPUT, None, f"{type(e).__name__}: {e}"
    return API_ERROR_OUTPUT, None, f"{type(last).__name__}: {last}"


def _pair_line(match: Match, cfg: JudgeConfig, games: dict[int, dict]) -> dict:
    q, m1, m2, turn = match.key
    line = {
        "question_id": q,
        "model_1": m1,
        "model_2": m2,
        "g1_winner": games[1]["winner"],
        "g2_winner": games[2]["winner"],
        "judge": [cfg.judge_id, match.prompt["name"]],
        "g1_user_prompt": games[1]["user_prompt"],
        "g1_judgment": games[1]["judgment"],
        "g2_user_prompt": games[2]["user_prompt"],
        "g2_judgment": games[2]["judgment"],
        "turn": turn,
        "tstamp": time.time(),
    }
    for g in (1, 2):  # extra fields; FastChat's readers ignore them
        line[f"g{g}_error"] = games[g].get("error")
        line[f"g{g}_usage"] = games[g].get("usage")
    return line


def _single_line(match: Match, cfg: JudgeConfig, rec: dict) -> dict:
    q, model, turn = match.key
    return {
        "question_id": q,
        "model": model,
        "judge": [cfg.judge_id, match.prompt["name"]],
        "user_prompt": rec["user_prompt"],
        "judgment": rec["judgment"],
        "score": rec["score"],
        "turn": turn,
        "tstamp": time.time(),
        "error": rec.get("error"),
        "usage": rec.get("usage"),
    }


def plan(matches: list[Match], store: JudgmentStore) -> list[tuple[Match, list[int]]]:
    """The games still to play: (match, missing games); complete matches cost nothing."""
    todo = []
    for m in matches:
        if store.is_complete(m):
            continue
        games = (1, 2) if m.pairwise else (0,)
        missing = [g for g in games if (m.key, g) not in store.done]
        todo.append((m, missing))
    return todo


def render_game(match: Match, game: int, cfg: JudgeConfig) -> tuple[str, list[dict]]:
    system, user = render_pair(match, game) if match.pairwise else render_single(match)
    return user, judge_messages(system, user, system_in_user=cfg.system_in_user)


def estimate(matches: list[Match], out_dir: Path, cfg: JudgeConfig) -> dict:
    """Calls and tokens a run would spend, before spending (about 4 characters per token)."""
    pairwise = bool(matches) and matches[0].pairwise
    todo = plan(matches, JudgmentStore(out_dir, cfg.judge_id, pairwise))
    calls = sum(len(g) for _, g in todo)
    chars = sum(sum(len(x["content"]) for x in render_game(m, g, cfg)[1]) for m, games in todo for g in games)
    return {
        "judge": cfg.endpoint.model,
        "matches": len(matches),
        "matches_already_judged": len(matches) - len(todo),
        "calls": calls,
        "est_prompt_tokens": chars // 4,
        "est_completion_tokens": calls * min(ASSUMED_JUDGMENT_TOKENS, cfg.max_tokens),
        "max_completion_tokens": calls * cfg.max_tokens,
    }


async def _play_all(todo, store: JudgmentStore, cfg: JudgeConfig, stats: JudgeStats, progress: bool) -> None:
    from tqdm.auto import tqdm

    client = cfg.endpoint.async_client()
    sem = asyncio.Semaphore(max(1, cfg.concurrency))
    bar = tqdm(total=sum(len(g) for _, g in todo), desc=f"judging ({cfg.judge_id})", disable=not progress)
    journal = JsonlAppender(store.journal) if store.pairwise else None
    lines = JsonlAppender(store.path)

    async def game(match: Match, g: int) -> dict:
        user, messages = render_game(match, g, cfg)
        async with sem:
            text, usage, error = await call_judge(client, cfg, messages)
        stats.calls += 1
        rec = {"user_prompt": user, "judgment": text, "error": error, "usage": usage}
        if usage:
            stats.prompt_tokens += usage.get("prompt_tokens") or 0
            stats.completion_tokens += usage.get("completion_tokens") or 0
        if error:
            stats.api_errors += 1
            stats.errors.append(f"{match.key} game {g}: {error}")
        if match.pairwise:
            verdict = "error" if error else parse_pair_verdict(text, match.prompt["output_format"])
            rec["winner"] = game_winner(verdict, g)
            stats.parse_errors += int(verdict == "error" and not error)
            journal.write({"key": list(match.key), "game": g, "prompt_name": match.prompt["name"], **rec})
        else:
            rec["score"] = -1 if error else parse_rating(text)
            stats.parse_errors += int(rec["score"] == -1 and not error)
        bar.update()
        return rec

    async def play(match: Match, missing: list[int]) -> None:
        played = await asyncio.gather(*(game(match, g) for g in missing))
        games = {g: store.done[(match.key, g)] for g in (1, 2, 0) if (match.key, g) in store.done}
        games.update(dict(zip(missing, played, strict=True)))
        lines.write(_pair_line(match, cfg, games) if match.pairwise else _single_line(match, cfg, games[0]))

    tasks = [asyncio.ensure_future(play(m, missing)) for m, missing in todo]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        bar.close()
        lines.close()
        if journal:
            journal.close()
        await client.close()


def run_judging(
    matches: list[Match], out_dir: Path, cfg: JudgeConfig, *, progress: bool = True
) -> JudgeStats:
    """Play every match not already on disk; returns counts (errors included, never raised)."""
    if not matches:
        return JudgeStats()
    store = JudgmentStore(out_dir, cfg.judge_id, matches[0].pairwise)
    todo = plan(matches, store)
    stats = JudgeStats(matches=len(matches), already_done=len(matches) - len(todo))
    t0 = time.perf_counter()
    if todo:
        run_sync(_play_all(todo, store, cfg, stats, progress))
    store.compact()
    store.journal.unlink(missing_ok=True)  # every finished game is now in the FastChat file
    stats.wall_s = round(time.perf_counter() - t0, 3)
    for e in stats.errors[:5]:
        print(f"judge error: {e}", file=sys.stderr)
    return stats
