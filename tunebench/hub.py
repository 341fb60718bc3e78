"""What to say when the Hugging Face hub cannot give a model or a dataset: one line, with what to do.

transformers and datasets answer a hub id they cannot fetch with a long traceback (after about 40 s of
retries when the network is down). Every stage that loads from the hub turns that into `HubUnavailable`.
"""

from __future__ import annotations

import os


class HubUnavailable(ValueError):
    """A hub id that could not be loaded; the message names it, why, and what to do."""


def hub_offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def hub_unavailable(kind: str, name: str, err: BaseException, key: str | None = None) -> HubUnavailable:
    """`kind` is "model" or "dataset"; `key` the recipe key or flag that named it (and where)."""
    where = f"{key}: " if key else ""
    if hub_offline():
        why = "the Hugging Face hub is switched off here (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
    else:
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        why = f"the Hugging Face hub did not give it ({first[:200]})"
    fetch = "hf download" + (" --repo-type dataset" if kind == "dataset" else "") + f" {name}"
    return HubUnavailable(
        f"{where}{name}: not a local {'folder' if kind == 'model' else 'file or folder'}, and {why}: check "
        f"the name, or fetch it where the hub is reachable ({fetch}) and give its local path"
    )
