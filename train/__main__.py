"""`python -m tunebench.train --config recipes/X.yaml [--key=value …]`"""

from __future__ import annotations

import sys


def main(argv=None):
    from tunebench.train.preference import parse_recipe as parse  # SFT recipes: args.parse
    from tunebench.train.run import train

    tb, sft, model_args, resolved = parse(argv)
    run = train(tb, sft, model_args, resolved)
    print(f"merged model: {run.merged}")


if __name__ == "__main__":
    main(sys.argv[1:])
