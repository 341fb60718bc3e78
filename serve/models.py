"""The models the app offers: the configured one (the merged model, by default) and every LoRA adapter
found on the models volume (`models/<run>/adapter`), served unmerged.

In process an adapter is its folder (`tunebench.chat` loads it on its base with PEFT). On a server it
is a name the server was started with (vLLM `--lora-modules NAME=PATH`, SGLang `--lora-paths
NAME=PATH`, TGI `LORA_ADAPTERS=NAME=PATH`): `TUNEBENCH_ADAPTER_NAME` says how a run's adapter is named
in requests (`{run}-lora` for vLLM and TGI, `{base}:{run}-lora` for SGLang; compose sets it when it
starts a server with adapters). Without it a server's adapters are not offered: the server was
started without them.

Each model has a stable name, the one the API takes and answers with: the served name (`#name` of a
server spec, or the one model the server lists), the run of a folder (`models/<run>/merged` is
`<run>`; `transformers serve` names its model by that folder), `<run>-lora` for a run's adapter.
It never holds a port, so it stays the same from one launch to the next.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from tunebench.chat import ChatError, ChatModel, ModelSpec, RemoteChatModel
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
    name: str  # stable and short: what the API takes and answers with (a run name, a served name)
    label: str  # what the page's menu shows
    spec: str  # what `tunebench.chat` opens
    kind: str  # "model" or "LoRA adapter (unmerged)"


def _run_name(path: str | Path) -> str:
    """`models/<run>/merged` -> `<run>`; another folder -> its own name."""
    path = Path(path)
    return path.parent.name if path.name in ("merged", "adapter") and path.parent.name else path.name


def _is_path(name: str) -> bool:
    """A served name that is a folder (`transformers serve` names a model by the folder it was given)."""
    return (
        name.startswith(("/", "."))
        or name.count("/") > 1
        or name.endswith(("/merged", "/adapter"))
        or Path(name).is_dir()
    )


def model_name(spec: str, served: str | None = None) -> str:
    """A stable, readable name for a spec: the served name (a run name; the run of the folder a
    `transformers serve` names its model by), the run of a folder, a hub id; never a port. `served`:
    the name a server without `#name` in its spec lists, when it could be asked."""
    if spec.startswith(("http://", "https://")):
        served = spec.partition("#")[2] or served
        if served:
            return _run_name(served) if _is_path(served) else served
        return f"model at {spec.split('//', 1)[1].split('/', 1)[0]}"
    parsed = ModelSpec.parse(spec)
    return _run_name(parsed.ref) if parsed.kind == "local" else parsed.ref


def listed_name(model: ChatModel, timeout_s: float = 2.0) -> str | None:
    """The one model a server lists (GET /v1/models, a short wait), or None."""
    if not isinstance(model, RemoteChatModel) or model.spec.served_name:
        return None
    client = dataclasses.replace(model.endpoint, timeout_s=timeout_s, max_retries=0).client()
    try:
        ids = [m.id for m in client.models.list()]
    except Exception:  # noqa: BLE001 - a server down at start-up: the name falls back to its address
        return None
    finally:
        client.close()
    return ids[0] if len(ids) == 1 else None


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
    """Opens each offered model once, on first use (the default at start-up). Each has a stable name
    (`Choice.name`); `get` also takes its menu label or its spec."""

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
        default = default or config.open(app.settings, concurrency=app.concurrency_limit)
        name = model_name(base, listed_name(default))
        self.choices = [Choice(name, name, base, "model")]
        for run, folder in find_adapters(models_dir).items():
            spec = adapter_spec(base, run, folder, template)
            if spec is not None:
                self._add(
                    Choice(f"{run}-lora", f"{run} · LoRA adapter (unmerged)", spec, "LoRA adapter (unmerged)")
                )
        self._opened: dict[str, ChatModel] = {}
        self._lock = threading.Lock()
        self._opened[name] = default

    def _add(self, choice: Choice) -> None:
        taken = {c.name for c in self.choices}
        if choice.name in taken:  # a run named like the served model: keep both, apart
            n = 2
            while f"{choice.name}-{n}" in taken:
                n += 1
            choice = Choice(f"{choice.name}-{n}", choice.label, choice.spec, choice.kind)
        self.choices.append(choice)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.choices]

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.choices]

    @property
    def default_name(self) -> str:
        return self.choices[0].name

    @property
    def default(self) -> ChatModel:
        return self._opened[self.default_name]

    def choice(self, name: str | None) -> Choice:
        """The model offered as `name` (or its label or spec; None or "": the default)."""
        if not name:
            return self.choices[0]
        for choice in self.choices:
            if name in (choice.name, choice.label, choice.spec):
                return choice
        raise ChatError(f"unknown model {name!r}: choose one of {', '.join(self.names)}")

    def get(self, name: str | None) -> ChatModel:
        """The model offered as `name`; raises `ChatError` for another name."""
        choice = self.choice(name)
        with self._lock:  # one load per model, even when two requests ask for it at once
            if choice.name not in self._opened:
                log.info("opening %s (%s)", choice.name, choice.spec)
                try:
                    self._opened[choice.name] = self.config.with_overrides(spec=choice.spec).open(
                        self.app.settings, concurrency=self.app.concurrency_limit
                    )
                except ChatError:
                    raise
                except Exception as err:  # e.g. an adapter whose base cannot be loaded
                    raise ChatError(f"cannot open {choice.name}: {type(err).__name__}: {err}") from err
            return self._opened[choice.name]

    def opened(self) -> dict[str, ChatModel]:
        with self._lock:
            return dict(self._opened)

    def close(self) -> None:
        for model in self._opened.values():
            model.close()
