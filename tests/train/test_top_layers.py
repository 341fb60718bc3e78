"""LoRA on the top N decoder layers (`lora_top_layers`): adapters only there, and the backward pass stops
below them (nothing beneath needs a gradient). What that is worth in tokens/s is measured in bench/."""

from __future__ import annotations

import pytest

from tests.conftest import train_cmd


def _built(embedded, tmp_path, *extra):
    """The tiny recipe without its fully trained embeddings (a real base keeps them frozen)."""
    import yaml

    from tests.conftest import TINY_RECIPE
    from tunebench.train.assemble import build_trainer
    from tunebench.train.recipe import parse_recipe

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump({**yaml.safe_load(TINY_RECIPE.read_text()), "lora_modules_to_save": None})
    )
    argv = train_cmd(embedded, tmp_path / "run", "--report_to=none", "--max_steps=1", *extra)[3:]
    argv[1] = str(recipe)
    return build_trainer(parse_recipe(argv))


def test_adapters_sit_on_the_top_layers_and_backward_stops_there(embedded, tmp_path):
    built = _built(embedded, tmp_path, "--lora_top_layers=2")
    model = built.trainer.model
    layers = model.config.num_hidden_layers
    assert built.peft_config.layers_to_transform == [layers - 2, layers - 1]
    adapted = {int(n.split(".layers.")[1].split(".")[0]) for n, _ in model.named_parameters() if "lora_" in n}
    assert adapted == {layers - 2, layers - 1}
    # every linear layer of the decoder ("all-linear" without the head): attention and MLP
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= set(
        built.peft_config.target_modules
    )
    needs_grad = {}
    decoder = model.get_base_model().model.layers
    hooks = [
        layer.register_forward_hook(
            lambda _m, _i, out, i=i: needs_grad.__setitem__(i, _hidden(out).requires_grad)
        )
        for i, layer in enumerate(decoder)
    ]
    model.train()
    batch = next(iter(built.trainer.get_train_dataloader()))
    built.trainer.compute_loss(model, dict(batch)).backward()
    for hook in hooks:
        hook.remove()
    assert needs_grad == {i: i >= layers - 2 for i in range(layers)}, "autograd records only the top layers"


def _hidden(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize(("value", "expected"), [("0", "give at least 1 layer"), ("99", "has 4 layers")])
def test_a_count_outside_the_model_is_one_line(embedded, tmp_path, value, expected):
    from tests.train.test_front_doors import one_error, train

    line = one_error(train(*train_cmd(embedded, tmp_path / "run")[3:], f"--lora_top_layers={value}"))
    assert line.startswith("error: command line: --lora_top_layers: ") and expected in line
    assert not (tmp_path / "run").exists()
