"""The training stage end to end on the tiny model: LoRA, QLoRA, resume, merge, card, manifest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import HANG_S, REPO, run_train, train_cmd
from tunebench.chat.template import IM_END
from tunebench.runs.record import RunManifest
from tunebench.sql.prompt import sql_messages


@pytest.mark.slow
def test_run_leaves_adapter_merged_card_manifest(trained_run):
    assert (trained_run.adapter / "adapter_config.json").exists()
    assert (trained_run.adapter / "adapter_model.safetensors").exists()
    assert list(trained_run.merged.glob("*.safetensors")) and (trained_run.merged / "tokenizer.json").exists()
    assert (
        (trained_run.recipe).exists()
        and (trained_run.logs).is_dir()
        and any(trained_run.logs.rglob("events.*"))
    )
    from huggingface_hub import ModelCard

    card = ModelCard.load(trained_run.merged / "README.md")
    assert card.data.base_model and card.data.library_name == "transformers" and "## Recipe" in card.text
    assert "lora" in card.data.tags and card.data.pipeline_tag == "text-generation"
    adapter_card = ModelCard.load(trained_run.adapter / "README.md")
    assert adapter_card.data.library_name == "peft" and adapter_card.data.base_model == card.data.base_model
    manifest = RunManifest.load(trained_run.manifest)
    t = manifest.training
    assert manifest.method == "lora" and manifest.seed == 0
    assert t.global_step > 0 and t.train_tokens > 0 and t.tokens_per_second > 0
    assert t.peak_memory["peak_rss_mib"] > 0 and t.wall_time_s > 0
    assert manifest.environment["packages"]["trl"] and manifest.environment["packages"]["torch"]
    assert manifest.model.attn_implementation == "sdpa"
    assert t.last_loss < 0.5 * t.first_loss, t.loss_curve
    # The file keeps the shape other tools already read.
    raw = json.loads(trained_run.manifest.read_text())
    assert list(raw)[:10] == [
        "run_name",
        "method",
        "recipe",
        "seed",
        "datasets",
        "model",
        "training",
        "trainable_parameters",
        "paths",
        "environment",
    ]
    assert raw["paths"] == {"adapter": str(trained_run.adapter), "merged": str(trained_run.merged)}
    assert card.data.base_model == manifest.base_model and card.data.datasets == manifest.datasets


@pytest.mark.slow
def test_merged_model_reloads_and_stops_at_im_end(trained_run, embedded):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunebench.embedded.sqlgen import load_split

    tok = AutoTokenizer.from_pretrained(trained_run.merged)
    model = AutoModelForCausalLM.from_pretrained(trained_run.merged).eval()
    assert not any(n.startswith("base_model") or "lora" in n for n, _ in model.named_parameters())
    row = load_split(embedded.data_dir, "train")[0]
    ids = tok.apply_chat_template(
        sql_messages(row["schema"], row["question"]),
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=64, do_sample=False)
    text = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=False)
    assert text.endswith(IM_END), text
    assert text.startswith("SELECT"), text


@pytest.mark.slow
def test_adapter_does_not_carry_more_than_the_recipe_asked(trained_run):
    from safetensors import safe_open

    with safe_open(str(trained_run.adapter / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    # The tiny recipe asks for the embeddings (random base; lm_head is tied to them, so PEFT saves
    # it beside them); nothing else but LoRA matrices.
    assert all("lora_" in k or "embed_tokens" in k or "lm_head" in k for k in keys), keys
    assert not any("norm" in k or ("mlp" in k and "lora_" not in k) for k in keys), keys


@pytest.mark.slow
def test_merged_chat_template_renders_exactly_like_training(trained_run, embedded):
    """The served model sees the training format: same text, same token ids, same answer mask."""
    from transformers import AutoTokenizer

    from tunebench.chat.template import ensure_chatml

    train_tok, _ = ensure_chatml(AutoTokenizer.from_pretrained(embedded.base_dir))
    merged_tok = AutoTokenizer.from_pretrained(trained_run.merged)
    conv = sql_messages("CREATE TABLE t (a INTEGER);", "How many t?", "SELECT COUNT(*) FROM t")
    expected = (
        "<|im_start|>system\n" + conv[0]["content"] + "<|im_end|>\n<|im_start|>user\nHow many t?<|im_end|>\n"
        "<|im_start|>assistant\nSELECT COUNT(*) FROM t<|im_end|>\n"
    )
    assert merged_tok.apply_chat_template(conv, tokenize=False) == expected
    a = train_tok.apply_chat_template(conv, return_dict=True, return_assistant_tokens_mask=True)
    b = merged_tok.apply_chat_template(conv, return_dict=True, return_assistant_tokens_mask=True)
    assert a["input_ids"] == b["input_ids"] and a["assistant_masks"] == b["assistant_masks"]
    prompt = merged_tok.apply_chat_template(conv[:2], tokenize=False, add_generation_prompt=True)
    assert expected.startswith(prompt) and prompt.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint(embedded, tmp_path):
    out = tmp_path / "resume"
    cmd = train_cmd(embedded, out, "--max_steps=12", "--save_steps=4", "--logging_steps=1", "--merge=false")
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    first = out / "checkpoints" / "checkpoint-4" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.exists(), "no first checkpoint"
    time.sleep(0.5)  # let the checkpoint finish writing, then kill hard as a preemption would
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    saved = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*"))
    assert saved and saved[-1] < 12
    run_train(
        embedded,
        out,
        "--max_steps=12",
        "--save_steps=4",
        "--logging_steps=1",
        "--merge=false",
        "--resume=true",
    )
    training = RunManifest.load(out / "manifest.json").training
    assert training.resumed_from.endswith(f"checkpoint-{saved[-1]}")
    assert training.global_step == 12
    steps = [s for s, _ in training.loss_curve]
    assert steps == list(range(1, 13)), "log history continues from the checkpoint, no step twice"


def test_bad_dataset_fails_before_training(embedded, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"schema": "CREATE TABLE t (a INTEGER)", "question": "q", "query": "SELECT 1"}\n'
        '{"schema": "CREATE TABLE t (a INTEGER)", "question": 7, "query": "SELECT 1"}\n'
    )
    out = tmp_path / "bad-run"
    proc = subprocess.run(
        train_cmd(embedded, out, f"--dataset_name={bad}", "--max_steps=2"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert proc.returncode != 0
    assert f"{bad}, row 2, field 'question': expected a string, got int" in proc.stderr
    assert not (out / "checkpoints").exists() and not (out / "adapter").exists()


@pytest.mark.slow
def test_ddp_on_cpu_with_accelerate(embedded, tmp_path):
    """Two processes, DDP on gloo, through accelerate's multi-process launcher on CPU.

    `accelerate launch --cpu --num_processes 2` goes to accelerate's simple launcher and trains in a
    single process (world size 1, checked by hand); `--multi_gpu` with ACCELERATE_USE_CPU=1 starts
    two ranks that TrainingArguments puts on CPU with the gloo backend.
    """
    out = tmp_path / "ddp"
    base = train_cmd(embedded, out, "--max_steps=4", "--save_steps=1000", "--logging_steps=1")
    accel = REPO / ".venv" / "bin" / "accelerate"
    cmd = [
        str(accel) if accel.exists() else "accelerate",
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        *base[1:],
    ]
    env = dict(os.environ, ACCELERATE_USE_CPU="1")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    training = RunManifest.load(out / "manifest.json").training
    assert training.world_size == 2 and training.global_step == 4
    assert (out / "merged" / "config.json").exists()
