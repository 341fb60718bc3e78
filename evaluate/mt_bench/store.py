"""Judgments on disk: FastChat's file (one line per match), the journal of finished games and the lines
set aside in `stale/`, and which of them hold for a match's current inputs
(`fingerprints.judgment_inputs`): the same inputs are never judged twice, wherever the judgment lies."""

from __future__ import annotations

from pathlib import Path

from tunebench.data.jsonl import JsonlAppender, read_jsonl
from tunebench.evaluate.mt_bench.data import API_ERROR_OUTPUT, answer_turns
from tunebench.evaluate.mt_bench.fingerprints import answer_digest, set_aside, stale_files
from tunebench.evaluate.mt_bench.matches import Match, render_pair, render_single
from tunebench.runs.atomic_io import atomic_write_jsonl


def judgment_file(out_dir: Path, judge_id: str, pairwise: bool) -> Path:
    return Path(out_dir) / "model_judgment" / f"{judge_id}_{'pair' if pairwise else 'single'}.jsonl"


def results_dir(out_dir: Path, judge_id: str, mode: str) -> Path:
    """Where one judge's results in one mode go: results/<judge>/<mode>/ (another judge or mode written
    to the same folder never overwrites them)."""
    return Path(out_dir) / "results" / judge_id / mode


def _key_of(row: dict, pairwise: bool) -> tuple:
    if pairwise:
        return (row["question_id"], row["model_1"], row["model_2"], row["turn"])
    return (row["question_id"], row["model"], row["turn"])


def games_of(match: Match) -> tuple[int, ...]:
    return (1, 2) if match.pairwise else (0,)


def changed_answers(row: dict, answers: dict[str, dict[int, dict]]) -> set[str]:
    """The models whose answers a judgment row judged are no longer the ones on disk (empty: current),
    by the answers' hashes the row records, or (a row written before they were recorded) by its prompt
    showing every turn it judged."""
    qid, turn = row["question_id"], row["turn"]
    models = (row["model_1"], row["model_2"]) if "model_1" in row else (row["model"],)
    recorded = row.get("answer_digests")
    shown = row.get("g1_user_prompt", row.get("user_prompt")) or ""
    changed = set()
    for m in models:
        now = answers.get(m, {}).get(qid)
        if now is None:
            changed.add(m)
        elif recorded is not None:
            if recorded.get(m) != answer_digest(now):
                changed.add(m)
        elif not all(t in shown for t in answer_turns(now)[:turn]):
            changed.add(m)
    return changed


class JudgmentStore:
    """What is on disk: the FastChat file's latest line per match, the journal's finished games, and
    which of them still hold for a match's current inputs (`fingerprints.judgment_inputs`)."""

    def __init__(self, out_dir: Path, judge_id: str, pairwise: bool):
        self.pairwise = pairwise
        self.path = judgment_file(out_dir, judge_id, pairwise)
        self.journal = self.path.parent / "journal" / self.path.name
        self.rows: dict[tuple, dict] = {_key_of(r, pairwise): r for r in read_jsonl(self.path)}
        self.journal_games: dict[tuple, dict] = {}  # (match key, game) -> game record
        for rec in read_jsonl(self.journal):
            if rec["judgment"] != API_ERROR_OUTPUT:
                self.journal_games[(tuple(rec["key"]), rec["game"])] = rec

    def _game_from_line(self, row: dict, game: int) -> dict:
        if not self.pairwise:
            return {k: row.get(k) for k in ("user_prompt", "judgment", "score", "error", "usage", "inputs")}
        p = f"g{game}_"
        return {
            "user_prompt": row[p + "user_prompt"],
            "judgment": row[p + "judgment"],
            "winner": row[p + "winner"],
            "error": row.get(p + "error"),
            "usage": row.get(p + "usage"),
            "inputs": row.get("inputs"),
        }

    def is_current(self, row: dict, match: Match, inputs: str) -> bool:
        if "inputs" in row:
            return row["inputs"] == inputs
        # A line written before inputs were recorded: current when it showed the judge the same prompt.
        game = games_of(match)[0]
        shown = row.get("g1_user_prompt" if match.pairwise else "user_prompt")
        system, user = render_pair(match, game) if match.pairwise else render_single(match)
        return shown == user

    def games_on_disk(self, match: Match, inputs: str) -> dict[int, dict]:
        """The finished games of `match` for these inputs (API errors are not finished)."""
        games = {}
        row = self.rows.get(match.key)
        if row is not None and self.is_current(row, match, inputs):
            for g in games_of(match):
                rec = self._game_from_line(row, g)
                if rec["judgment"] != API_ERROR_OUTPUT:
                    games[g] = rec
        for g in games_of(match):
            rec = self.journal_games.get((match.key, g))
            if rec is not None and rec.get("inputs") == inputs:
                games.setdefault(g, rec)
        return games

    def is_complete(self, match: Match, inputs: str) -> bool:
        if len(self.games_on_disk(match, inputs)) == len(games_of(match)):
            return True
        if not self.pairwise:
            return False
        # The same pair judged the other way round (pairwise-all vs -baseline) already holds both orders.
        q, m1, m2, turn = match.key
        row = self.rows.get((q, m2, m1, turn))
        return (
            row is not None
            and row.get("inputs") == inputs
            and API_ERROR_OUTPUT not in (row["g1_judgment"], row["g2_judgment"])
        )

    def stale_rows(self, matches: list[Match], inputs: dict[tuple, str]) -> list[dict]:
        """Lines of these matches judged on other inputs (the answers, reference or prompt changed)."""
        return [
            self.rows[m.key]
            for m in matches
            if m.key in self.rows and not self.is_current(self.rows[m.key], m, inputs[m.key])
        ]

    def restore(self, matches: list[Match], inputs: dict[tuple, str]) -> int:
        """Lines set aside in stale/ whose inputs are a match's current ones, back into the file (the
        match has no current line): the same inputs, no new call. Returns how many."""
        missing = {
            m.key: inputs[m.key]
            for m in matches
            if m.key not in self.rows or not self.is_current(self.rows[m.key], m, inputs[m.key])
        }
        if not missing:
            return 0
        found: dict[tuple, dict] = {}
        for path in stale_files(self.path):
            for row in read_jsonl(path):
                key = _key_of(row, self.pairwise)
                if missing.get(key) is not None and row.get("inputs") == missing[key]:
                    found[key] = row  # the latest set-aside copy wins
        if found:
            with JsonlAppender(self.path) as out:
                for key, row in found.items():
                    out.write(row)
                    self.rows[key] = row
        return len(found)

    def drop_journal(self, matches: list[Match]) -> None:
        """Forget the journal's games of `matches` (their lines are in the file now); keep the rest."""
        if not self.journal.exists():
            return
        done = {m.key for m in matches}
        keep = [r for r in read_jsonl(self.journal) if tuple(r["key"]) not in done]
        if keep:
            atomic_write_jsonl(self.journal, keep)
        else:
            self.journal.unlink()

    def set_aside(self, stale: list[dict]) -> Path | None:
        keys = {_key_of(r, self.pairwise) for r in stale}
        for k in keys:
            del self.rows[k]
        return set_aside(self.path, stale, list(self.rows.values()))

    def compact(self) -> None:
        """One line per match (the latest), atomically; FastChat's readers then count each once."""
        rows = read_jsonl(self.path)
        latest = {_key_of(r, self.pairwise): r for r in rows}
        atomic_write_jsonl(self.path, latest.values())
