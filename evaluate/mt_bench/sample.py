"""A small questions folder that tunebench writes itself, in FastChat's MT-Bench formats.

Its questions and judge prompts are tunebench's own (one question per MT-Bench category, the eight
prompt names FastChat's judge selects, with the same placeholders and verdict formats), so the
whole chain runs offline: tests, the smoke run and the concurrency benchmark use it. Real
evaluations use FastChat's files (`--questions-dir` or the pinned download).
"""

from __future__ import annotations

import time
from pathlib import Path

from tunebench.runs.atomic_io import atomic_write_jsonl

SAMPLE_QUESTIONS = [
    ("writing", ["Write a four-line poem about a lighthouse.", "Now rewrite it so every line rhymes."]),
    (
        "roleplay",
        ["Pretend you are a ship's cook. Greet the crew.", "A sailor complains about the soup. Reply."],
    ),
    (
        "reasoning",
        ["Tom is taller than Ann. Ann is taller than Bo. Who is shortest?", "Is Tom taller than Bo?"],
    ),
    ("math", ["What is 12 * 7?", "Now add 16 to that result."]),
    ("coding", ["Write a Python function that reverses a string.", "Make it also strip whitespace."]),
    ("extraction", ["List the numbers in: 'three cats, 4 dogs, 12 fish'.", "Return them as JSON."]),
    ("stem", ["Why is the sky blue? Answer in two sentences.", "Why are sunsets red, then?"]),
    ("humanities", ["Name one cause of the French Revolution.", "Name one of its consequences."]),
]
SAMPLE_REFERENCES = {
    "reasoning": ["Bo is the shortest.", "Yes, Tom is taller than Bo."],
    "math": ["12 * 7 = 84.", "84 + 16 = 100."],
    "coding": ["def rev(s):\n    return s[::-1]", "def rev(s):\n    return s.strip()[::-1]"],
}

_PAIR_RULES = (
    "You compare two AI assistants' answers as a fair judge. Ignore the order in which they appear, their "
    'length and their names. Explain briefly, then give your verdict strictly as "[[A]]" if A is '
    'better, "[[B]]" if B is better, or "[[C]]" for a tie.'
)
_SINGLE_RULES = (
    "Judge the assistant's answer fairly and explain briefly. Then rate it from 1 to 10 strictly in the "
    'format "[[rating]]", for example "Rating: [[5]]".'
)
_A_CONV = (
    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n"
    "{answer_a_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_a_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>"
)
_B_CONV = _A_CONV.replace("Assistant A", "Assistant B").replace("answer_a_", "answer_b_")
_REF_CONV = (
    "<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n{ref_answer_1}"
    "\n\n### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n<|The End of Reference Answer|>"
)
_ONE_CONV = _A_CONV.replace("answer_a_", "answer_")


def _prompt(name: str, kind: str, system: str, template: str, category: str) -> dict:
    return {
        "name": name,
        "type": kind,
        "system_prompt": system,
        "prompt_template": template,
        "description": "tunebench sample prompt",
        "category": category,
        "output_format": "[[A]]" if kind == "pairwise" else "[[rating]]",
    }


SAMPLE_PROMPTS = [
    _prompt(
        "pair-v2",
        "pairwise",
        _PAIR_RULES,
        "[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{answer_a}\n"
        "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n"
        "[The End of Assistant B's Answer]",
        "general",
    ),
    _prompt(
        "pair-v2-multi-turn",
        "pairwise",
        _PAIR_RULES + " Focus on the answers to the second question.",
        _A_CONV + "\n\n\n" + _B_CONV,
        "general",
    ),
    _prompt(
        "pair-math-v1",
        "pairwise",
        _PAIR_RULES + " Check both answers against the reference answer.",
        "[User Question]\n{question}\n\n[The Start of Reference Answer]\n{ref_answer_1}\n"
        "[The End of Reference Answer]\n\n[The Start of Assistant A's Answer]\n{answer_a}\n"
        "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n"
        "[The End of Assistant B's Answer]",
        "math",
    ),
    _prompt(
        "pair-math-v1-multi-turn",
        "pairwise",
        _PAIR_RULES + " Check the second answers against the reference answers.",
        _REF_CONV + "\n\n\n" + _A_CONV + "\n\n\n" + _B_CONV,
        "math",
    ),
    _prompt(
        "single-v1",
        "single",
        "You are a helpful assistant.",
        "[Instruction]\n" + _SINGLE_RULES + "\n\n[Question]\n{question}\n\n"
        "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
        "general",
    ),
    _prompt(
        "single-math-v1",
        "single",
        "You are a helpful assistant.",
        "[Instruction]\n" + _SINGLE_RULES + " Compare it with the reference answer.\n\n[Question]\n{question}"
        "\n\n[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]\n\n"
        "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
        "math",
    ),
    _prompt(
        "single-v1-multi-turn",
        "single",
        _SINGLE_RULES + " Focus on the answer to the second question.\n\n",
        _ONE_CONV,
        "general",
    ),
    _prompt(
        "single-math-v1-multi-turn",
        "single",
        _SINGLE_RULES + " Compare the second answer with the reference answer.\n\n",
        _REF_CONV + "\n\n\n" + _ONE_CONV,
        "math",
    ),
]


def sample_questions(first_id: int = 1) -> list[dict]:
    return [
        {"question_id": first_id + i, "category": cat, "turns": list(turns)}
        for i, (cat, turns) in enumerate(SAMPLE_QUESTIONS)
    ]


def write_sample_questions(out_dir: str | Path, reference_judges: tuple[str, ...] = ()) -> Path:
    """Write question.jsonl, judge_prompts.jsonl and reference_answer/<judge>.jsonl for each judge id."""
    out = Path(out_dir)
    questions = sample_questions()
    atomic_write_jsonl(out / "question.jsonl", questions)
    atomic_write_jsonl(out / "judge_prompts.jsonl", SAMPLE_PROMPTS)
    for judge in reference_judges:
        rows = [
            {
                "question_id": q["question_id"],
                "answer_id": f"ref-{q['question_id']}",
                "model_id": judge,
                "choices": [{"index": 0, "turns": SAMPLE_REFERENCES[q["category"]]}],
                "tstamp": time.time(),
            }
            for q in questions
            if q["category"] in SAMPLE_REFERENCES
        ]
        atomic_write_jsonl(out / "reference_answer" / f"{judge}.jsonl", rows)
    return out
