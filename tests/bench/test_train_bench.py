"""The training benchmark's own arithmetic and plumbing (bench/): counts, ratios, memory windows,
result files, model configs, wheel lists, and one real two-arm run. Nothing here asserts a timing."""

from __future__ import annotations

import json

import pytest
import torch


def test_batch_counts_measure_padding_from_trl_collators():
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from bench.arm_timing import batch_counts, padding_fraction

    examples = [{"input_ids": [5] * 3}, {"input_ids": [6] * 5}, {"input_ids": [7] * 2}]
    padded = DataCollatorForLanguageModeling(pad_token_id=0)(examples)
    assert batch_counts(padded) == (10, 15, 3)  # 3 rows padded to the longest (5)
    assert padding_fraction(10, 15) == pytest.approx(1 / 3)
    packed = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(examples)
    assert batch_counts(packed) == (10, 10, 3)  # one row, position_ids restart per example, no padding
    assert padding_fraction(0, 0) == 0.0


def test_window_summary_and_paired_ratio():
    from bench.arm_timing import summarize_windows
    from bench.train_report import compare, spread_text

    def arm(name, windows, padding_slots):
        s = summarize_windows(
            [
                {
                    "steps": 2,
                    "seconds": sec,
                    "real": real,
                    "slots": real + padding_slots,
                    "seqs": 4,
                    "forwards": 2,
                }
                for sec, real in windows
            ]
        )
        return {"arm": name, **s, "memory": {"peak_rss_over_start_mib": 100.0 if name == "base" else 50.0}}

    base = arm("base", [(1.0, 1000), (1.0, 1000), (2.0, 1000)], padding_slots=250)
    fast = arm("fast", [(1.0, 2000), (1.0, 1500), (1.0, 1000)], padding_slots=0)
    assert base["tokens_per_s"] == 750.0 and base["padding_fraction"] == 0.2
    assert base["window_tokens_per_s"] == [1000.0, 1000.0, 500.0]
    c = compare(fast, base)
    assert c["window_ratios"] == [2.0, 1.5, 2.0]
    assert c["median_window_ratio"] == 2.0
    # inclusive quartiles of [1.5, 2.0, 2.0]: 1.75 and 2.0
    assert c["window_ratio_iqr"] == [1.75, 2.0]
    assert spread_text(c) == "middle half of 3 paired windows 1.75-2.00x, all 1.50-2.00x"
    assert c["tokens_per_s_ratio"] == pytest.approx(4500 / 3 / 750, abs=1e-3)
    assert c["padding_only_bound"] == 1.25
    assert c["memory_ratio"] == 0.5


def test_peak_memory_covers_only_its_window():
    from bench.memory import PeakMemory

    with PeakMemory() as big:
        block = bytearray(300 * 2**20)  # zero-filled: every page touched
        block[::4096] = b"\x01" * len(block[::4096])
    del block
    with PeakMemory() as small:
        sum(range(1000))
    assert big.result()["peak_rss_over_start_mib"] >= 250
    assert small.result()["peak_rss_over_start_mib"] < 100  # the peak mark was reset, not inherited


def test_write_result_adds_provenance_and_rebuilds_summary(tmp_path):
    from bench.common import write_result

    (tmp_path / "broken.json").write_text("{not json")
    path = write_result(
        "demo", {"summary_rows": [{"figure": "x / y", "value": "1.50x", "note": "a|b"}]}, tmp_path
    )
    data = json.loads(path.read_text())
    assert {"benchmark", "date", "machine", "command"} <= data.keys() and data["benchmark"] == "demo"
    summary = (tmp_path / "summary.md").read_text()
    assert "| demo | x / y | 1.50x | a\\|b |" in summary
    write_result("other", {"summary_rows": [{"figure": "z", "value": "2", "note": ""}]}, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "| demo | x / y |" in summary and "| other | z | 2 |" in summary


@pytest.mark.parametrize(
    ("name", "billions"), [("codellama-7b", 6.74), ("mistral-7b", 7.24), ("gemma-7b", 8.54)]
)
def test_inline_7b_configs_have_the_published_parameter_counts(name, billions):
    from transformers import AutoConfig, AutoModelForCausalLM

    from bench.gpu_models import MODELS, shrink

    arch = MODELS[name]["arch"]
    params = {k: v for k, v in arch.items() if k != "model_type"}
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(arch["model_type"], **params))
    assert sum(p.numel() for p in model.parameters()) / 1e9 == pytest.approx(billions, abs=0.01)
    small = shrink(arch)
    assert small["model_type"] == arch["model_type"] and small["vocab_size"] == arch["vocab_size"]
    assert small["hidden_size"] < arch["hidden_size"]


def test_synthetic_rows_follow_the_length_model(embedded, tmp_path):
    from bench.gpu_models import SQL_CREATE_CONTEXT_LENGTHS, write_synthetic_messages

    stats = write_synthetic_messages(
        tmp_path / "train.jsonl", embedded.base_dir, 200, SQL_CREATE_CONTEXT_LENGTHS, max_length=3072
    )
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and [m["role"] for m in rows[0]["messages"]] == ["system", "user", "assistant"]
    assert stats["measured_median_tokens"] == pytest.approx(SQL_CREATE_CONTEXT_LENGTHS["median"], rel=0.15)
    assert stats["measured_p90_tokens"] > stats["measured_median_tokens"]  # lengths vary


def test_wheel_list_follows_requirements_for_the_target_but_not_torch():
    from bench.gpu_wheels import closure, install_requirements, target_env

    pins = closure(["trl", "bitsandbytes", "datasets"], target_env("3.12"))
    assert {"trl", "bitsandbytes", "datasets", "transformers", "accelerate", "pyarrow"} <= pins.keys()
    assert "torch" not in pins and not any(n.startswith("nvidia") for n in pins)
    reqs = install_requirements(pins)
    assert f"trl=={pins['trl']}" in reqs and f"transformers>={pins['transformers']}" in reqs


@pytest.mark.slow
def test_two_arms_run_and_count_padding(embedded, tmp_path):
    """The real runner: plain TRL and the tiny recipe, one short window each, in child processes."""
    from bench.arm_runner import REPO, run_arms

    data = tmp_path / "train.jsonl"
    data.write_text("".join((embedded.data_dir / "train.jsonl").read_text().splitlines(keepends=True)[:200]))
    common = {
        "recipe": str(REPO / "recipes" / "tiny-text-to-sql.yaml"),
        "model": str(embedded.base_dir),
        "dataset": str(data),
        "dataset_format": "text2sql",
        "threads": 1,
        "warmup_steps": 1,
        "windows": 1,
        "window_s": 0.1,
        "logging_steps": 1,
    }
    specs = [
        {**common, "name": "trl_plain", "kind": "plain", "plain_batch": [8, 1], "gradient_checkpointing": False,
         "output_dir": str(tmp_path / "plain")},
        {**common, "name": "tunebench", "kind": "tunebench", "output_dir": str(tmp_path / "tb")},
    ]  # fmt: skip
    arms = run_arms(specs, tmp_path, tmp_path / "logs", interleave=True, label="test")
    plain, tb = arms["trl_plain"], arms["tunebench"]
    assert "error" not in plain, plain.get("error")
    assert "error" not in tb, tb.get("error")
    assert plain["settings"]["packing"] is False and plain["padding_fraction"] > 0
    assert plain["trained_tokens"] < plain["token_slots"]
    assert plain["forwards_per_step"] == 1 and plain["sequences"] == 8 * plain["timed_steps"]
    # the CPU recipe as `make train` runs it: unpacked, 8 padded rows x 4 accumulated (docs/bench.md)
    assert tb["settings"]["packing"] is False and tb["padding_fraction"] > 0
    assert tb["forwards_per_step"] == 4 and tb["sequences"] == 32 * tb["timed_steps"]
    assert tb["settings"]["torch_threads"] == 1 and tb["memory"]["peak_rss_mib"] > 0
