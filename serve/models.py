"""The models the app offers: the configured one (the merged model, by default) and every LoRA adapter
found on the models volume (`models/<run>/adapter`), served unmerged.

In process an adapter is its folder (`tunebench.chat` loads it on its base with PEFT). On a server it
is a name the server was started with (vLLM `--lora-modules NAME=PATH`, SGLang `--lora-paths
NAME=PATH`, TGI `LORA_ADAPTERS=NAME=PATH`): `TUNEBENCH_ADAPTER_NAME` says how a run's adapter is named
in requests (`{run}-lora` for vLLM and TGI, `{base}:{run}-lora` for SGLang; compose sets it when it
starts a server with adapters). Without it a server's adapters are not offered: the server was
started without them.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from tunebench.chat import ChatError, ChatModel, ModelSpec
from tunebench.runs.paths import models_root
from tunebench.serve.config import AppConfig, ModelConfig

log = logging.getLogger(__name__)

ADAPTER_NAME_ENV = "TUNEBENCH_ADAPTER_NAME"
ADAPTER_NAME = "{run}-lora"  # what compose names a run's adapter on vLLM and TGI


def find_adapters(models_dir: Path | None = None) -> dict[str, Path]:
    """Run name -> adapter folder, for every `<models>/<run>/adapter/adapter_config.json`."""
    root = models_dir or models_root()
    found = sorted(root.glob("*/adapter/adapter_config.json")) if root.is_dir() else []
    return {p.parent.parent.name: p.parent for p in found}


@dataclass(frozen=True)
class Choice:
    label: str  # what the page and the API call it
    spec: str  # what `tunebench.chat` opens


def adapter_spec(default_spec: str, run: str, folder: Path, name_template: str | None) -> str | None:
    """How to reach a run's adapter: its folder in process; on a server, the name the server was
    started with, or None when the server was started without adapters (no name template)."""
    if not default_spec.startswith(("http://", "https://")):
        return str(folder)
    if not name_template:
        return None
    spec = ModelSpec.parse(default_spec)
    return f"{spec.ref}#{name_template.format(run=run, base=spec.served_name or '')}"


class ModelChoices:
    """Opens each offered model once, on first use (the default at start-up)."""

    def __init__(
        self,
        config: ModelConfig,
        app: AppConfig,
        *,
        models_dir: Path | None = None,
        name_template: str | None = None,
        default: ChatModel | None = None,
    ):
        self.config, self.app = config, app
        template = name_template or os.environ.get(ADAPTER_NAME_ENV) or None
        base = config.resolved_spec
        self.choices = [Choice(base, base)]
        for run, folder in find_adapters(models_dir).items():
            spec = adapter_spec(base, run, folder, template)
            if spec is not None:
                self.choices.append(Choice(f"{run} (LoRA adapter, unmerged)", spec))
        self._opened: dict[str, ChatModel] = {}
        self._lock = threading.Lock()
        self._opened[base] = default or config.open(app.settings, concurrency=app.concurrency_limit)

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.choices]

    @property
    def default(self) -> ChatModel:
        return self._opened[self.choices[0].label]

    def get(self, label: str | None) -> ChatModel:
        """The model offered as `label` (None or "": the default); raises `ChatError` for another label."""
        if not label:
            return self.default
        choice = next((c for c in self.choices if c.label == label), None)
        if choice is None:
            raise ChatError(f"unknown model {label!r}: choose one of {', '.join(self.labels)}")
        with self._lock:  # one load per model, even when two requests ask for it at once
            if label not in self._opened:
                log.info("opening %s (%s)", label, choice.spec)
                try:
                    self._opened[label] = self.config.with_overrides(spec=choice.spec).open(
                        self.app.settings, concurrency=self.app.concurrency_limit
                    )
                except ChatError:
                    raise
                except Exception as err:  # e.g. an adapter whose base cannot be loaded
                    raise ChatError(f"cannot open {label}: {type(err).__name__}: {err}") from err
            return self._opened[label]

    def close(self) -> None:
        for model in self._opened.values():
            model.close()
