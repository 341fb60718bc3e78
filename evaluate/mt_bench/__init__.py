"""MT-Bench (FastChat's method and files): answers → judge → results. `python -m tunebench.evaluate.mt_bench`."""
