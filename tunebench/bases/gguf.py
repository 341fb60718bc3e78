"""A local `.gguf` file (llama.cpp, Ollama, a pip package) as a base model folder, converted once.

Anywhere a model folder works, `path/model.gguf` does too: `from_gguf(path)` returns a normal
Hugging Face folder (safetensors, tokenizer, the file's own chat template, a model card and
`tunebench_gguf.json`, the record of where it came from). The conversion is transformers' own GGUF
loader (`from_pretrained(..., gguf_file=...)`) with `GgufConfig(dequantize=True)`, which unpacks every
block into a plain dense model that `save_pretrained` accepts: quantized weights come back as their
dequantized values, not as the original full-precision weights, and the card says so.

Converted folders live under `models/gguf/<stem>-<sha256[:12]>/`: the same file converts once, a
changed file (other content, same name) gets a folder of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

from tunebench.runs.atomic_io import atomic_path, atomic_write_json, atomic_write_text
from tunebench.runs.paths import models_root

log = logging.getLogger(__name__)

GGUF_SUFFIX = ".gguf"
GGUF_MARKER = "tunebench_gguf.json"  # what the folder was converted from
# The GGUF metadata keys a model card and a record keep (llama.cpp's general.* naming).
_GENERAL = ("name", "organization", "basename", "finetune", "size_label", "license", "architecture")


class GgufError(ValueError):
    """A GGUF file that cannot be used as a base, in one sentence naming the file."""


def is_gguf(spec: str | Path) -> bool:
    return str(spec).lower().endswith(GGUF_SUFFIX)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_file(path: Path) -> dict:
    """The file's identity and what it holds: sha256, size, its general.* metadata, tensor types."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except (ValueError, OSError) as err:
        raise GgufError(f"{path}: not a readable GGUF file ({err})") from None
    general = {}
    for key in _GENERAL:
        field = reader.fields.get(f"general.{key}")
        if field is not None:
            general[key] = field.contents()
    stat = path.stat()
    return {
        "file": path.name,
        "path": str(path.resolve()),
        "sha256": sha256_of(path),
        "size_bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "metadata": general,
        "tensor_types": dict(Counter(t.tensor_type.name for t in reader.tensors).most_common()),
    }


def weights_note(tensor_types: dict) -> str:
    """What the folder's weights are, said plainly (quantized blocks are not the original weights)."""
    quantized = [t for t in tensor_types if t not in ("F32", "F16", "BF16")]
    if not quantized:
        return "weights as stored in the GGUF file (" + ", ".join(tensor_types) + ")"
    return (
        "weights dequantized from " + ", ".join(quantized) + " (GGUF) to float32: the quantized values, "
        "not the original full-precision weights"
    )


def _cached_folder(path: Path, root: Path) -> Path | None:
    """A folder already converted from this very file (same path, size and modification time)."""
    stat = path.stat()
    for marker in sorted(root.glob(f"*/{GGUF_MARKER}")):
        try:
            source = json.loads(marker.read_text())["source"]
        except (OSError, ValueError, KeyError):
            continue
        if (source.get("path"), source.get("size_bytes"), source.get("mtime_ns")) == (
            str(path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
        ):
            return marker.parent
    return None


def gguf_cache_root() -> Path:
    return models_root() / "gguf"


def from_gguf(path: str | Path, out: str | Path | None = None, *, provenance: dict | None = None) -> Path:
    """The model folder for a GGUF file: `out`, or its cached conversion under models/gguf/, converted
    now if there is none. `provenance` (a pip package, say) is added to the record and the card."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GgufError(f"{path}: no such GGUF file")
    if out is None:
        cached = _cached_folder(path, gguf_cache_root())
        if cached is not None:
            return cached
    source = describe_file(path)
    target = Path(out) if out is not None else gguf_cache_root() / f"{path.stem}-{source['sha256'][:12]}"
    marker = target / GGUF_MARKER
    if marker.is_file() and json.loads(marker.read_text())["source"]["sha256"] == source["sha256"]:
        return target
    convert(path, target, source, provenance or {})
    return target


def convert(path: Path, target: Path, source: dict, provenance: dict) -> None:
    """Dequantize `path` with transformers and save it as a model folder at `target`, whole or not at all."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    log.info("converting %s (%s) into %s", path, ", ".join(source["tensor_types"]), target)
    kwargs = {"gguf_file": path.name}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            path.parent,
            **kwargs,
            dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True),
        )
    except (ValueError, KeyError, NotImplementedError) as err:  # an architecture transformers cannot read
        raise GgufError(f"{path}: transformers cannot load it ({str(err).splitlines()[0]})") from None
    if getattr(model, "hf_quantizer", None) is not None:  # an older transformers that keeps GGUF blocks
        raise GgufError(f"{path}: transformers {transformers.__version__} kept it quantized; need >= 5.0")
    model.config.name_or_path = str(target)
    record = {
        "source": source,
        **provenance,
        "weights": weights_note(source["tensor_types"]),
        "dtype": "float32",
        "converted_with": {"transformers": transformers.__version__, "gguf": _gguf_version()},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, is_dir=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / GGUF_MARKER, record)
        atomic_write_text(tmp / "README.md", model_card(record))


def _gguf_version() -> str:
    from importlib.metadata import version

    return version("gguf")


def read_record(folder: str | Path) -> dict | None:
    """The conversion record of a folder made from a GGUF file, or None for any other folder."""
    marker = Path(folder) / GGUF_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None


def model_card(record: dict) -> str:
    src, meta = record["source"], record["source"].get("metadata", {})
    package = record.get("package")
    license_id = (package or {}).get("license") or meta.get("license") or "unknown"
    front = ["---", f"license: {str(license_id).lower()}", "library_name: transformers"]
    if record.get("original"):
        front.append(f"base_model: {record['original']}")
    front += ["tags:", "- gguf", "- tunebench", "---", ""]
    where = f"`{src['file']}`"
    if package:
        where += f" from the pip package `{package['name']}` {package['version']}"
    lines = [
        f"# {record.get('original') or meta.get('name') or src['file']}",
        "",
        f"Converted by tunebench from the GGUF file {where} with transformers' GGUF loader.",
        "",
        f"- **Weights**: {record['weights']}.",
        f"- **Source file**: sha256 `{src['sha256']}`, {src['size_bytes']:,} bytes; tensor types "
        + ", ".join(f"{k} x{v}" for k, v in src["tensor_types"].items())
        + ".",
        f"- **License**: {license_id}"
        + (f" (the package's; the file says {meta['license']})" if package and meta.get("license") else "")
        + ".",
        "- **Chat template**: the file's own (`tokenizer.chat_template`), kept as is.",
        f"- **GGUF metadata**: {', '.join(f'{k}: {v}' for k, v in meta.items()) or 'none'}.",
        f"- **Converted with**: transformers {record['converted_with']['transformers']}, "
        f"gguf {record['converted_with']['gguf']}.",
        "",
    ]
    return "\n".join(front + lines)
