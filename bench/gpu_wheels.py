"""Wheels for an offline GPU benchmark machine: `python -m bench.gpu_wheels [--dest bench/wheels]`.

A GPU machine may have torch, transformers, peft and accelerate but not trl, bitsandbytes or datasets,
and no network. This downloads, for x86-64 Linux and CPython 3.12 (`--python-version`), the versions
this venv was tested with of trl, bitsandbytes, datasets, liger-kernel and everything they and the
training stack need, except torch and what only torch needs (nvidia-*, triton, sympy...: the GPU
machine's CUDA torch brings those). `bench/gpu_env.sh` then installs from the folder with
`pip --no-index`: pip takes what is already installed when it fits, and the folder for the rest.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# exact versions: what the GPU machine lacks, and the benchmark was written against
MISSING = {"trl", "bitsandbytes", "datasets", "liger-kernel"}
# at least these versions: a GPU image often has them, possibly older than tunebench needs
AT_LEAST = {"transformers", "peft", "accelerate", "tokenizers", "safetensors", "huggingface-hub"}
BUILD = {"setuptools", "wheel"}  # `pip install -e .` without build isolation (no network)
NOT_DOWNLOADED = {"torch", "triton"}  # the machine's CUDA build; never replaced
LIGER_VERSION = "0.8.5"  # not in this CPU venv (it needs triton); supports transformers 5
PLATFORMS = [f"manylinux_2_{v}_x86_64" for v in (28, 27, 26, 24, 17, 12, 5)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]


def target_env(python_version: str) -> dict:
    return {
        "python_version": python_version,
        "python_full_version": python_version + ".0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def closure(top: list[str], env: dict, stop: set[str] = NOT_DOWNLOADED) -> dict[str, str]:
    """{distribution: installed version} for `top` and their requirements on the target, per this venv.

    Requirements are followed through installed metadata with markers evaluated for the target
    (Linux x86-64, the target Python), extras included; `stop` and everything only it needs are left out.
    """
    found: dict[str, set[str]] = {}
    stack = [(canonicalize_name(t), frozenset()) for t in top]
    while stack:
        name, extras = stack.pop()
        if name in stop:
            continue
        if name in found and extras <= found[name]:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            print(
                f"warning: {name} is not installed here; add it by hand if the target needs it",
                file=sys.stderr,
            )
            continue
        found.setdefault(name, set()).update(extras)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in [*extras, ""]):
                stack.append((canonicalize_name(req.name), frozenset(req.extras)))
    return {name: md.version(name) for name in sorted(found)}


def install_requirements(pins: dict[str, str]) -> list[str]:
    """The top-level requirement lines `pip install` gets on the GPU machine."""
    lines = [f"{n}=={pins[n]}" for n in sorted(MISSING) if n in pins]
    lines += [f"{n}>={pins[n]}" for n in sorted(AT_LEAST) if n in pins]
    return [*lines, "setuptools>=68"]  # pyproject's build backend, for the editable install of tunebench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", default=str(Path(__file__).resolve().parent / "wheels"))
    ap.add_argument("--python-version", default="3.12")
    ap.add_argument("--no-liger", action="store_true", help="leave Liger kernels out")
    args = ap.parse_args(argv)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    env = target_env(args.python_version)
    pins = closure(sorted((MISSING | AT_LEAST | BUILD) - {"liger-kernel"}), env)
    if not args.no_liger:
        pins["liger-kernel"] = LIGER_VERSION  # its requirements are torch and triton only
    platform_args = [a for p in PLATFORMS for a in ("--platform", p)]
    cmd = [
        sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--dest", str(dest),
        "--python-version", args.python_version, "--implementation", "cp", *platform_args,
        *[f"{n}=={v}" for n, v in pins.items()],
    ]  # fmt: skip
    print(f"downloading {len(pins)} wheels for CPython {args.python_version} x86-64 into {dest}")
    subprocess.run(cmd, check=True)
    reqs = install_requirements(pins)
    (dest / "requirements.txt").write_text(
        "# installed by bench/gpu_env.sh with pip --no-index --find-links bench/wheels\n"
        + "\n".join(reqs)
        + "\n"
    )
    (dest / "downloaded.txt").write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))
    size = sum(f.stat().st_size for f in dest.glob("*.whl")) / 2**20
    print(
        f"{len(list(dest.glob('*.whl')))} wheels, {size:.0f} MiB; install list: {dest / 'requirements.txt'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
