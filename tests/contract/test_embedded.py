"""The embedded dataset and tiny model: deterministic, disjoint, executable, ChatML-ready."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import HANG_S
from tunebench.chat.template import IM_END, IM_START
from tunebench.embedded.sqlgen import build_sql_dataset, load_split
from tunebench.embedded.tiny_model import build_tiny_base
from tunebench.sql.prompt import sql_messages


def test_splits_are_disjoint_seeded_and_complete(embedded, tmp_path):
    train, test = load_split(embedded.data_dir, "train"), load_split(embedded.data_dir, "test")
    assert len(train) == 2000 and len(test) == 200
    assert not {r["question"] for r in train} & {r["question"] for r in test}
    assert {r["difficulty"] for r in test} == {"easy", "medium", "hard"}
    assert any(not r["seen_combo"] for r in test) and all(r["seen_combo"] for r in train)
    again = build_sql_dataset(tmp_path / "again", seed=0)
    assert (again / "train.jsonl").read_text() == (embedded.data_dir / "train.jsonl").read_text()
    other = build_sql_dataset(tmp_path / "other", seed=1)
    assert (other / "test.jsonl").read_text() != (embedded.data_dir / "test.jsonl").read_text()


def test_every_example_carries_schema_and_a_populated_database(embedded):
    rows = load_split(embedded.data_dir, "test") + load_split(embedded.data_dir, "train")[:300]
    nonempty = 0
    for r in rows:
        con = sqlite3.connect(r["db_path"])
        schema = (
            ";\n".join(s for (s,) in con.execute("SELECT sql FROM sqlite_master WHERE type='table'")) + ";"
        )
        assert schema == r["schema"]
        nonempty += bool(con.execute(r["query"]).fetchall())  # every gold query runs
        con.close()
    assert nonempty / len(rows) > 0.9
    joins = [r for r in rows if r["difficulty"] == "hard"]
    assert joins and all(" JOIN " in r["query"] for r in joins)


def test_dataset_info_records_settings(embedded):
    info = json.loads((embedded.data_dir / "dataset_info.json").read_text())
    assert info["settings"]["seed"] == 0 and info["heldout_combos"]


def test_tiny_base_is_deterministic_llama_with_chatml(embedded, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    again = build_tiny_base(tmp_path / "tiny", embedded.data_dir, seed=0)
    assert (again / "tokenizer.json").read_bytes() == (embedded.base_dir / "tokenizer.json").read_bytes()
    assert (again / "model.safetensors").read_bytes() == (
        embedded.base_dir / "model.safetensors"
    ).read_bytes()
    cfg = AutoConfig.from_pretrained(embedded.base_dir)
    assert cfg.model_type == "llama" and cfg.tie_word_embeddings
    tok = AutoTokenizer.from_pretrained(embedded.base_dir)
    assert tok.eos_token == IM_END and tok.pad_token not in (None, IM_END)
    for special in (IM_START, IM_END):
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1


def test_chat_template_masks_only_the_answer(embedded):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded.base_dir)
    msgs = sql_messages("CREATE TABLE t (a INTEGER);", "How many t are there?", "SELECT COUNT(*) FROM t")
    enc = tok.apply_chat_template(msgs, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    answer = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert answer == "SELECT COUNT(*) FROM t" + IM_END


def test_the_same_seed_builds_the_same_dataset_in_every_process(tmp_path):
    """String hashing is randomized per process (PYTHONHASHSEED): nothing the generator picks may depend
    on the order of a set, or two builds with seed 0 differ and so do the demo's figures."""
    import os
    import subprocess
    import sys

    code = "import sys; from tunebench.embedded.sqlgen import build_sql_dataset; build_sql_dataset(sys.argv[1], seed=0)"
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash{hash_seed}"
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, timeout=HANG_S)
        outputs.append([(out / f"{split}.jsonl").read_text() for split in ("train", "test")])
    assert outputs[0] == outputs[1]
