"""Merge a run's LoRA adapter into its base and save a full model (the library is `merging.py`).

    python -m tunebench.train.merge                                   # the tiny recipe's run
    python -m tunebench.train.merge --config recipes/X.yaml           # that recipe's run
    python -m tunebench.train.merge models/<run>[/adapter] [--out DIR] [--merge-base original]

QLoRA runs merge into the NF4 base dequantized (the weights the adapter was trained against) unless
`--merge-base original`; every merge of a run prints and records its fidelity against the adapter on
its training base. An adapter folder outside a run merges into its base with the options given here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tunebench.runs.paths import RunPaths
from tunebench.train.merging import MERGE_BASES, BaseChanged, merge_adapter, merge_run
from tunebench.train.recipe import RecipeError, parse_recipe

DEFAULT_RECIPE = "recipes/tiny-text-to-sql.yaml"


def locate(target: str | None, config: str | None) -> tuple[Path, RunPaths | None]:
    """(adapter folder, its run or None) from a command line: a run folder, an adapter folder, or a
    recipe whose output_dir is the run."""
    if target:
        p = Path(target)
        if (p / "adapter_config.json").exists() and p.name != "adapter":
            return p, None  # an adapter folder outside a tunebench run
        run = RunPaths(p.parent if p.name == "adapter" else p)
    else:
        run = RunPaths(Path(parse_recipe(["--config", config or DEFAULT_RECIPE]).config.output_dir))
    return run.adapter, run if run.manifest.exists() else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.train.merge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("target", nargs="?", help="a run folder (models/<run>) or its adapter/ folder")
    ap.add_argument("--config", help=f"the recipe whose run to merge (default: {DEFAULT_RECIPE})")
    ap.add_argument("--out", type=Path, help="output folder (default: the run's merged/)")
    ap.add_argument(
        "--merge-base",
        choices=MERGE_BASES,
        help="QLoRA runs: merge into the NF4 base dequantized (default) or the original full-precision base",
    )
    ap.add_argument(
        "--fidelity-samples",
        type=int,
        help="held-out prompts to compare merged and as-trained answers on (default: the recipe's, 32; 0: skip)",
    )
    ap.add_argument("--base", help="base model id or folder, for an adapter outside a run")
    ap.add_argument("--dtype", default="auto", help="for an adapter outside a run: auto | bfloat16 | float32")
    ap.add_argument("--max-shard-size", default="2GB", help="for an adapter outside a run")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        adapter, run = locate(args.target, args.config)
    except RecipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not (adapter / "adapter_config.json").exists():
        print(
            f"error: {adapter}: no LoRA adapter here (adapter_config.json); train the run first",
            file=sys.stderr,
        )
        return 2
    if run is not None:
        try:
            merged, record = merge_run(
                run, out=args.out, merge_base=args.merge_base, fidelity_samples=args.fidelity_samples
            )
        except BaseChanged as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"merge base: {record['merge_base']} ({record['dtype']})")
        if "fidelity" in record:
            f = record["fidelity"]
            print(
                f"fidelity against {f['reference']}: {f['identical_answers']}/{f['prompts']} identical greedy "
                f"answers, next-token agreement {100 * f['next_token_agreement']:.2f}%, "
                f"largest logit difference {f['max_logit_diff']:.4g}"
            )
            if f.get("warning"):
                print(f"warning: {f['warning']}")
    else:  # no run record to read the settings from: the command line's
        card = adapter / "README.md"
        merged = merge_adapter(
            adapter,
            args.out or adapter.parent / "merged",
            base=args.base,
            dtype=args.dtype,
            max_shard_size=args.max_shard_size,
            model_card=card.read_text() if card.exists() else None,
        )
    print(f"merged model: {merged}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
