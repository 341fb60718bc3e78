"""Packed examples must not attend to each other (REFERENCE.md: two probes disagreed on CPU).

TRL's `bfd` packing is padding-free: examples are concatenated in one row, `position_ids` restart
at 0 for each, and no attention mask is passed. transformers then builds a block-diagonal mask
from the position ids, but only when no KV cache is in play: a forward pass with the cache on
(the config default, what a probe calling the model directly gets) leaks across examples by up to
0.6 in the logits. SFTTrainer forces `use_cache=False` in `compute_loss`, so training is clean;
these tests prove it on the attention the CPU recipe uses (SDPA), through the trainer itself.
"""

from __future__ import annotations

import torch


def _examples(tok):
    a = tok("SELECT name FROM employees WHERE salary > 50", add_special_tokens=False)["input_ids"]
    b = tok("SELECT COUNT(*) FROM orders", add_special_tokens=False)["input_ids"]
    return torch.tensor(a), torch.tensor(b)


def _model(embedded, attn="sdpa"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded.base_dir)
    model = AutoModelForCausalLM.from_pretrained(
        embedded.base_dir, attn_implementation=attn, dtype=torch.float32
    )
    return model.eval(), tok


def test_trl_padding_free_collator_sends_position_ids_and_no_mask():
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)
    batch = collator(
        [{"input_ids": [5, 6, 7], "seq_lengths": [2, 1]}, {"input_ids": [8, 9], "seq_lengths": [2]}]
    )
    assert "attention_mask" not in batch
    assert batch["position_ids"].tolist() == [[0, 1, 0, 0, 1]]


def test_packed_sequence_matches_each_example_alone(embedded):
    model, tok = _model(embedded)
    a, b = _examples(tok)
    with torch.inference_mode():
        alone_a = model(input_ids=a[None], use_cache=False).logits[0]
        alone_b = model(input_ids=b[None], use_cache=False).logits[0]
        packed = model(
            input_ids=torch.cat([a, b])[None],
            use_cache=False,
            position_ids=torch.cat([torch.arange(len(a)), torch.arange(len(b))])[None],
        ).logits[0]
    torch.testing.assert_close(packed[: len(a)], alone_a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed[len(a) :], alone_b, atol=1e-5, rtol=1e-5)


def test_the_check_can_fail_when_examples_do_see_each_other(embedded):
    """Controls: a plain causal mask over the row, or the KV cache on, lets example b see example a."""
    model, tok = _model(embedded)
    a, b = _examples(tok)
    ids = torch.cat([a, b])[None]
    pos = torch.cat([torch.arange(len(a)), torch.arange(len(b))])[None]
    with torch.inference_mode():
        alone_b = model(input_ids=b[None], use_cache=False).logits[0]
        masked = model(input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=pos, use_cache=False)
        cached = model(input_ids=ids, position_ids=pos, use_cache=True)
    assert (masked.logits[0, len(a) :] - alone_b).abs().max() > 1e-3
    assert (cached.logits[0, len(a) :] - alone_b).abs().max() > 1e-3


def test_sft_trainer_packed_batch_equals_examples_alone(embedded, tmp_path):
    """The real training path: a bfd-packed batch from SFTTrainer's dataloader through its compute_loss."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from tunebench.train.sources import load_messages

    tok = AutoTokenizer.from_pretrained(embedded.base_dir)
    model = AutoModelForCausalLM.from_pretrained(embedded.base_dir, attn_implementation="sdpa")
    data = load_messages(str(embedded.data_dir / "train.jsonl")).select(range(24))
    args = SFTConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        packing=True,
        packing_strategy="bfd",
        max_length=512,
        assistant_only_loss=True,
        per_device_train_batch_size=1,
        report_to=[],
        max_steps=1,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    batch = next(iter(trainer.get_train_dataloader()))
    assert "attention_mask" not in batch
    pos = batch["position_ids"][0]
    starts = (pos == 0).nonzero().flatten().tolist() + [len(pos)]
    assert len(starts) > 3, "several examples share the packed row"
    model.eval()
    with torch.inference_mode():
        _, out = trainer.compute_loss(model, dict(batch), return_outputs=True)
        for s, e in zip(starts[:-1], starts[1:], strict=True):
            alone = model(input_ids=batch["input_ids"][:, s:e], use_cache=False).logits[0]
            torch.testing.assert_close(out.logits[0, s:e], alone, atol=1e-4, rtol=1e-4)
