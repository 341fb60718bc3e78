"""The run record (`models/<run>/manifest.json`): written by training, read by evaluation and serving.

Typed on purpose: a stage reads `manifest.training.global_step`, never `manifest["training"]["…"]`,
so a renamed field breaks at one place (here) instead of silently giving `None` in a report.
Keys a newer tunebench wrote and this one does not know are kept (`extra`) and written back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunebench.runs.atomic_io import atomic_write_json
from tunebench.runs.paths import RunPaths


@dataclass
class TrainingStats:
    global_step: int | None = None
    resumed_from: str | None = None
    train_rows: int | None = None
    first_loss: float | None = None
    last_loss: float | None = None
    train_tokens: int | None = None
    loss_curve: list = field(default_factory=list)  # [(step, loss), …]
    tokens_per_second: float | None = None
    wall_time_s: float | None = None
    train_runtime_s: float | None = None
    peak_memory: dict = field(default_factory=dict)
    world_size: int | None = None


class IncompleteRecipe(ValueError):
    """An older run record lacks a recipe key a reader needs."""


@dataclass
class ModelInfo:
    attn_implementation: str | None = None
    dtype: str | None = None
    quantization: str | None = None
    device: str | None = None
    sharded: bool | None = None
    new_token_ids: list = field(default_factory=list)
    parameters: int | None = None


@dataclass
class RunManifest:
    run_name: str
    method: str  # "lora" | "qlora" | "full"
    # Every key of the recipe as training parsed it (tunebench's, the TRL config's and ModelConfig's, the
    # defaults included), so no reader restates a default. Records written before that hold only the keys
    # the user set, and say so by `recipe_complete` False.
    recipe: dict
    seed: int | None = None
    datasets: list[str] = field(default_factory=list)
    model: ModelInfo = field(default_factory=ModelInfo)
    training: TrainingStats = field(default_factory=TrainingStats)
    trainable_parameters: int | None = None
    paths: dict = field(default_factory=dict)  # {"adapter": …, "merged": …}
    environment: dict = field(default_factory=dict)  # python, platform, packages, git commit
    extra: dict = field(default_factory=dict)
    recipe_complete: bool = False
    # keys inside "model" / "training" that this version does not know: kept, written back
    _nested_extra: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # --- what other stages ask of a run ---------------------------------------------------------
    @property
    def base_model(self) -> str | None:
        return self.recipe.get("model_name_or_path")

    @property
    def dataset_name(self) -> str | None:
        return self.recipe.get("dataset_name")

    def recipe_value(self, key: str) -> Any:
        """A recipe key as the run resolved it (the held-out split's parameters, for instance). A key the
        record lacks is an error, never a guess: a default restated here could differ from training's."""
        if key in self.recipe:
            return self.recipe[key]
        if self.recipe_complete:
            raise KeyError(f"{key!r} is not a key of run {self.run_name!r}'s recipe")
        raise IncompleteRecipe(
            f"run {self.run_name!r} was recorded before tunebench kept whole recipes and does not say its "
            f"{key!r}: train it again (or give the value on the command line)"
        )

    # --- disk ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("_nested_extra")
        for part in ("model", "training"):  # unknown nested keys go back where they were read
            out[part] = {**out[part], **self._nested_extra.get(part, {})}
        extra = out.pop("extra")
        return {**out, **extra}

    @classmethod
    def from_dict(cls, data: dict) -> RunManifest:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "_nested_extra"}
        values = {k: v for k, v in data.items() if k in known}
        nested_extra = {}
        for part, kind in (("model", ModelInfo), ("training", TrainingStats)):
            given = values.get(part) or {}
            if not isinstance(given, dict):
                raise ValueError(f"field '{part}' must be an object, got {type(given).__name__}")
            names = {f.name for f in dataclasses.fields(kind)}
            values[part] = kind(**{k: v for k, v in given.items() if k in names})
            nested_extra[part] = {k: v for k, v in given.items() if k not in names}
        manifest = cls(**values, extra={k: v for k, v in data.items() if k not in known})
        manifest._nested_extra = nested_extra
        return manifest

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> RunManifest:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from err
        if not isinstance(data, dict) or "run_name" not in data:
            raise ValueError(f"{path}: not a tunebench run record (no 'run_name')")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as err:  # a field of the wrong shape
            raise ValueError(f"{path}: {err}") from err

    @classmethod
    def for_model(cls, model_dir: str | Path) -> RunManifest | None:
        """The record of the run a `merged/` or `adapter/` folder belongs to, or None."""
        run = RunPaths.from_model_dir(model_dir)
        return cls.load(run.manifest) if run is not None else None
