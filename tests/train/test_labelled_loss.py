"""The CPU loss that projects only labelled positions gives TRL's loss, gradients and metrics exactly.

Both trainers are built by `build_trainer` from the tiny recipe (PEFT LoRA, trained tied embeddings,
assistant-only loss) with the same seed, so their LoRA weights start equal, and are fed the same batch
from SFTTrainer's own dataloader. The speed it buys is measured in bench/ (docs/bench.md), not here.
"""

from __future__ import annotations

import pytest
import torch

from tests.conftest import train_cmd


def _parsed(embedded, out, *extra):
    """The recipe's arguments as `make train` passes them (conftest's command line, minus the interpreter)."""
    from tunebench.train.recipe import parse_recipe

    argv = train_cmd(embedded, out, "--report_to=none", *extra)[3:]
    assert argv[0] == "--config"
    return parse_recipe(argv)


def _trainer(embedded, tmp_path, cls, *extra):
    from tunebench.train.assemble import build_trainer

    recipe = _parsed(embedded, tmp_path / cls.__name__, "--max_steps=1", *extra)
    torch.manual_seed(0)
    trainer = build_trainer(recipe, trainer_cls=cls).trainer
    trainer.model.train()
    return trainer


def _pair(embedded, tmp_path, *extra):
    from trl import SFTTrainer

    from tunebench.train.labelled_loss import LabelledLossSFTTrainer

    return _trainer(embedded, tmp_path, SFTTrainer, *extra), _trainer(
        embedded, tmp_path, LabelledLossSFTTrainer, *extra
    )


def _loss_and_grads(trainer, batch, **kwargs):
    trainer.model.zero_grad()
    loss = trainer.compute_loss(trainer.model, dict(batch), **kwargs)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _assert_same(trl, ours, batch, **kwargs):
    loss_a, grads_a = _loss_and_grads(trl, batch, **kwargs)
    loss_b, grads_b = _loss_and_grads(ours, batch, **kwargs)
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-5, atol=1e-6)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) > 10
    for name, grad in grads_a.items():
        if grad.dtype == torch.bfloat16:  # QLoRA on CPU trains bf16 weights: equal to bf16's resolution
            gap = (grads_b[name].float() - grad.float()).abs().max()
            assert gap <= 1e-2 * grad.float().abs().max() + 1e-8, name
        else:
            torch.testing.assert_close(grads_b[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    for key in ("entropy", "mean_token_accuracy", "num_tokens"):
        assert ours._metrics["train"][key] == pytest.approx(trl._metrics["train"][key], rel=1e-5), key


@pytest.mark.parametrize(
    "extra",
    [
        (),  # the recipe: unpacked, padded batches of 8
        ("--packing=true", "--per_device_train_batch_size=1"),  # padding-free bfd packing, no attention mask
        ("--load_in_4bit=true",),  # QLoRA on CPU: NF4 base, bf16 head copy under modules_to_save
    ],
    ids=["padded", "packed", "qlora"],
)
def test_same_loss_gradients_and_metrics_as_trl(embedded, tmp_path, extra):
    from tunebench.train.labelled_loss import compact_loss_applies

    trl, ours = _pair(embedded, tmp_path, *extra)
    batch = next(iter(trl.get_train_dataloader()))
    assert compact_loss_applies(ours, ours.model, batch), (
        "the case under test takes the labelled-positions path"
    )
    labelled = (batch["labels"][:, 1:] != -100).float().mean().item()
    assert labelled < 0.5, "assistant-only loss: most positions are prompt, which is what the path skips"
    _assert_same(trl, ours, batch)
    # Under gradient accumulation Trainer divides by the whole step's token count.
    _assert_same(trl, ours, batch, num_items_in_batch=torch.tensor(1000))


def test_a_micro_batch_without_labels_is_a_differentiable_zero(embedded, tmp_path):
    trl, ours = _pair(embedded, tmp_path)
    batch = next(iter(trl.get_train_dataloader()))
    batch["labels"] = torch.full_like(batch["labels"], -100)
    for trainer in (trl, ours):
        loss = trainer.compute_loss(trainer.model, dict(batch))
        loss.backward()
        assert loss.item() == 0.0
    assert ours._metrics["train"]["mean_token_accuracy"] == [0.0]


def test_other_losses_and_inputs_take_trls_own_path(embedded, tmp_path):
    from tunebench.train.labelled_loss import LabelledLossSFTTrainer, compact_loss_applies

    dft = _trainer(embedded, tmp_path, LabelledLossSFTTrainer, "--loss_type=dft")
    batch = next(iter(dft.get_train_dataloader()))
    assert not compact_loss_applies(dft, dft.model, batch)
    smoothed = _trainer(embedded, tmp_path / "s", LabelledLossSFTTrainer, "--label_smoothing_factor=0.1")
    assert not compact_loss_applies(smoothed, smoothed.model, batch)
    plain = _trainer(embedded, tmp_path / "p", LabelledLossSFTTrainer)
    assert compact_loss_applies(plain, plain.model, batch)
    assert not compact_loss_applies(plain, plain.model, {**batch, "labels": batch["labels"].to("meta")})
    assert not compact_loss_applies(plain, plain.model, {**batch, "shift_labels": batch["labels"]})
    assert not compact_loss_applies(plain, plain.model, {**batch, "completion_mask": batch["attention_mask"]})


def test_the_recipe_trains_with_it(embedded, tmp_path):
    """`python -m tunebench.train` (SFT) builds this trainer when no other class is asked for."""
    from tunebench.train.assemble import build_trainer
    from tunebench.train.labelled_loss import LabelledLossSFTTrainer

    assert type(build_trainer(_parsed(embedded, tmp_path)).trainer) is LabelledLossSFTTrainer


def _base_with_reserved_tokens(embedded, out):
    """The tiny base as a Gemma- or Llama-3-like base ships: no ChatML, two reserved tokens where
    <|im_start|> and <|im_end|> are. ensure_chatml renames them back and trains only their rows
    (PEFT trainable tokens), which on a tied head wraps the LM head too."""
    import shutil

    from transformers import AutoTokenizer

    from tunebench.chat.template import IM_END, IM_START, _rename_tokens

    shutil.copytree(embedded.base_dir, out)
    tok = AutoTokenizer.from_pretrained(embedded.base_dir)
    renamed = _rename_tokens(
        tok, {IM_START: "<|reserved_special_token_0|>", IM_END: "<|reserved_special_token_1|>"}
    )
    renamed.eos_token, renamed.pad_token, renamed.chat_template = "<|endoftext|>", "<|pad|>", None
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (out / name).unlink(missing_ok=True)
    renamed.save_pretrained(out)
    return out


def test_new_tokens_trained_on_a_tied_head(embedded, tmp_path):
    """Trainable tokens on a tied LM head (PEFT's TrainableTokensWrapper: a merged weight, no bias). TRL
    1.16's own loss cannot run here (its fused head reads `lm_head.bias`), so the reference is the loss
    SFTTrainer's is defined as: transformers' causal-LM loss on the same model and batch."""
    import yaml

    from tests.conftest import TINY_RECIPE
    from tunebench.train.assemble import build_trainer
    from tunebench.train.labelled_loss import LabelledLossSFTTrainer, compact_loss_applies
    from tunebench.train.recipe import parse_recipe

    base = _base_with_reserved_tokens(embedded, tmp_path / "base")
    recipe = {**yaml.safe_load(TINY_RECIPE.read_text()), "lora_modules_to_save": None}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    argv = train_cmd(embedded, tmp_path / "run", "--report_to=none", "--max_steps=1")[3:]
    argv[1] = str(path)  # the tiny recipe without its fully trained embeddings (lora_modules_to_save)
    built = build_trainer(parse_recipe([*argv, f"--model_name_or_path={base}"]))
    trainer, model = built.trainer, built.trainer.model
    assert type(trainer) is LabelledLossSFTTrainer and len(built.model_info["new_token_ids"]) == 2
    assert type(model.get_output_embeddings()).__name__ == "TrainableTokensWrapper"
    model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    assert compact_loss_applies(trainer, model, batch)
    # On a GPU this path takes over too, where TRL's fused head would fail on the wrapper ("meta" stands
    # in for a device other than the CPU; the plain tiny recipe's head keeps TRL's path there).
    off_cpu = {**batch, "labels": batch["labels"].to("meta")}
    assert compact_loss_applies(trainer, model, off_cpu)
    for n in (None, torch.tensor(1000)):
        ours, grads = _loss_and_grads(trainer, batch, num_items_in_batch=n)
        model.zero_grad()
        reference = model(**batch, use_cache=False, num_items_in_batch=n).loss
        reference.backward()
        torch.testing.assert_close(ours, reference.detach(), rtol=1e-5, atol=1e-6)
        expected = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
        assert expected.keys() == grads.keys() and any("trainable_tokens" in k for k in grads)
        for name, grad in expected.items():
            torch.testing.assert_close(grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
