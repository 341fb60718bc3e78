"""FastChat's judging logic, re-stated for the `openai>=1` client: which prompt judges which question,
how a prompt is rendered, and how a verdict is parsed.

Source: fastchat/llm_judge/gen_judgment.py (make_judge_*, make_match*) and common.py (run_judge_*,
the score regexes, TIE_DELTA). That module imports `anthropic` and calls the removed pre-1.0 OpenAI
API, so its rules are reproduced here; tests compare them with its source text.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from tunebench.evaluate.mt_bench.data import NEED_REF_CATS, answer_turns

TIE_DELTA = 0.1
two_score_pattern = re.compile(r"\[\[(\d+\.?\d*),\s?(\d+\.?\d*)\]\]")
two_score_pattern_backup = re.compile(r"\[(\d+\.?\d*),\s?(\d+\.?\d*)\]")
one_score_pattern = re.compile(r"\[\[(\d+\.?\d*)\]\]")
one_score_pattern_backup = re.compile(r"\[(\d+\.?\d*)\]")

MODES = ("pairwise-baseline", "pairwise-all", "single")
HELPFUL = "You are a helpful assistant."


class MissingDataError(ValueError):
    """An answer or reference the judge needs is not on disk (raised before any call is made)."""


@dataclass(frozen=True)
class Match:
    question: dict
    prompt: dict  # one row of judge_prompts.jsonl
    models: tuple[str, ...]  # (model_1, model_2) for pairwise, (model,) for single
    answers: tuple[dict, ...]
    ref: dict | None
    multi_turn: bool

    @property
    def pairwise(self) -> bool:
        return self.prompt["type"] == "pairwise"

    @property
    def turn(self) -> int:
        return 2 if self.multi_turn else 1

    @property
    def key(self) -> tuple:
        return (self.question["question_id"], *self.models, self.turn)


def needs_reference(category: str) -> bool:
    return category in NEED_REF_CATS


def prompt_name(kind: str, category: str, multi_turn: bool) -> str:
    """make_judge_pairwise / make_judge_single: general or reference-guided, single- or multi-turn."""
    base = {"pairwise": ("pair-v2", "pair-math-v1"), "single": ("single-v1", "single-math-v1")}[kind]
    name = base[1] if needs_reference(category) else base[0]
    return name + ("-multi-turn" if multi_turn else "")


def mode_kind(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return "single" if mode == "single" else "pairwise"


def model_pairs(mode: str, models: list[str], baseline: str | None) -> list[tuple[str, ...]]:
    if mode == "single":
        return [(m,) for m in models]
    if mode == "pairwise-all":
        return [(models[i], models[j]) for i in range(len(models)) for j in range(i + 1, len(models))]
    if not baseline:
        raise ValueError("pairwise-baseline needs a baseline model")
    return [(m, baseline) for m in models if m != baseline]


def make_matches(
    mode: str,
    questions: list[dict],
    models: list[str],
    answers: dict[str, dict[int, dict]],
    prompts: dict[str, dict],
    refs: dict[int, dict] | None,
    baseline: str | None = None,
    *,
    answer_files: dict[str, str] | None = None,
) -> list[Match]:
    """All matches, in gen_judgment.py's order: general, reference-guided, then both multi-turn."""
    kind = mode_kind(mode)
    pairs = model_pairs(mode, models, baseline)
    needed = sorted({m for p in pairs for m in p})
    for m in needed:  # FastChat's check_data, with the file to fix in the message
        where = (answer_files or {}).get(m, f"model_answer/{m}.jsonl")
        if m not in answers:
            raise MissingDataError(f"no answers for model {m!r} ({where}): generate them first")
        missing = [q["question_id"] for q in questions if q["question_id"] not in answers[m]]
        if missing:
            raise MissingDataError(f"{where}: no answer to question(s) {missing[:10]}")
        short = [
            q["question_id"]
            for q in questions
            if len(answer_turns(answers[m][q["question_id"]])) < len(q["turns"])
        ]
        if short:
            raise MissingDataError(
                f"{where}: fewer answer turns than the question has, question(s) {short[:10]}"
            )
    matches = []
    for multi_turn in (False, True):
        for ref_based in (False, True):
            for q in questions:
                if needs_reference(q["category"]) != ref_based or (multi_turn and len(q["turns"]) != 2):
                    continue
                name = prompt_name(kind, q["category"], multi_turn)
                if name not in prompts:
                    raise MissingDataError(f"judge prompts: no prompt named {name!r}")
                ref = None
                if ref_based:
                    ref = (refs or {}).get(q["question_id"])
                    if ref is None:
                        raise MissingDataError(f"no reference answer to question {q['question_id']}")
                for pair in pairs:
                    ans = tuple(answers[m][q["question_id"]] for m in pair)
                    matches.append(Match(dict(q), prompts[name], pair, ans, ref, multi_turn))
    return matches


def _ref_kwargs(match: Match) -> dict:
    if match.ref is None:
        return {}
    ref = answer_turns(match.ref)
    kw = {"ref_answer_1": ref[0]}
    if match.multi_turn:
        kw["ref_answer_2"] = ref[1]
    return kw


def render_pair(match: Match, game: int) -> tuple[str, str]:
    """(system, user) of game 1 (A = model_1) or game 2 (A = model_2, the swapped order)."""
    a, b = match.answers if game == 1 else match.answers[::-1]
    q, ta, tb = match.question["turns"], answer_turns(a), answer_turns(b)
    template = match.prompt["prompt_template"]
    if match.multi_turn:
        user = template.format(
            question_1=q[0],
            question_2=q[1],
            answer_a_1=ta[0],
            answer_b_1=tb[0],
            answer_a_2=ta[1],
            answer_b_2=tb[1],
            **_ref_kwargs(match),
        )
    else:
        user = template.format(question=q[0], answer_a=ta[0], answer_b=tb[0], **_ref_kwargs(match))
    return match.prompt["system_prompt"], user


def render_single(match: Match) -> tuple[str, str]:
    q, t = match.question["turns"], answer_turns(match.answers[0])
    template = match.prompt["prompt_template"]
    if match.multi_turn:
        user = template.format(
            question_1=q[0], question_2=q[1], answer_1=t[0], answer_2=t[1], **_ref_kwargs(match)
        )
    else:
        user = template.format(question=q[0], answer=t[0], **_ref_kwargs(match))
    return match.prompt["system_prompt"], user


def judge_messages(system: str, user: str, *, system_in_user: bool = False) -> list[dict]:
    """OpenAI-style messages. `system_in_user` folds the system prompt into the user turn the way
    FastChat does for judges without a system role (its Anthropic path)."""
    if system_in_user:
        if system != HELPFUL:
            user = "[Instruction]\n" + system + "\n\n" + user
        return [{"role": "user", "content": user}]
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_pair_verdict(judgment: str, output_format: str = "[[A]]") -> str:
    """'A', 'B', 'tie' or 'error', exactly as run_judge_pair decides."""
    if output_format == "[[A]]":
        if "[[A]]" in judgment:
            return "A"
        if "[[B]]" in judgment:
            return "B"
        if "[[C]]" in judgment:
            return "tie"
        return "error"
    if output_format == "[[rating_a,rating_b]]":
        m = re.search(two_score_pattern, judgment) or re.search(two_score_pattern_backup, judgment)
        if not m:
            return "error"
        sa, sb = (ast.literal_eval(s.strip()) for s in m.groups())
        if abs(sa - sb) <= TIE_DELTA:
            return "tie"
        return "A" if sa > sb else "B"
    raise ValueError(f"invalid output format: {output_format}")


def parse_rating(judgment: str) -> float:
    """The [[rating]] of a single-answer judgment, -1 when there is none (run_judge_single)."""
    m = re.search(one_score_pattern, judgment) or re.search(one_score_pattern_backup, judgment)
    return ast.literal_eval(m.groups()[0]) if m else -1


# Game winners in model terms (play_a_match_pair): game 2 showed the answers swapped.
G1_MAP = {"A": "model_1", "B": "model_2"}
G2_MAP = {"A": "model_2", "B": "model_1"}


def game_winner(verdict: str, game: int) -> str:
    return (G1_MAP if game == 1 else G2_MAP).get(verdict, verdict)
