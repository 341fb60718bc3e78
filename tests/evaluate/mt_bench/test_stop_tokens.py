"""Stop tokens: a model whose end-of-turn token differs from its eos (Gemma's <end_of_turn>, Phi-3's
<|end|>) must stop answering at the end of its turn, not run on to the token limit. The fine-tuned
tiny model is configured that way: its chat template still ends turns with <|im_end|>, while its
tokenizer and generation config name another token as eos."""

from __future__ import annotations

import json
import shutil

import pytest

from tunebench.chat import GenerationSettings, end_of_turn_ids, open_chat_model

pytestmark = pytest.mark.slow
LIMIT = 160


def with_other_eos(src, dst) -> int:
    """A copy of the model whose eos is an ordinary word-piece, as Gemma's <eos> is not <end_of_turn>."""
    from transformers import AutoTokenizer

    shutil.copytree(src, dst)
    tok = AutoTokenizer.from_pretrained(dst)
    eos_id = len(tok) - 1
    eos = tok.convert_ids_to_tokens(eos_id)
    for name, key, value in (
        ("tokenizer_config.json", "eos_token", eos),
        ("generation_config.json", "eos_token_id", eos_id),
        ("config.json", "eos_token_id", eos_id),
    ):
        path = dst / name
        data = json.loads(path.read_text())
        data[key] = value
        path.write_text(json.dumps(data, indent=2))
    return eos_id


def test_answers_stop_at_the_end_of_turn_not_at_eos(trained_run, embedded, tmp_path):
    import torch

    from tunebench.data.jsonl import read_jsonl
    from tunebench.sql.prompt import sql_messages

    folder = tmp_path / "other-eos"
    eos_id = with_other_eos(trained_run.merged, folder)
    model = open_chat_model(str(folder), batch_size=4)
    tok = model.tokenizer
    end_of_turn = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.eos_token_id == eos_id != end_of_turn  # the configuration under test
    assert end_of_turn in end_of_turn_ids(tok, model.model.generation_config)

    # Questions in the format the model was fine-tuned on, so that it does end its turns.
    rows = read_jsonl(embedded.data_dir / "test.jsonl")[:4]
    conversations = [sql_messages(r["schema"], r["question"]) for r in rows]
    answers = model.generate(conversations, GenerationSettings(max_new_tokens=LIMIT))

    # What generate() alone does with this configuration: it stops on eos only and runs on.
    ran_on = []
    for conversation in conversations:
        enc = tok([model.render(conversation)], return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.model.generate(
                **enc, max_new_tokens=LIMIT, do_sample=False, pad_token_id=tok.pad_token_id
            )
        new = out[0, enc["input_ids"].shape[1] :].tolist()
        ran_on.append((new, tok.decode(new, skip_special_tokens=True).strip()))
    assert all(end_of_turn in new for new, _ in ran_on)  # the model does end its turn …
    assert any(len(new) == LIMIT for new, _ in ran_on)  # … and eos alone lets it run to the limit
    for answer, (new, text) in zip(answers, ran_on, strict=True):
        cut = new.index(end_of_turn)
        assert answer == tok.decode(new[:cut], skip_special_tokens=True).strip()  # stopped right there
        assert len(answer) <= len(text)
    model.close()
