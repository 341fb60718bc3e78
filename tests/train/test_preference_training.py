"""DPO on the tiny SFT model: the loss goes down and, on held-out pairs it never trained on, the policy's
log-probability margin of chosen over rejected grows."""

from __future__ import annotations

import pytest

from tunebench.data.jsonl import read_jsonl, write_jsonl
from tunebench.sql.prompt import sql_messages

pytestmark = pytest.mark.slow


def _pairs(rows):
    """The gold query chosen; rejected, the same query with FROM misspelt: an answer that fails to run,
    the kind execution feedback rejects."""
    return [
        {
            "prompt": sql_messages(row["schema"], row["question"]),
            "chosen": row["query"],
            "rejected": row["query"].replace(" FROM ", " FORM ", 1),
        }
        for row in rows
        if " FROM " in row["query"]
    ]


def _data_args(train, heldout, kind):
    from tunebench.train.args import TunebenchArguments

    return TunebenchArguments(
        trainer=kind,
        dataset_name=str(train),
        dataset_format="preference",
        dataset_test_split=str(heldout),
        sample_seed=0,
    )


def _build(kind, trained_run, embedded, tmp_path, n_train, n_heldout, **config):
    """A preference trainer on the tiny SFT model: the same LoRA setup and CPU settings for every kind,
    pairs from the first training rows, held-out pairs from the test split."""
    from trl import ModelConfig

    from tunebench.train.assemble import build_trainer
    from tunebench.train.recipe import Recipe, config_class

    write_jsonl(tmp_path / "train.jsonl", _pairs(read_jsonl(embedded.data_dir / "train.jsonl")[:n_train]))
    write_jsonl(tmp_path / "heldout.jsonl", _pairs(read_jsonl(embedded.data_dir / "test.jsonl")[:n_heldout]))
    cfg = config_class(kind)(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        learning_rate=5e-4,
        beta=0.1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        max_length=512,
        seed=0,
        **config,
    )
    model_args = ModelConfig(
        model_name_or_path=str(trained_run.merged),
        dtype="float32",
        use_peft=True,
        lora_r=16,
        lora_alpha=32,
        lora_target_modules=["all-linear"],
        attn_implementation="auto",
    )
    built = build_trainer(
        Recipe(_data_args(tmp_path / "train.jsonl", tmp_path / "heldout.jsonl", kind), cfg, model_args)
    )
    return (
        built.trainer,
        built.tokenizer,
        built.peft_config,
        built.model_info,
        built.train_dataset,
        built.preference,
    )


def test_dpo_loss_goes_down_and_the_heldout_margin_grows(trained_run, embedded, tmp_path):
    trainer, _, peft_config, _, train_ds, record = _build(
        "dpo",
        trained_run,
        embedded,
        tmp_path,
        160,
        64,
        max_steps=30,
        lr_scheduler_type="cosine",
        logging_steps=5,
    )
    assert peft_config is not None and trainer.ref_model is None  # reference = adapter disabled
    assert record.to_dict() == {
        "trainer": "dpo",
        "beta": 0.1,
        "reference_model": f"{trained_run.merged} (adapter disabled)",
        "data": {"rows": 160, "pairs": 160, "ties": 0, "dropped": {}},
        "eval_pairs": 64,
    }
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    assert before["eval_loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at the start
    assert after["eval_loss"] < before["eval_loss"] - 0.1
    margin_before = before["eval_logps/chosen"] - before["eval_logps/rejected"]
    margin_after = after["eval_logps/chosen"] - after["eval_logps/rejected"]
    assert margin_after > margin_before + 5, (margin_before, margin_after)
    assert after["eval_rewards/margins"] > 0 and after["eval_rewards/accuracies"] > 0.9
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert sum(losses[-2:]) / 2 < losses[0], losses


@pytest.mark.parametrize("kind", ["orpo", "kto"])
def test_orpo_and_kto_train_on_the_same_pairs_and_their_heldout_loss_falls(
    kind, trained_run, embedded, tmp_path
):
    """ORPO (odds ratio, no reference) and KTO (each pair split into a desirable and an undesirable
    completion) train through the same builder, from the same SFT model, on the same pairs."""
    trainer, _, _, _, train_ds, record = _build(
        kind, trained_run, embedded, tmp_path, 96, 32, max_steps=16, logging_steps=4
    )
    if kind == "kto":  # unpaired: every pair became a desirable and an undesirable completion
        assert set(train_ds.column_names) >= {"prompt", "completion", "label"}
        assert len(train_ds) == 2 * record.data["pairs"] and sum(train_ds["label"]) == record.data["pairs"]
        assert record.reference_model == f"{trained_run.merged} (adapter disabled)"
    else:
        assert record.reference_model is None  # the odds ratio needs no reference policy
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    assert after < before - 0.05, (before, after)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 4 and losses[-1] < losses[0], losses
