"""Text-to-SQL evaluation: generate → execute (sandbox) → score → report. `python -m tunebench.evaluate.sql`."""
