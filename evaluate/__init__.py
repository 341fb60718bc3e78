"""Stage 2: evaluation (MT-Bench judging, text-to-SQL execution accuracy)."""
