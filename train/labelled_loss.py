"""SFTTrainer whose CPU loss scores only the labelled positions.

TRL 1.16's fused LM head scores only the positions that carry a label on Triton devices (CUDA, XPU),
but everywhere else it scores *every* position, to keep tile shapes fixed for compilers (`compact =
_use_triton(device)` in `trl/trainer/utils.py`), and then masks the prompt's scores away. With
assistant-only loss on text-to-SQL about 90% of the positions are prompt, and on the embedded tiny model
that head was 23% of a CPU step (docs/bench.md). No compiler runs on a CPU training step here, so this
subclass, on CPU only, runs the backbone, keeps the labelled positions and projects just those: the same
loss, the same gradients (a test compares both with TRL's) and the same logged metrics. Anywhere else,
or for any option this path does not cover, TRL's own `compute_loss` runs unchanged.

Overriding `compute_loss` is the extension point TRL documents (its deprecation note for
`compute_loss_func` says to subclass `SFTTrainer` and override it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from trl import SFTTrainer

# Batch keys the backbone takes, as TRL passes them (padding-free packing adds the varlen boundaries that
# flash-attention and the Mamba kernels read). A batch with any other key goes to TRL's own path.
_BACKBONE_KEYS = (
    "input_ids",
    "attention_mask",
    "position_ids",
    "inputs_embeds",
    "cu_seq_lens_q",
    "cu_seq_lens_k",
    "max_length_q",
    "max_length_k",
    "seq_idx",
)


def _causal_lm(model):
    """The `...ForCausalLM` under accelerate's and PEFT's wrappers (LoRA layers stay injected in it)."""
    model = getattr(model, "module", model)
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _head_without_bias(model) -> bool:
    """An LM head TRL 1.16's fused head cannot run: it reads `lm_head.bias`, and PEFT's
    TrainableTokensWrapper (rows of new ChatML tokens trained on the head) has none. This path is exact on
    any device, so it takes over there too (a Gemma or CodeLlama recipe with added tokens, on a GPU)."""
    try:
        _causal_lm(model).get_output_embeddings().bias  # noqa: B018 - the attribute access is the test
    except AttributeError:
        return True
    return False


def compact_loss_applies(trainer, model, inputs) -> bool:
    """True where the labelled-positions loss gives exactly TRL's result: a CPU model (on other devices, only
    a head TRL's fused loss cannot run), plain NLL loss, no loss hook, label smoothing, MoE aux loss,
    sequence parallelism, pre-shifted labels or logit scaling."""
    args = trainer.args
    if "labels" not in inputs or "shift_labels" in inputs:
        return False
    if inputs["labels"].device.type != "cpu" and not _head_without_bias(model):
        return False
    if args.loss_type != "nll" or trainer.compute_loss_func is not None or trainer.label_smoother is not None:
        return False
    if trainer.aux_loss_enabled or getattr(trainer, "_tp_size", 1) != 1:
        return False
    if set(inputs) - {*_BACKBONE_KEYS, "labels", "use_cache"}:
        return False  # vision inputs, completion masks and the like: TRL's path knows what to do with them
    config = _causal_lm(model).config.get_text_config()
    scaled = (
        "final_logit_softcapping",
        "logit_scale",
        "output_multiplier",
        "lm_head_multiplier",
        "logits_scaling",
    )
    return all(getattr(config, name, None) is None for name in scaled)


def labelled_positions_loss(model, inputs, num_items_in_batch=None):
    """(loss, label_mask, entropy_sum, num_correct) with the LM head applied to labelled positions only.

    Shifted as in TRL's fused head: position t predicts label t+1. The loss is the sum of the labelled
    tokens' negative log-likelihoods over `num_items_in_batch` (the tokens of the whole accumulated step,
    as Trainer passes it) or, without it, over this micro-batch's labelled tokens.
    """
    causal_lm = _causal_lm(model)
    backbone = causal_lm.base_model
    kwargs = {k: v for k, v in inputs.items() if k in _BACKBONE_KEYS}
    hidden = backbone(**kwargs, use_cache=False).last_hidden_state[:, :-1]
    labels = inputs["labels"][:, 1:]
    mask = labels != -100
    # As TRL's fused head: the head's weight (the active copy under PEFT's modules_to_save), in fp32, so a
    # bf16 head under QLoRA meets fp32 hidden states the way TRL's chunks do.
    head = causal_lm.get_output_embeddings()
    # PEFT's TrainableTokensWrapper (new tokens' rows on a tied head) has a merged `weight` and no `bias`:
    # its own forward is F.linear(x, weight), so no bias is what it computes.
    bias = getattr(head, "bias", None)
    bias = None if bias is None else bias.float()
    logits = F.linear(hidden[mask].float(), head.weight.float(), bias)
    log_probs = F.log_softmax(logits, dim=-1)
    targets = labels[mask]
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    denominator = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
    # An all-prompt micro-batch gives an empty selection: `nll.sum()` is then a differentiable zero.
    loss = nll.sum() / torch.as_tensor(denominator).clamp(min=1)
    with torch.no_grad():
        entropy_sum = -(log_probs.exp() * log_probs).sum(-1).sum()
        num_correct = (logits.argmax(-1) == targets).sum()
    return loss, mask, entropy_sum, num_correct


class LabelledLossSFTTrainer(SFTTrainer):
    """`SFTTrainer` with the CPU loss of `labelled_positions_loss`; TRL's own path everywhere else."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs or not compact_loss_applies(self, model, inputs):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        mode = "train" if self.model.training else "eval"
        loss, mask, entropy_sum, num_correct = labelled_positions_loss(model, inputs, num_items_in_batch)
        # As TRL's compute_loss: with num_items_in_batch the loss is already a share of the whole step.
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        # The metrics TRL logs from its own loss, computed the same way, so logs and reports do not change.
        gather = self.accelerator.gather_for_metrics
        num_valid = gather(mask.sum()).sum()
        entropy = gather(entropy_sum).sum()
        correct = gather(num_correct).sum()
        self._metrics[mode]["entropy"].append((entropy / num_valid).item() if num_valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append(
            (correct / num_valid).item() if num_valid > 0 else 0.0
        )
        if mode == "train":
            if "attention_mask" in inputs:
                num_tokens = gather(inputs["attention_mask"].sum()).sum().item()
            else:  # padding-free packing: one row, no mask
                num_tokens = gather(torch.tensor(inputs["input_ids"].size(1))).sum().item()
            self._total_train_tokens += num_tokens
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss
