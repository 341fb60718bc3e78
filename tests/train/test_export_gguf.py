"""Back to GGUF and in again: a merged model exported as a `.gguf` file answers like the folder it came
from once transformers loads it back, and a `.gguf` file works as the base of a training run."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from tests.conftest import HANG_S, REPO, train_cmd


def _answers(spec, conversations):
    from tunebench.chat import GenerationSettings, open_chat_model

    model = open_chat_model(str(spec), GenerationSettings(max_new_tokens=48), batch_size=8)
    try:
        return model.generate(conversations), model.render(conversations[0])
    finally:
        model.close()


def test_an_exported_gguf_answers_like_its_merged_folder(trained_run, embedded, tmp_path, monkeypatch):
    from gguf import GGUFReader

    from tunebench.chat import ModelSpec
    from tunebench.sql.prompt import sql_messages
    from tunebench.train.export_gguf import export_gguf

    monkeypatch.setenv("TUNEBENCH_MODELS", str(tmp_path / "models"))
    out = export_gguf(trained_run.merged, tmp_path / "tiny-f16.gguf", out_type="f16")
    fields = GGUFReader(out).fields
    assert fields["general.architecture"].contents() == "llama"
    assert fields["tokenizer.ggml.model"].contents() == "gpt2"
    template = fields["tokenizer.chat_template"].contents()
    assert "add_generation_prompt" in template and "{% generation %}" not in template  # plain for llama.cpp
    assert "endgeneration" not in template
    rows = [json.loads(line) for line in (embedded.data_dir / "test.jsonl").read_text().splitlines()[:16]]
    conversations = [sql_messages(r["schema"], r["question"]) for r in rows]
    folder = ModelSpec.parse(out).ref  # transformers' GGUF loader, through the one model spec
    exported, exported_prompt = _answers(folder, conversations)
    merged, merged_prompt = _answers(trained_run.merged, conversations)
    assert exported_prompt == merged_prompt
    assert exported == merged and len(set(merged)) > 1


def test_q8_0_is_written_and_loads(trained_run, tmp_path, monkeypatch):
    from gguf import GGUFReader

    from tunebench.chat import ModelSpec

    monkeypatch.setenv("TUNEBENCH_MODELS", str(tmp_path / "models"))
    cli = [sys.executable, "-m", "tunebench.train.export_gguf", str(trained_run.merged), "--type", "q8_0"]
    cli += ["--out", str(tmp_path / "tiny-q8_0.gguf")]
    proc = subprocess.run(cli, cwd=REPO, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    types = {t.tensor_type.name for t in GGUFReader(tmp_path / "tiny-q8_0.gguf").tensors}
    assert "Q8_0" in types and "F32" in types  # matrices quantized, norms kept in f32
    assert ModelSpec.parse(tmp_path / "tiny-q8_0.gguf").kind == "local"


def test_a_gguf_file_is_a_training_base(trained_run, embedded, tmp_path):
    from tunebench.runs.record import RunManifest
    from tunebench.train.export_gguf import export_gguf

    gguf_file = export_gguf(trained_run.merged, tmp_path / "base.gguf", out_type="f16")
    out = tmp_path / "run"
    cmd = train_cmd(embedded, out, f"--model_name_or_path={gguf_file}", "--max_steps=2", "--report_to=none")
    cmd += ["--fidelity_samples=2"]
    env = {**os.environ, "TUNEBENCH_MODELS": str(tmp_path / "models")}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    run = RunManifest.load(out / "manifest.json")
    assert run.base_model.startswith(str(tmp_path / "models" / "gguf" / "base-"))
    assert run.extra["base_gguf"]["sha256"] == hashlib.sha256(gguf_file.read_bytes()).hexdigest()
    assert (out / "merged" / "config.json").is_file()


def test_a_folder_that_is_not_a_model_is_one_line(tmp_path):
    cli = [sys.executable, "-m", "tunebench.train.export_gguf", str(tmp_path)]
    proc = subprocess.run(cli, cwd=REPO, capture_output=True, text=True, timeout=HANG_S)
    assert (
        proc.returncode == 2
        and proc.stderr.strip() == f"error: {tmp_path}: not a model folder (no config.json)"
    )
