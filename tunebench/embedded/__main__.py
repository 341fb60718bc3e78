"""`python -m tunebench.embedded`: build the embedded dataset and tiny base model (idempotent)."""

from __future__ import annotations

import argparse

from tunebench.embedded.sqlgen import build_sql_dataset
from tunebench.embedded.tiny_model import build_tiny_base
from tunebench.paths import embedded_sql_dir, tiny_base_dir


def build_embedded(seed: int = 0, force: bool = False):
    data = build_sql_dataset(embedded_sql_dir(), seed=seed, force=force)
    model = build_tiny_base(tiny_base_dir(), data, seed=seed, force=force)
    return data, model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="rebuild even when the same build exists")
    args = ap.parse_args(argv)
    data, model = build_embedded(args.seed, args.force)
    print(f"dataset: {data}\ntiny base model: {model}")


if __name__ == "__main__":
    main()
