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
    assert not compact_loss_applies(plain, plain.model, {**batch, "shift_labels": batch["labels"]})
    assert not compact_loss_applies(plain, plain.model, {**batch, "completion_mask": batch["attention_mask"]})


def test_the_recipe_trains_with_it(embedded, tmp_path):
    """`python -m tunebench.train` (SFT) builds this trainer when no other class is asked for."""
    from tunebench.train.assemble import build_trainer
    from tunebench.train.labelled_loss import LabelledLossSFTTrainer

    assert type(build_trainer(_parsed(embedded, tmp_path)).trainer) is LabelledLossSFTTrainer
