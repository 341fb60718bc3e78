"""The judging loop: FastChat's matches played through the `openai>=1` client, at most
`concurrency` calls at a time (`tunebench.chat.map_bounded`).

Any OpenAI-compatible judge works (OpenAI, vLLM, TGI, `transformers serve`, Anthropic's OpenAI
endpoint). Robustness: the client retries 429/5xx/timeouts with backoff (`max_retries`); what still
fails gets `retry_rounds` more tries with a longer backoff, then is recorded as FastChat's `$ERROR$`
judgment (counted, never fatal; a rerun tries it again since it was never paid for). Bad keys or an
unknown judge model stop the run at once: every call would fail the same way.

Resumable: each finished game (one judge call) is appended to a journal and flushed, and each match
whose two games are done is appended to `model_judgment/<judge>_pair.jsonl` in FastChat's format.
A rerun makes no call for a game already on disk; the final file has every match exactly once; the
journal keeps the games of matches outside the run. Content-addressed: a match whose inputs equal
those of a judgment set aside in `stale/` gets that judgment back, never a new call. Ctrl-C stops
sending at once, lets the calls in flight finish (they are paid for) and keeps every finished game.
An empty reply is no verdict: it is retried like a failed call. `JudgeStats.games` counts games
played, `requests` the HTTP requests the server answered for them (retries included: what a paid
API bills).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tunebench.chat import map_bounded
from tunebench.data.jsonl import JsonlAppender
from tunebench.evaluate.mt_bench.config import JudgeConfig
from tunebench.evaluate.mt_bench.data import API_ERROR_OUTPUT
from tunebench.evaluate.mt_bench.fingerprints import answer_digest, judgment_inputs
from tunebench.evaluate.mt_bench.matches import (
    Match,
    game_winner,
    judge_messages,
    parse_pair_verdict,
    parse_rating,
    render_pair,
    render_single,
)
from tunebench.evaluate.mt_bench.store import JudgmentStore, games_of

ASSUMED_JUDGMENT_TOKENS = 300  # a typical GPT-4 MT-Bench judgment; only for the dry-run estimate


class EmptyReply(Exception):
    """A 200 answer without text: no verdict, tried again like a failed call."""


class FatalJudgeError(RuntimeError):
    """The judge cannot answer any call (bad key, unknown model): stop instead of recording errors."""


class JudgingInterrupted(KeyboardInterrupt):
    """Ctrl-C during judging, already reported to the user in one line."""


class AllGamesFailed(RuntimeError):
    """Every game of a run came back an API error: nothing was judged."""


@dataclass
class JudgeStats:
    matches: int = 0
    already_done: int = 0
    stale: int = 0
    restored: int = 0  # matches whose judgment came back from stale/ (the same inputs)
    games: int = 0  # judge calls made (one per game)
    requests: int = 0  # HTTP requests the server answered for them, the client's retries included
    api_errors: int = 0
    parse_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)


def call_judge(client, cfg: JudgeConfig, messages: list[dict]) -> tuple[str, dict | None, str | None]:
    """(judgment, usage, error). Retries what the client gave up on; never raises for one bad call."""
    import openai

    last: Exception | None = None
    for attempt in range(cfg.retry_rounds + 1):
        try:
            resp = client.chat.completions.create(
                model=cfg.endpoint.model,
                messages=messages,
                n=1,
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
            )
            usage = resp.usage.model_dump() if resp.usage else None
            text = resp.choices[0].message.content or ""
            if text.strip():
                return text, usage, None
            last = EmptyReply("the judge returned an empty reply")
            if attempt < cfg.retry_rounds:
                time.sleep(cfg.retry_wait_s * (2**attempt) * (0.75 + 0.5 * random.random()))
            continue
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
            raise FatalJudgeError(f"judge {cfg.endpoint.model} at {cfg.endpoint.base_url}: {e}") from e
        except openai.BadRequestError as e:  # e.g. a prompt over the context limit: retrying won't help
            return API_ERROR_OUTPUT, None, f"{type(e).__name__}: {e}"
        except (openai.APIStatusError, openai.APITimeoutError, openai.APIConnectionError) as e:
            last = e
            if attempt < cfg.retry_rounds:
                time.sleep(cfg.retry_wait_s * (2**attempt) * (0.75 + 0.5 * random.random()))
        except Exception as e:  # noqa: BLE001 - e.g. a malformed response body: one judgment lost, not the run
            return API_ERROR_OUTPUT, None, f"{type(e).__name__}: {e}"
    return API_ERROR_OUTPUT, None, f"{type(last).__name__}: {last}"


def _pair_line(match: Match, cfg: JudgeConfig, games: dict[int, dict], inputs: str) -> dict:
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
    line["inputs"] = inputs
    line["answer_digests"] = {m: answer_digest(a) for m, a in zip(match.models, match.answers, strict=True)}
    return line


def _single_line(match: Match, cfg: JudgeConfig, rec: dict, inputs: str) -> dict:
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
        "inputs": inputs,
        "answer_digests": {model: answer_digest(match.answers[0])},
    }


def match_inputs(matches: list[Match], cfg: JudgeConfig) -> dict[tuple, str]:
    return {m.key: judgment_inputs(cfg.endpoint.model, m) for m in matches}


def plan(
    matches: list[Match], store: JudgmentStore, inputs: dict[tuple, str]
) -> list[tuple[Match, list[int]]]:
    """The games still to play: (match, missing games); complete matches cost nothing."""
    todo = []
    for m in matches:
        if store.is_complete(m, inputs[m.key]):
            continue
        on_disk = store.games_on_disk(m, inputs[m.key])
        todo.append((m, [g for g in games_of(m) if g not in on_disk]))
    return todo


def render_game(match: Match, game: int, cfg: JudgeConfig) -> tuple[str, list[dict]]:
    system, user = render_pair(match, game) if match.pairwise else render_single(match)
    return user, judge_messages(system, user, system_in_user=cfg.system_in_user)


def estimate(matches: list[Match], out_dir: Path, cfg: JudgeConfig) -> dict:
    """Calls and tokens a run would spend, before spending (about 4 characters per token)."""
    pairwise = bool(matches) and matches[0].pairwise
    store = JudgmentStore(out_dir, cfg.judge_id, pairwise)
    inputs = match_inputs(matches, cfg)
    todo = plan(matches, store, inputs)
    calls = sum(len(g) for _, g in todo)
    chars = sum(sum(len(x["content"]) for x in render_game(m, g, cfg)[1]) for m, games in todo for g in games)
    return {
        "judge": cfg.endpoint.model,
        "matches": len(matches),
        "matches_already_judged": len(matches) - len(todo),
        "matches_stale": len(store.stale_rows(matches, inputs)),
        "calls": calls,
        "est_prompt_tokens": chars // 4,
        "est_completion_tokens": calls * min(ASSUMED_JUDGMENT_TOKENS, cfg.max_tokens),
        "max_completion_tokens": calls * cfg.max_tokens,
    }


class _Player:
    """Plays games on worker threads (`map_bounded`); writes each finished game to the journal and each
    match whose games are all done to the FastChat file, under one lock."""

    def __init__(self, store: JudgmentStore, cfg: JudgeConfig, stats: JudgeStats, inputs: dict[tuple, str]):
        self.store, self.cfg, self.stats, self.inputs = store, cfg, stats, inputs
        # One client (one connection pool) for every thread; it counts the HTTP requests it sends.
        self.client = cfg.endpoint.client(on_request=self._count_request)
        self.lock = threading.Lock()
        self.stop = threading.Event()  # set by a fatal error: the games not yet started are skipped
        self.played: dict[tuple, dict[int, dict]] = {}
        self.journal = JsonlAppender(store.journal) if store.pairwise else None
        self.lines = JsonlAppender(store.path)

    def _count_request(self) -> None:
        with self.lock:
            self.stats.requests += 1

    def play(self, item: tuple[Match, int, int]) -> None:
        match, game, n_missing = item
        if self.stop.is_set():
            return
        user, messages = render_game(match, game, self.cfg)
        try:
            text, usage, error = call_judge(self.client, self.cfg, messages)
        except FatalJudgeError:
            self.stop.set()
            raise
        rec = {"user_prompt": user, "judgment": text, "error": error, "usage": usage}
        rec["inputs"] = self.inputs[match.key]
        if match.pairwise:
            verdict = "error" if error else parse_pair_verdict(text, match.prompt["output_format"])
            rec["winner"] = game_winner(verdict, game)
        else:
            rec["score"] = -1 if error else parse_rating(text)
        with self.lock:
            self._count(match, game, rec, unparseable=not error and self._unparseable(match, rec))
            if self.journal is not None:
                self.journal.write(
                    {"key": list(match.key), "game": game, "prompt_name": match.prompt["name"], **rec}
                )
            played = self.played.setdefault(match.key, {})
            played[game] = rec
            if len(played) == n_missing:
                self._finish(match, played)

    @staticmethod
    def _unparseable(match: Match, rec: dict) -> bool:
        return rec["winner"] == "error" if match.pairwise else rec["score"] == -1

    def _count(self, match: Match, game: int, rec: dict, *, unparseable: bool) -> None:
        s = self.stats
        s.games += 1
        usage = rec["usage"] or {}
        s.prompt_tokens += usage.get("prompt_tokens") or 0
        s.completion_tokens += usage.get("completion_tokens") or 0
        if rec["error"]:
            s.api_errors += 1
            s.errors.append(f"{match.key} game {game}: {rec['error']}")
        s.parse_errors += int(unparseable)

    def _finish(self, match: Match, played: dict[int, dict]) -> None:
        inputs = self.inputs[match.key]
        games = {**self.store.games_on_disk(match, inputs), **played}
        if match.pairwise:
            self.lines.write(_pair_line(match, self.cfg, games, inputs))
        else:
            self.lines.write(_single_line(match, self.cfg, games[0], inputs))

    def close(self) -> None:
        self.lines.close()
        if self.journal is not None:
            self.journal.close()
        self.client.close()


def _interrupted(in_flight: int) -> None:
    from tqdm.auto import tqdm

    tqdm.write(  # above the progress bar, on a line of its own
        f"interrupted: nothing new is sent; {in_flight} judge call(s) in flight finish and every finished "
        "judgment is kept on disk. Rerun the same command to go on (nothing is paid for twice).",
        file=sys.stderr,
    )
    sys.stderr.flush()


def run_judging(
    matches: list[Match], out_dir: Path, cfg: JudgeConfig, *, progress: bool = True
) -> JudgeStats:
    """Play every match not already on disk; returns counts (errors included, never raised)."""
    if not matches:
        return JudgeStats()
    store = JudgmentStore(out_dir, cfg.judge_id, matches[0].pairwise)
    inputs = match_inputs(matches, cfg)
    stale = store.stale_rows(matches, inputs)
    if stale:
        aside = store.set_aside(stale)
        print(
            f"judgments: {len(stale)} stale (judged on other answers, references or prompts), "
            f"kept in {aside}; judging them again unless judged before on the same inputs"
        )
    restored = store.restore(matches, inputs)
    if restored:
        print(
            f"judgments: {restored} brought back from {store.path.parent / 'stale'} (the same inputs, no call)"
        )
    todo = plan(matches, store, inputs)
    stats = JudgeStats(
        matches=len(matches), already_done=len(matches) - len(todo), stale=len(stale), restored=restored
    )
    t0 = time.perf_counter()
    if todo:
        player = _Player(store, cfg, stats, inputs)
        games = [(m, g, len(missing)) for m, missing in todo for g in missing]
        try:
            map_bounded(
                player.play,
                games,
                concurrency=cfg.concurrency,
                progress=progress,
                desc=f"judging ({cfg.judge_id})",
                on_interrupt=_interrupted,
            )
        except KeyboardInterrupt:
            raise JudgingInterrupted() from None
        finally:
            player.close()
    store.compact()
    store.drop_journal(matches)  # this run's games are in the FastChat file; others' stay
    stats.wall_s = round(time.perf_counter() - t0, 3)
    for e in stats.errors[:5]:
        print(f"judge error: {e}", file=sys.stderr)
    return stats


def check_some_judged(stats: JudgeStats) -> None:
    """A run whose every game came back an API error judged nothing: it fails (after its counts)."""
    if stats.games and stats.api_errors == stats.games:
        raise AllGamesFailed(
            f"every one of the {stats.games} judge calls failed ({stats.errors[0]}); nothing was judged. "
            "They are recorded as $ERROR$ and tried again by the next run."
        )
