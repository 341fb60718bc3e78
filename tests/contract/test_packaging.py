"""Every third-party package tunebench imports is declared where it is needed (pyproject.toml).

Each part's imports (parsed with `ast`, lazy ones inside functions included) are mapped to their
distributions with `importlib.metadata.packages_distributions()` and compared with what the part's
install declares:
- a stage (train / evaluate / serve): the base dependencies + its extra (`train`, `eval`, `serve`),
  with the extras those include (`tunebench[inference]`);
- the contract at import time (module level): the base dependencies only, since every stage imports
  it; its lazy imports (a model loaded in process, a tokenizer built) in some runtime extra;
- bench/ and tests/: the `dev` extra (what `make setup` installs).
Runtime-only needs that nothing imports (safetensors, bitsandbytes through transformers) cannot be
seen this way; they are declared by hand.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest

from tests.test_architecture import REPO, Module, load_modules, owner

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
STAGE_EXTRA = {"tunebench.train": "train", "tunebench.evaluate": "eval", "tunebench.serve": "serve"}
RUNTIME_EXTRAS = ("inference", "train", "eval", "serve", "deepspeed")
# bench/ scripts run as files import their siblings by bare name (`from common import …`)
FIRST_PARTY = {"tunebench", "bench", "tests", "__future__"} | {p.stem for p in (REPO / "bench").glob("*.py")}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def declared(extra: str | None) -> set[str]:
    """Distributions the base install plus `extra` (and the extras it names) declare."""
    names = {_name(r) for r in PROJECT["dependencies"]}
    todo = [extra] if extra else []
    while todo:
        for req in PROJECT["optional-dependencies"][todo.pop()]:
            if _name(req) == "tunebench":
                todo += re.search(r"\[(.*)\]", req).group(1).split(",")
            else:
                names.add(_name(req))
    return names


@functools.cache  # reads every installed distribution's file list: once
def _packages_distributions() -> dict[str, list[str]]:
    return md.packages_distributions()


def third_party_imports(modules, *, top_level_only: bool = False) -> dict[str, set[str]]:
    """{distribution: {importing module, …}}."""
    dists = _packages_distributions()
    out: dict[str, set[str]] = {}
    for m in modules:
        nodes = m.tree.body if top_level_only else ast.walk(m.tree)
        for node in nodes:
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in FIRST_PARTY:
                    continue
                for dist in dists.get(top, [f"{top} (no installed distribution provides it)"]):
                    out.setdefault(dist.lower().replace("_", "-"), set()).add(m.name)
    return out


def undeclared(modules, allowed: set[str], **kw) -> dict[str, list[str]]:
    return {d: sorted(ms) for d, ms in third_party_imports(modules, **kw).items() if d not in allowed}


MODULES = load_modules(REPO)


def part(name: str):
    return [m for m in MODULES.values() if owner(m.name) == name]


@pytest.mark.parametrize("stage", sorted(STAGE_EXTRA))
def test_each_stage_imports_only_what_its_extra_declares(stage):
    assert undeclared(part(stage), declared(STAGE_EXTRA[stage])) == {}


def test_the_contract_needs_only_the_base_install_at_import_time():
    assert undeclared(part("contract"), declared(None), top_level_only=True) == {}
    runtime = set().union(*(declared(e) for e in RUNTIME_EXTRAS))
    assert undeclared(part("contract"), runtime) == {}


def test_bench_and_tests_import_only_what_dev_declares():
    tests = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        tests.append(Module("tests." + path.stem, path, ast.parse(path.read_text()), 0))
    assert undeclared(part("bench") + tests, declared("dev")) == {}


def test_extras_keep_their_promises():
    serve, evaluation = declared("serve"), declared("eval")
    assert not {"torch", "transformers", "peft"} & serve  # the serve image stays torch-free
    assert not {"trl", "bitsandbytes", "accelerate", "fschat"} & evaluation  # eval never trains
    assert "fschat" in declared("dev")  # a test oracle only


def test_every_package_folder_is_packaged_and_no_package_data_is_promised():
    """What setuptools' package discovery finds (following the stage links) is every package the
    architecture test reads: no folder left out of the wheel, none packaged that the rules never see."""
    from setuptools import find_packages

    setuptools = PYPROJECT["tool"]["setuptools"]
    found = set(find_packages(str(REPO), **setuptools["packages"]["find"]))
    packages = {
        m.name for m in load_modules(REPO).values() if m.is_package and m.name.startswith("tunebench")
    }
    assert found == packages
    assert "package-dir" not in setuptools and "package-data" not in setuptools


def test_the_stage_folders_are_linked_into_the_package_statically():
    """tunebench/train, tunebench/evaluate and tunebench/serve are relative links to the top-level
    folders: `import tunebench.train.run` finds train/run.py with nothing but the repository on sys.path."""
    for stage in ("train", "evaluate", "serve"):
        link = REPO / "tunebench" / stage
        assert link.is_symlink(), f"tunebench/{stage} is not a link"
        assert Path(link.readlink()) == Path("..") / stage  # relative: survives a clone, a COPY, a move
        assert link.resolve() == (REPO / stage).resolve()
    probe = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p]; "
        f"sys.path.insert(0, {str(REPO)!r}); import tunebench.train, tunebench.evaluate.sql, tunebench.serve; "
        "print(tunebench.train.__file__)"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()).resolve() == (REPO / "train" / "__init__.py").resolve()
