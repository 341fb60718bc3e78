"""Does the merged model answer like the model that was trained? Measured at every merge.

The reference is the adapter on its training base (for QLoRA: the NF4 4-bit base, exactly what the
adapter learned to correct). On a fixed sample of held-out prompts both models answer greedily, and
both are run over the reference's answers (teacher forcing) to compare their next-token choices and
logits position by position.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from tunebench.chat import end_of_turn_ids

log = logging.getLogger(__name__)

# Below this share of identical greedy answers the merge is flagged in the log, record and card.
AGREEMENT_WARNING = 0.95


@dataclass
class Fidelity:
    prompts: int
    identical_answers: int
    identical_rate: float
    next_token_agreement: float  # share of the reference answers' positions where both pick the same token
    max_logit_diff: float  # largest |logit difference| over those positions
    max_new_tokens: int
    warning: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def prompt_conversations(rows, n: int) -> list[list[dict]]:
    """The first `n` rows' conversations up to the last user turn (what the model is asked)."""
    out = []
    for row in rows.select(range(min(n, len(rows)))):
        messages = list(row["messages"])
        while messages and messages[-1]["role"] == "assistant":
            messages.pop()
        if messages:
            out.append(messages)
    return out


def _batches(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def greedy_answers(model, tokenizer, conversations, *, max_new_tokens: int, batch_size: int):
    """(prompt ids, answer ids) per conversation: greedy, left-padded batches, stopping at end of turn."""
    import torch

    stop = end_of_turn_ids(tokenizer, getattr(model, "generation_config", None))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop[0]
    prompts = [
        tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True) for c in conversations
    ]
    prompts = [p["input_ids"] if hasattr(p, "keys") else list(p) for p in prompts]
    answers = []
    for batch in _batches(prompts, batch_size):
        ids, mask = _left_pad(batch, pad)
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(model.device),
                attention_mask=mask.to(model.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                eos_token_id=stop,
                pad_token_id=pad,
            )
        for row in out[:, ids.shape[1] :].tolist():
            cut = next((i + 1 for i, t in enumerate(row) if t in stop), len(row))
            answers.append(row[:cut])
    return prompts, answers


def _left_pad(seqs, pad):
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s) :] = torch.tensor(s)
        mask[i, width - len(s) :] = 1
    return ids, mask


def answer_logits(model, prompts, answers, *, batch_size: int, pad: int):
    """Per example, the logits that predict each answer token (teacher forcing on prompt + answer)."""
    import torch

    out = []
    for idx in _batches(list(range(len(prompts))), batch_size):
        seqs = [prompts[i] + answers[i] for i in idx]
        ids, mask = _left_pad(seqs, pad)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = model(
                input_ids=ids.to(model.device),
                attention_mask=mask.to(model.device),
                position_ids=position_ids.to(model.device),
            ).logits.float()
        width = ids.shape[1]
        for row, i in enumerate(idx):
            n = len(answers[i])
            out.append(logits[row, width - n - 1 : width - 1].cpu() if n else logits[row, :0].cpu())
    return out


def compare(reference, merged, tokenizer, conversations, *, max_new_tokens=128, batch_size=16) -> Fidelity:
    """Greedy answers and next-token logits of `merged` against `reference` on `conversations`."""

    prompts, ref_answers = greedy_answers(
        reference, tokenizer, conversations, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    _, merged_answers = greedy_answers(
        merged, tokenizer, conversations, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ref_logits = answer_logits(reference, prompts, ref_answers, batch_size=batch_size, pad=pad)
    merged_logits = answer_logits(merged, prompts, ref_answers, batch_size=batch_size, pad=pad)
    agree = positions = 0
    max_diff = 0.0
    for a, b in zip(ref_logits, merged_logits, strict=True):
        if a.numel() == 0:
            continue
        agree += int((a.argmax(-1) == b.argmax(-1)).sum())
        positions += a.shape[0]
        max_diff = max(max_diff, float((a - b).abs().max()))
    identical = sum(x == y for x, y in zip(ref_answers, merged_answers, strict=True))
    n = len(conversations)
    result = Fidelity(
        prompts=n,
        identical_answers=identical,
        identical_rate=round(identical / n, 4) if n else 0.0,
        next_token_agreement=round(agree / positions, 4) if positions else 1.0,
        max_logit_diff=round(max_diff, 6),
        max_new_tokens=max_new_tokens,
    )
    if n and result.identical_rate < AGREEMENT_WARNING:
        result.warning = (
            f"the merged model gives the same greedy answer as the adapter on its training base for only "
            f"{identical} of {n} held-out prompts ({100 * result.identical_rate:.1f}% < "
            f"{100 * AGREEMENT_WARNING:.0f}%)"
        )
        log.warning("merge fidelity: %s", result.warning)
    else:
        log.info("merge fidelity: %d/%d identical greedy answers", identical, n)
    return result
