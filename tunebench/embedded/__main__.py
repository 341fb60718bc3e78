"""`python -m tunebench.embedded`: build the embedded dataset and tiny base model (idempotent)."""

from __future__ import annotations

import argparse

from tunebench.embedded import build_embedded


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="rebuild even when the same build exists")
    args = ap.parse_args(argv)
    data, model = build_embedded(args.seed, args.force)
    print(f"dataset: {data}\ntiny base model: {model}")


if __name__ == "__main__":
    main()
