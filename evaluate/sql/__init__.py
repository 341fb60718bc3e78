"""Text-to-SQL evaluation: generate → execute (sandbox) → score → report.

Public entry points (what bench/ and other callers may use): `run_evaluation(EvalConfig)`,
`load_embedded` and `SqlExample`; the command line is `python -m tunebench.evaluate.sql`.
"""
