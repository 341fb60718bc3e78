"""The layout's rules, checked on the source (every import parsed with `ast`, nothing run):

1. the contract (`tunebench/` minus the stages) imports no stage;
2. no stage (`tunebench.train`, `tunebench.evaluate`, `tunebench.serve`) imports another stage;
3. `bench/` reaches a stage only through its public entry points: a name a stage package's
   `__init__.py` lists in `__all__` (`from tunebench.evaluate.mt_bench import run`), or one of the
   few names in `PUBLIC_ENTRY_POINTS` below;
4. nothing imports a `__main__` module (library code lives in importable modules);
5. no module over 400 lines; one `*Backend` class hierarchy at most; the run record
   (`manifest.json`) is read through `tunebench.runs.record`, never by string keys, outside
   `tunebench/` and `train/`; the held-out split and the tiny-model marker are written once.

`test_the_checker_reports_a_broken_copy` writes a tree that breaks every rule into tmp_path and
asserts the checker names each break, so a checker that sees nothing cannot pass unnoticed.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("tunebench.train", "tunebench.evaluate", "tunebench.serve")
# import name prefix -> folder. The stages' folders are the top-level train/, evaluate/ and serve/, which
# tunebench/ links to (tunebench/train -> ../train, …); bench/ is imported as run from the repository.
TREES = {"tunebench": "tunebench", "bench": "bench"} | {s: s.split(".")[1] for s in STAGES}
# What bench/ may use of a stage beyond its packages' `__all__`. Keep it short: each entry is a promise.
PUBLIC_ENTRY_POINTS = {
    "tunebench.train.assemble.build_trainer",  # the one place a tunebench trainer is assembled
    "tunebench.train.labelled_loss.LabelledLossSFTTrainer",  # build_trainer's class; bench sets it beside TRL's
    "tunebench.train.recipe.parse_recipe",  # the one recipe parser: a recipe + overrides -> a Recipe
    "tunebench.train.recipe.Recipe",
    "tunebench.train.sources.load_messages",  # a recipe's dataset as chat rows, for the plain-TRL arms
    "tunebench.train.merge.merge_adapter",
    "tunebench.serve.sample_dbs.SampleDatabases",  # the app's sample questions, for serving latency
    "tunebench.serve.config.default_model",
}
MAX_LINES = 400
CONTRACT_AND_TRAINING = ("contract", "tunebench.train")  # may read manifest.json by hand


@dataclass(frozen=True)
class Module:
    name: str  # import name, e.g. tunebench.evaluate.sql.cli
    path: Path
    tree: ast.Module
    lines: int

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@functools.lru_cache(maxsize=4)  # parsed once per tree, shared by every check (and test_packaging)
def load_modules(root: Path) -> dict[str, Module]:
    out = {}
    for prefix, folder in TREES.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            name = ".".join((prefix, *parts))
            text = path.read_text(encoding="utf-8")
            out[name] = Module(name, path, ast.parse(text, str(path)), len(text.splitlines()))
    return out


def owner(name: str) -> str:
    """The part a module belongs to: a stage, "contract" or "bench"."""
    for stage in STAGES:
        if name == stage or name.startswith(stage + "."):
            return stage
    return "contract" if name.split(".")[0] == "tunebench" else name.split(".")[0]


def imports(module: Module, modules: dict[str, Module]) -> list[tuple[int, str]]:
    """(line, dotted target) for every import, lazy ones inside functions included. `from P import x`
    gives `P.x`: a submodule or a name, both are what the importer reaches."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    out = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return out


def is_public(target: str, modules: dict[str, Module]) -> bool:
    """A stage's public entry point: listed above, or in the `__all__` of the package it comes from."""
    if target in PUBLIC_ENTRY_POINTS:
        return True
    package, _, name = target.rpartition(".")
    module = modules.get(package)
    return module is not None and module.is_package and name in declared_all(module)


def declared_all(module: Module) -> set[str]:
    for node in module.tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return {elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)}
    return set()


def import_violations(root: Path) -> list[str]:
    modules = load_modules(root)
    found = []
    for module in modules.values():
        mine = owner(module.name)
        for line, target in imports(module, modules):
            theirs = owner(target)
            where = f"{module.path.relative_to(root)}:{line} imports {target}"
            if target.split(".")[-1] == "__main__" or ".__main__." in target:
                found.append(f"{where}: a __main__ module is no library")
            if theirs not in STAGES or theirs == mine:
                continue
            if mine == "contract":
                found.append(f"{where}: the contract imports no stage")
            elif mine in STAGES:
                found.append(f"{where}: a stage imports no other stage (share it through tunebench/)")
            elif mine == "bench" and not is_public(target, modules):
                found.append(f"{where}: not a public entry point of {theirs}")
    return found


# --- the other rules -------------------------------------------------------------------------------------


def long_modules(root: Path) -> list[str]:
    return [
        f"{m.path.relative_to(root)}: {m.lines} lines (at most {MAX_LINES})"
        for m in load_modules(root).values()
        if m.lines > MAX_LINES
    ]


def backend_hierarchies(root: Path) -> list[str]:
    """The roots of `class …Backend` hierarchies: classes named *Backend whose bases are not."""
    roots = []
    for m in load_modules(root).values():
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Backend"):
                bases = [ast.unparse(b) for b in node.bases]
                if not any(b.endswith("Backend") for b in bases):
                    roots.append(f"{m.path.relative_to(root)}:{node.lineno} class {node.name}")
    return roots


# keys that only the run record has (read by string from any variable, they are a manifest read)
MANIFEST_FIELDS = {"training", "trainable_parameters", "global_step", "loss_curve"}


def manifest_key_reads(root: Path) -> list[str]:
    """Outside tunebench/ and train/: `manifest.json` named by hand, `json.load…(…manifest…)`, or a
    string-key read (`m["training"]`, `m.get("recipe")`) of a variable named like a manifest or of a
    run-record field."""
    found = []
    for m in load_modules(root).values():
        if owner(m.name) in CONTRACT_AND_TRAINING:
            continue
        for node in ast.walk(m.tree):
            where = f"{m.path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Constant) and node.value == "manifest.json":
                found.append(f"{where}: names manifest.json (use RunPaths / RunManifest.for_model)")
            elif isinstance(node, ast.Call) and re.fullmatch(r"json\.loads?", ast.unparse(node.func)):
                if "manifest" in ast.unparse(node).lower():
                    found.append(f"{where}: parses the manifest by hand (use RunManifest.load)")
            elif (key := _string_key(node)) is not None:
                value = node.value if isinstance(node, ast.Subscript) else node.func.value
                holder = ast.unparse(value)
                if not isinstance(value, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
                    holder = f"({holder})"  # `(load() or {})['recipe']`, as written
                if "manifest" in holder.lower() or key in MANIFEST_FIELDS:
                    found.append(f"{where}: reads {holder}[{key!r}] (use the RunManifest attribute)")
    return found


def _string_key(node) -> str | None:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        value = node.slice.value
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ):
        value = node.args[0].value
    else:
        return None
    return value if isinstance(value, str) else None


def written_twice(root: Path) -> list[str]:
    """The held-out split is `tunebench.data.splits.split_heldout`; the tiny-model marker is `TINY_MARKER`."""
    found = []
    for m in load_modules(root).values():
        for node in ast.walk(m.tree):
            where = f"{m.path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "train_test_split"
                and m.name != "tunebench.data.splits"
            ):
                found.append(f"{where}: a second held-out split (use tunebench.data.splits.split_heldout)")
            if (
                isinstance(node, ast.Constant)
                and node.value == "tunebench_tiny.json"
                and m.name != "tunebench.runs.paths"
            ):
                found.append(f"{where}: the tiny-model marker by name (use tunebench.runs.paths.TINY_MARKER)")
    return found


# --- the tests -----------------------------------------------------------------------------------------


def test_imports_follow_the_layout():
    assert import_violations(REPO) == []


def test_no_module_over_400_lines():
    assert long_modules(REPO) == []


def test_at_most_one_backend_hierarchy():
    assert len(backend_hierarchies(REPO)) <= 1, backend_hierarchies(REPO)


def test_the_run_record_is_read_typed_outside_training():
    assert manifest_key_reads(REPO) == []


def test_the_split_and_the_marker_are_written_once():
    assert written_twice(REPO) == []


BROKEN_TREE = {
    "tunebench/__init__.py": "",
    "tunebench/runs/paths.py": 'TINY_MARKER = "tunebench_tiny.json"\n',
    "tunebench/leaky.py": "def f():\n    from tunebench.train.assemble import build_trainer\n",
    "tunebench/embedded/__init__.py": "",
    "tunebench/embedded/__main__.py": "def build():\n    pass\n",
    "tunebench/embedded/uses_main.py": "from tunebench.embedded.__main__ import build\n",
    "train/__init__.py": "",
    "train/assemble.py": "def build_trainer():\n    pass\n",
    "train/data.py": "from ..evaluate.sql import data\nfrom tunebench.runs.paths import TINY_MARKER\n",
    "evaluate/__init__.py": "",
    "evaluate/sql/__init__.py": '__all__ = ["run_evaluation"]\nfrom .pipeline import run_evaluation\n',
    "evaluate/sql/pipeline.py": "import json\n\n\ndef run_evaluation(run):\n"
    '    m = json.loads((run / "manifest.json").read_text())\n'
    '    return m["training"]["global_step"], run.manifest.get("recipe")\n',
    "evaluate/sql/data.py": "def split(ds):\n    return ds.train_test_split(0.1)\n",
    "serve/__init__.py": "",
    "serve/backends.py": "class Backend:\n    pass\n\n\nclass InProcessBackend(Backend):\n    pass\n",
    "serve/other.py": 'class OpenAIBackend:\n    marker = "tunebench_tiny.json"\n',
    "serve/long.py": "x = 1\n" * 401,
    "bench/__init__.py": "",
    "bench/fine.py": "from tunebench.train.assemble import build_trainer\nfrom tunebench.evaluate.sql import "
    "run_evaluation\nfrom tunebench.chat import open_chat_model\nfrom bench.common import x\n",
    "bench/reaches.py": "import tunebench.serve.backends\nfrom tunebench.evaluate.sql.pipeline import run_evaluation\n",
}


def test_the_checker_reports_a_broken_copy(tmp_path):
    for rel, text in BROKEN_TREE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert sorted(import_violations(tmp_path)) == [
        "bench/reaches.py:1 imports tunebench.serve.backends: not a public entry point of tunebench.serve",
        "bench/reaches.py:2 imports tunebench.evaluate.sql.pipeline.run_evaluation: not a public entry point "
        "of tunebench.evaluate",
        "train/data.py:1 imports tunebench.evaluate.sql.data: a stage imports no other stage (share it "
        "through tunebench/)",
        "tunebench/embedded/uses_main.py:1 imports tunebench.embedded.__main__.build: a __main__ module is no "
        "library",
        "tunebench/leaky.py:2 imports tunebench.train.assemble.build_trainer: the contract imports no stage",
    ]
    assert long_modules(tmp_path) == ["serve/long.py: 401 lines (at most 400)"]
    assert sorted(backend_hierarchies(tmp_path)) == [
        "serve/backends.py:1 class Backend",
        "serve/other.py:1 class OpenAIBackend",
    ]
    assert sorted(manifest_key_reads(tmp_path)) == [
        "evaluate/sql/pipeline.py:5: names manifest.json (use RunPaths / RunManifest.for_model)",
        "evaluate/sql/pipeline.py:5: parses the manifest by hand (use RunManifest.load)",
        "evaluate/sql/pipeline.py:6: reads m['training'] (use the RunManifest attribute)",
        "evaluate/sql/pipeline.py:6: reads m['training']['global_step'] (use the RunManifest attribute)",
        "evaluate/sql/pipeline.py:6: reads run.manifest['recipe'] (use the RunManifest attribute)",
    ]
    assert sorted(written_twice(tmp_path)) == [
        "evaluate/sql/data.py:2: a second held-out split (use tunebench.data.splits.split_heldout)",
        "serve/other.py:2: the tiny-model marker by name (use tunebench.runs.paths.TINY_MARKER)",
    ]
    # and what the broken tree does right is not reported: bench/fine.py, the contract's own marker
    assert not [v for v in import_violations(tmp_path) if "fine.py" in v or "paths.py" in v]
