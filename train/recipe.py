"""The one recipe parser: `--config recipe.yaml [--key=value …]` → a `Recipe`.

Every command that reads a recipe (training, merging, bench) calls `parse_recipe`. A recipe's keys fill
three dataclasses, as in alignment-handbook: `TunebenchArguments` (train/args.py), the TRL config of the
recipe's `trainer` (SFTConfig, DPOConfig, ORPOConfig, KTOConfig) and TRL's `ModelConfig`. The argument
parser is transformers' `HfArgumentParser` over those three (what TRL's `TrlParser` builds); what this
module adds is the checking a person needs before any model loads, each mistake in one line that names
the file and the key (or the flag): an unknown key with the nearest known one, a value of the wrong type,
a missing recipe file. And on a machine without CUDA it switches off the GPU settings a GPU recipe
carries (tf32, bf16 unless `cpu_bf16`, gradient checkpointing) before TRL's and transformers' own checks
refuse them.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from tunebench.hub import hub_offline, hub_unavailable
from tunebench.train.args import TunebenchArguments

log = logging.getLogger(__name__)

# Which TRL classes each `trainer` is and where TRL 1.x keeps them (module, config, trainer).
TRL_CLASSES = {
    "sft": ("trl", "SFTConfig", "SFTTrainer"),
    "dpo": ("trl", "DPOConfig", "DPOTrainer"),
    "kto": ("trl", "KTOConfig", "KTOTrainer"),
    "orpo": ("trl.experimental.orpo", "ORPOConfig", "ORPOTrainer"),
}
TRAINERS = tuple(TRL_CLASSES)
COMMAND_LINE = "command line"


class RecipeError(ValueError):
    """A recipe or command-line mistake; the message names the file and key, or the flag."""


def config_class(trainer: str):
    """The TRL config dataclass a recipe with `trainer: <trainer>` fills."""
    module, config, _ = TRL_CLASSES[trainer]
    return getattr(importlib.import_module(module), config)


def trainer_class(trainer: str):
    module, _, cls = TRL_CLASSES[trainer]
    return getattr(importlib.import_module(module), cls)


@dataclass
class Recipe:
    """A parsed recipe: the three dataclasses, and what the run record keeps of them."""

    args: TunebenchArguments
    config: Any  # the TRL config of `args.trainer`: SFTConfig, DPOConfig, …
    model: Any  # trl.ModelConfig
    path: Path | None = None
    user_keys: list[str] = field(default_factory=list)  # set in the YAML or on the command line
    cli_keys: list[str] = field(default_factory=list)  # set on the command line
    cpu_changes: list[str] = field(default_factory=list)  # GPU settings switched off for this CPU run
    record: dict = field(default_factory=dict)  # every key of the three, as parsed (RunManifest.recipe)

    @property
    def trainer(self) -> str:
        return self.args.trainer

    def where(self, key: str) -> str:
        """Where a key's value came from, for messages: the flag, or the recipe file's key."""
        if key in self.cli_keys or self.path is None:
            return f"{COMMAND_LINE}: --{key}"
        return f"{self.path}: {key}"

    @property
    def resolved(self) -> dict:
        """The keys the user set, with their final values: what `recipe.yaml` of the run says."""
        return {k: self.record[k] for k in self.user_keys if k in self.record}


class _Parser(argparse.ArgumentParser):
    """Raise instead of printing a usage screen and exiting: one line, said by the caller."""

    def error(self, message):
        raise RecipeError(f"{COMMAND_LINE}: {message}")


def _argument_parser(classes) -> argparse.ArgumentParser:
    from transformers import HfArgumentParser

    class Parser(_Parser, HfArgumentParser):
        pass

    # No abbreviations: argparse would read a mistyped --max_step as --max_steps without a word.
    return Parser(classes, allow_abbrev=False)


def _split_config(argv: list[str]) -> tuple[Path | None, list[str]]:
    rest, path, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config":
            if i + 1 >= len(argv):
                raise RecipeError(f"{COMMAND_LINE}: --config needs a recipe file")
            path, i = Path(argv[i + 1]), i + 2
            continue
        if arg.startswith("--config="):
            path = Path(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return path, rest


def read_recipe_file(path: Path) -> dict:
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file" + (" (a folder)" if path.is_dir() else ""))
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise RecipeError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of key: value, not a {type(values).__name__}")
    return values


def _cli_trainer(cli: list[str]) -> str | None:
    for i, arg in enumerate(cli):
        if arg.startswith("--trainer="):
            return arg.split("=", 1)[1]
        if arg == "--trainer" and i + 1 < len(cli):
            return cli[i + 1]
    return None


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _list_fields(classes) -> set[str]:
    """Keys whose declared type takes a list (`report_to: str | list[str]`, `lora_target_modules`). Read
    from the annotations: HfArgumentParser rewrites the dataclass fields' `type` in place."""
    out = set()
    for cls in classes:
        for klass in cls.__mro__:
            for name, hint in getattr(klass, "__annotations__", {}).items():
                if "list" in str(hint).lower():
                    out.add(name)
    return out


def _check_value(where: str, key: str, value, action: argparse.Action, list_ok: bool):
    """The YAML value as the command line would have parsed it, or a RecipeError naming the key."""
    if value is None:
        return None
    if isinstance(value, list):
        if not list_ok:
            raise RecipeError(f"{where}: {key}: expected one value, got a list")
        return [_check_one(where, key, v, action) for v in value]
    # A scalar for a list option stays a scalar: PEFT reads `lora_target_modules: all-linear` as a
    # keyword, where a one-item list would name a module called "all-linear".
    return _check_one(where, key, value, action)


def _check_one(where: str, key: str, value, action: argparse.Action):
    convert = action.type
    if isinstance(value, dict):  # dict options (model_init_kwargs, …) are parsed by their dataclass
        return value
    if convert in (int, float):
        kind = "an integer" if convert is int else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise RecipeError(f"{where}: {key}: expected {kind}, got {value!r}")
        try:
            value = float(value) if convert is float else _to_int(value)
        except ValueError:
            raise RecipeError(f"{where}: {key}: expected {kind}, got {value!r}") from None
    elif getattr(convert, "__name__", "") == "string_to_bool" and not isinstance(value, bool):
        try:
            value = convert(str(value))
        except (argparse.ArgumentTypeError, ValueError):
            raise RecipeError(f"{where}: {key}: expected true or false, got {value!r}") from None
    elif convert not in (None, str) and isinstance(value, str):
        try:
            value = convert(value)  # enum choices and the like
        except (argparse.ArgumentTypeError, ValueError, KeyError):
            raise RecipeError(f"{where}: {key}: {value!r} is not a valid value") from None
    if action.choices is not None and str(getattr(value, "value", value)) not in map(str, action.choices):
        raise RecipeError(f"{where}: {key}: {value!r} is not one of {sorted(map(str, action.choices))}")
    return value


def _to_int(value) -> int:
    if isinstance(value, float):
        if value != int(value):
            raise ValueError(value)
        return int(value)
    return int(str(value).replace("_", ""))


def cpu_settings(ns: argparse.Namespace, asked: set[str] = frozenset()) -> list[str]:
    """Without CUDA: run on the CPU and switch off the recipe's settings that only GPUs have or need. TF32
    is a GPU format (transformers refuses it on a CPU); gradient checkpointing and TRL's default bf16 made
    CPU steps 7x slower on the tiny model (docs/bench.md); `cpu_bf16: true` keeps bf16 for CPUs that have
    it (AMX). A setting given on the command line (`asked`) is this run's explicit wish and is kept."""
    import torch

    if torch.cuda.is_available():
        return []
    wanted = {
        "use_cpu": True,
        "tf32": None,
        "bf16": bool(getattr(ns, "cpu_bf16", False)),
        "fp16": False,
        "gradient_checkpointing": False,
        "activation_checkpointing": False,
    }
    changed = []
    for name, value in wanted.items():
        if name in asked:
            continue
        if hasattr(ns, name) and getattr(ns, name) != value and not (value is None and not getattr(ns, name)):
            setattr(ns, name, value)
            changed.append(f"{name}={value}")
    return changed


def _build(cls, ns: argparse.Namespace, where: str):
    kwargs = {f.name: getattr(ns, f.name) for f in fields(cls) if f.init and hasattr(ns, f.name)}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as err:  # the dataclass's own checks (TRL's, transformers')
        raise RecipeError(f"{where}: {str(err).splitlines()[0]}") from None


def _record(objs) -> dict:
    out: dict = {}
    for obj in objs:
        values = (
            obj.to_dict() if hasattr(obj, "to_dict") else {f.name: getattr(obj, f.name) for f in fields(obj)}
        )
        for k, v in values.items():
            out.setdefault(k, getattr(v, "value", v))  # enums as their string
    return out


def parse_recipe(argv: list[str]) -> Recipe:
    """Parse a command line (`--config recipe.yaml --key=value …`) into a `Recipe`; RecipeError on a
    mistake, before any data or model is touched."""
    path, cli = _split_config(list(argv))
    where = str(path) if path is not None else COMMAND_LINE
    values = read_recipe_file(path) if path is not None else {}
    trainer = (_cli_trainer(cli) or values.get("trainer") or "sft").lower()
    if trainer not in TRL_CLASSES:
        raise RecipeError(f"{where}: trainer: {trainer!r} is not one of {list(TRAINERS)}")
    classes = (TunebenchArguments, config_class(trainer), _model_config())
    parser = _argument_parser(classes)
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    lists = _list_fields(classes)
    checked = {}
    for key, value in values.items():
        if key not in actions:
            raise RecipeError(f"{where}: unknown key {key!r}{_did_you_mean(key, actions)}")
        checked[key] = _check_value(where, key, value, actions[key], key in lists)
    parser.set_defaults(**checked)
    ns, unknown = parser.parse_known_args(cli)
    if unknown:
        flags = [u for u in unknown if u.startswith("-")]
        if not flags:
            raise RecipeError(f"{COMMAND_LINE}: unexpected argument {unknown[0]!r} (options are --key=value)")
        flag = flags[0].split("=", 1)[0]
        close = difflib.get_close_matches(flag.lstrip("-").replace("-", "_"), list(actions), n=1, cutoff=0.7)
        hint = f" (did you mean --{close[0]}?)" if close else ""
        raise RecipeError(f"{COMMAND_LINE}: unknown option {flag}{hint}")
    ns.trainer = trainer
    cli_keys = [a[2:].split("=", 1)[0].replace("-", "_") for a in cli if a.startswith("--")]
    cpu_changes = cpu_settings(ns, set(cli_keys))
    objs = tuple(_build(cls, ns, where) for cls in classes)
    user_keys = list(dict.fromkeys([*values, *cli_keys, *(c.split("=")[0] for c in cpu_changes)]))
    return Recipe(
        *objs,
        path=path,
        user_keys=user_keys,
        cli_keys=cli_keys,
        cpu_changes=cpu_changes,
        record=_record(objs),
    )


def _model_config():
    from trl import ModelConfig

    return ModelConfig


_DATA_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv")


def _local_looking(text: str) -> bool:
    """A name a person means as a local path: it starts like one, ends like a data file, or its first
    folder exists here (`models/tiny-bse` is a typo of a folder, not the hub id of user `models`)."""
    if text.startswith((".", "/", "~")) or text.endswith((*_DATA_SUFFIXES, ".gguf")):
        return True
    first = text.split("/", 1)[0]
    return "/" in text and Path(first).is_dir()


def _cached(repo_id: str) -> bool:
    """A hub model this machine already holds (what from_pretrained can load with the hub off)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # a malformed id: from_pretrained says what is wrong with it
        return True


def _embedded_base(args, key: str, value: str) -> bool:
    """The tiny base `embedded: true` builds (a recipe on another base builds only the embedded data)."""
    from tunebench.runs.paths import tiny_base_dir

    return bool(args.embedded) and key == "model_name_or_path" and Path(value) == tiny_base_dir()


def check_top_layers(recipe: Recipe) -> None:
    """`lora_top_layers` within the base's layers, read from its config.json before the model loads."""
    import json

    count, name = recipe.args.lora_top_layers, recipe.model.model_name_or_path
    if count is None:
        return
    if count < 1:
        raise RecipeError(
            f"{recipe.where('lora_top_layers')}: {count}: give at least 1 layer (or leave it out)"
        )
    config = Path(name or "") / "config.json"
    if not config.is_file():
        return  # a hub model: PEFT's own check applies once it is loaded
    values = json.loads(config.read_text())
    layers = values.get("num_hidden_layers") or values.get("text_config", {}).get("num_hidden_layers")
    if layers and count > layers:
        raise RecipeError(f"{recipe.where('lora_top_layers')}: {count}: {name} has {layers} layers")


def check_inputs(recipe: Recipe) -> None:
    """The recipe's local inputs exist: a missing file or folder is one line before training starts, not
    a hub download attempt and a traceback after the model has loaded."""
    args, model = recipe.args, recipe.model
    # fidelity_dataset is left alone: a run whose file is missing here measures merge fidelity on its own
    # held-out split instead (train/merging.py says so), which is what a recipe copied elsewhere wants.
    for key, value in (("model_name_or_path", model.model_name_or_path), ("dataset_name", args.dataset_name)):
        if not value or args.embedded and key == "dataset_name" or _embedded_base(args, key, value):
            continue  # the embedded default builds its model and data first
        if any(ch in value for ch in "*?["):
            continue  # a glob: sources.local_files says when it matches nothing
        if key == "model_name_or_path" and not _local_looking(value) and hub_offline() and not _cached(value):
            raise hub_unavailable("model", value, FileNotFoundError(value), recipe.where(key))
        if _local_looking(value) and not Path(value).expanduser().exists():
            parent = Path(value).expanduser().parent
            near = (
                difflib.get_close_matches(Path(value).name, [p.name for p in parent.iterdir()], n=1)
                if parent.is_dir()
                else []
            )
            hint = f" (did you mean {str(parent / near[0])!r}?)" if near else ""
            raise RecipeError(f"{recipe.where(key)}: {value}: no such file or folder{hint}")
    check_top_layers(recipe)
