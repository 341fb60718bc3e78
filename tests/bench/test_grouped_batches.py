"""Why length-grouped batches learned nothing on the embedded data (docs/bench.md, issue 15).

Collated batches of the tiny recipe, taken from SFTTrainer's own dataloader: the labels are right in
every configuration (assistant tokens and their `<|im_end|>` trained, prompt and padding masked, pad is
not eos), so the loss path is not the cause. What differs is which examples share a batch: the
embedded questions come from templates, each with a narrow band of token lengths, so
`train_sampling_strategy=group_by_length` fills a batch with one or two templates. Every step then
rewards the template's answer whatever the question says, and the model learns to ignore the question.
"""

from __future__ import annotations

import json

import pytest


def _trainer(embedded, tmp_path, *overrides):
    from tunebench.train.assemble import build_trainer
    from tunebench.train.recipe import parse_recipe

    recipe = parse_recipe(
        ["--config", "recipes/tiny-text-to-sql.yaml", "--embedded=false", "--report_to=none",
         f"--model_name_or_path={embedded.base_dir}", f"--dataset_name={embedded.data_dir / 'train.jsonl'}",
         f"--output_dir={tmp_path / 'out'}", "--packing=false", "--per_device_train_batch_size=32",
         "--gradient_accumulation_steps=1", *overrides]
    )  # fmt: skip
    built = build_trainer(recipe)
    return built.trainer, built.tokenizer


def _batches(embedded, tmp_path, n, *overrides):
    """(tokenizer, the first n collated batches, the template of every row of each batch)."""
    import torch

    torch.manual_seed(0)
    trainer, tok = _trainer(embedded, tmp_path, *overrides)
    rows = [json.loads(line) for line in (embedded.data_dir / "train.jsonl").read_text().splitlines()]
    by_ids = {tuple(ids): rows[i]["template"] for i, ids in enumerate(trainer.train_dataset["input_ids"])}
    batches, templates = [], []
    for batch, _ in zip(trainer.get_train_dataloader(), range(n), strict=False):
        batches.append(batch)
        mask = batch["attention_mask"].bool()
        templates.append(
            [by_ids[tuple(ids[m].tolist())] for ids, m in zip(batch["input_ids"], mask, strict=True)]
        )
    return tok, batches, templates


def _check_labels(tok, batch):
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"].bool()
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.pad_token_id != tok.eos_token_id and tok.eos_token_id == im_end
    assert (labels[~mask] == -100).all()  # padding never trained
    trained = labels != -100
    assert (labels[trained] == ids[trained]).all()
    for row_ids, row_trained, row_mask in zip(ids, trained, mask, strict=True):
        ends = (row_ids == im_end).nonzero().flatten()
        assert len(ends) == 3  # system, user and assistant turns each end with <|im_end|>
        assert row_trained[ends[-1]] and not row_trained[ends[:2]].any()  # only the answer's end is trained
        answer = tok.decode(row_ids[row_trained])
        assert answer.startswith("SELECT") and answer.endswith("<|im_end|>")
        assert row_mask[: int(row_mask.sum())].all()  # right padding: real tokens first


@pytest.mark.slow
def test_grouped_batches_are_one_template_while_labels_stay_right(embedded, tmp_path):
    tok, grouped, grouped_templates = _batches(
        embedded, tmp_path / "g", 16, "--train_sampling_strategy=group_by_length"
    )
    _, shuffled, random_templates = _batches(embedded, tmp_path / "r", 16)
    for batch in (*grouped[:4], *shuffled[:4]):
        _check_labels(tok, batch)

    def distinct(templates):
        return [len(set(t)) for t in templates]

    grouped_distinct, random_distinct = distinct(grouped_templates), distinct(random_templates)
    # grouped: 16 batches of 32 rows from a handful of templates each (measured: 1-6 of 21, by build);
    # random: about half of the 21 templates in every batch (measured: 9-14)
    assert max(grouped_distinct) <= 7 and min(grouped_distinct) <= 3
    assert min(random_distinct) >= 8
    assert sum(grouped_distinct) * 2 < sum(random_distinct)
    # the padding it saves is real (why it looked attractive): near-equal lengths in a grouped batch
    spread = [int(b["attention_mask"].sum(1).max() - b["attention_mask"].sum(1).min()) for b in grouped]
    assert sorted(spread)[len(spread) // 2] <= 10
