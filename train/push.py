"""Publish a run's adapter or merged model to the Hugging Face Hub, with its model card and run record.

    HF_TOKEN=hf_… python -m tunebench.train.push models/<run> --repo-id org/name [--private] [--what adapter|merged]

The token is read from the environment (`HF_TOKEN`) and nowhere else; `HF_ENDPOINT` points the
`huggingface_hub` client at another hub. Everything goes up in one commit: the model folder (its
README.md is the model card) plus the run record as `tunebench_manifest.json`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from tunebench.runs.paths import RunPaths

log = logging.getLogger(__name__)

TOKEN_ENV = "HF_TOKEN"
RECORD_NAME = "tunebench_manifest.json"


class PushError(Exception):
    """One readable line for the user: what went wrong and what to do."""


def run_folder(path: str | Path) -> RunPaths:
    p = Path(path)
    return RunPaths(p.parent if p.name in ("adapter", "merged") else p)


def _card_bytes(folder: Path) -> bytes | None:
    """The folder's model card, without a `base_model` that names a local folder (the hub rejects
    metadata whose base_model is not a hub id; the embedded tiny base exists only on this machine)."""
    from huggingface_hub import ModelCard

    readme = folder / "README.md"
    if not readme.exists():
        return None
    card = ModelCard.load(readme)
    if card.data.base_model and Path(str(card.data.base_model)).exists():
        card.data.base_model = None
    return str(card).encode("utf-8")


def operations(run: RunPaths, what: str) -> list:
    from huggingface_hub import CommitOperationAdd

    folder = run.adapter if what == "adapter" else run.merged
    marker = "adapter_config.json" if what == "adapter" else "config.json"
    if not (folder / marker).exists():
        hint = (
            "train the run first" if what == "adapter" else "merge it first (python -m tunebench.train.merge)"
        )
        raise PushError(f"{folder}: no {what} here ({marker} missing); {hint}")
    ops = []
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = f.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue  # temporary files of an interrupted write
        content = _card_bytes(folder) if rel == "README.md" else str(f)
        ops.append(CommitOperationAdd(path_in_repo=rel, path_or_fileobj=content))
    if run.manifest.exists():
        ops.append(CommitOperationAdd(path_in_repo=RECORD_NAME, path_or_fileobj=str(run.manifest)))
    return ops


def push(run: RunPaths, repo_id: str, *, what: str = "merged", private: bool = False) -> str:
    """Create `repo_id` if needed and commit the run's `what` folder to it; returns the commit URL."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise PushError(
            f"{TOKEN_ENV} is not set: export a write token for the hub (it is read from the environment only)"
        )
    ops = operations(run, what)
    endpoint = constants.ENDPOINT
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.create_commit(
            repo_id,
            operations=ops,
            commit_message=f"tunebench: {what} of run {run.root.name}",
            repo_type="model",
        )
    except OfflineModeIsEnabled as err:
        raise PushError(f"cannot reach the hub at {endpoint}: HF_HUB_OFFLINE is set") from err
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        reason = "the hub refused HF_TOKEN" if status in (401, 403) else "the hub answered"
        raise PushError(f"{reason} ({status}) at {endpoint}: {str(err).splitlines()[0]}") from err
    except (OSError, ConnectionError) as err:
        raise PushError(f"cannot reach the hub at {endpoint}: {_first_line(err)}") from err
    except Exception as err:  # httpx's transport errors do not derive from OSError
        if type(err).__module__.split(".")[0].startswith("httpx"):
            raise PushError(f"cannot reach the hub at {endpoint}: {_first_line(err)}") from err
        raise
    return info.commit_url


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.train.push",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("run", help="the run folder, models/<run> (or its adapter/ or merged/ folder)")
    ap.add_argument("--repo-id", required=True, help="the hub repository, org/name (created if missing)")
    ap.add_argument(
        "--what", choices=("adapter", "merged"), default="merged", help="what to upload (default: merged)"
    )
    ap.add_argument("--private", action="store_true", help="create the repository private")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        url = push(run_folder(args.run), args.repo_id, what=args.what, private=args.private)
    except PushError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"pushed {args.what} of {args.run} to {args.repo_id}: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
