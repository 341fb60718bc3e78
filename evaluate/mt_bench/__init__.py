"""MT-Bench (FastChat's method and files): answers → judge → results. `python -m tunebench.evaluate.mt_bench`.

The public entry points (what bench/ and other callers may use): one frozen config per command and
one function per step.
"""

from tunebench.evaluate.mt_bench.config import (
    AnswerConfig,
    AnswersCommand,
    JudgeCommand,
    JudgeConfig,
    QuestionsConfig,
    ResultsCommand,
    RunCommand,
    resolve_judge,
)
from tunebench.evaluate.mt_bench.pipeline import answers, judge, results, run
from tunebench.evaluate.mt_bench.sample import SAMPLE_REFERENCES, sample_questions, write_sample_questions

__all__ = [
    "SAMPLE_REFERENCES",
    "AnswerConfig",
    "AnswersCommand",
    "JudgeCommand",
    "JudgeConfig",
    "QuestionsConfig",
    "ResultsCommand",
    "RunCommand",
    "answers",
    "judge",
    "resolve_judge",
    "results",
    "run",
    "sample_questions",
    "write_sample_questions",
]
