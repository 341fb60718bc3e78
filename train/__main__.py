"""`python -m tunebench.train --config recipes/X.yaml [--key=value …]`

A mistake in the recipe or the command line, bad data (the file, row and field), a used run folder, an
unreachable hub id or a base rebuilt under the run print one line and exit 2; Ctrl-C prints where the
last checkpoint is and the command that resumes from it, and exits 130."""

from __future__ import annotations

import logging
import shlex
import sys

# bitsandbytes looks for an optional faster CPU 4-bit kernel on the hub when imported, and says at
# WARNING level that it fell back to its own when the hub is off: noise before every run's first line.
for _name in ("bitsandbytes.backends.cpu.ops", "kernels._internals.hf_hub"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def main(argv=None) -> int:
    from tunebench.bases.gguf import GgufError
    from tunebench.data.formats import DataFormatError
    from tunebench.hub import HubUnavailable
    from tunebench.train.merging import BaseChanged
    from tunebench.train.recipe import RecipeError, parse_recipe
    from tunebench.train.run import Interrupted, RunFolderError, train

    argv = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(
        ["python", "-m", "tunebench.train", *(a for a in argv if not a.startswith("--resume"))]
    )
    try:
        run = train(parse_recipe(argv), command=command)
    except (RecipeError, DataFormatError, RunFolderError, HubUnavailable, BaseChanged, GgufError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before training began (loading data or the model)
        print("\ninterrupted before training began: nothing was trained", file=sys.stderr)
        return 130
    print(f"merged model: {run.merged}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
