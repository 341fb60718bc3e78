"""`python -m tunebench.train --config recipes/X.yaml [--key=value …]`

Bad data (the file, row and field) and a base rebuilt under the run print one line and exit 2."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from tunebench.data.formats import DataFormatError
    from tunebench.train.merging import BaseChanged
    from tunebench.train.preference import parse_recipe as parse  # SFT recipes: args.parse
    from tunebench.train.run import train

    tb, sft, model_args, resolved = parse(argv)
    try:
        run = train(tb, sft, model_args, resolved)
    except (DataFormatError, BaseChanged) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"merged model: {run.merged}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
