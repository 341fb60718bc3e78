"""The real pretrained model through the chain, within CI's time: SmolLM2-135M-Instruct from the pip
package `make setup` installs, trained for 16 steps (128 examples) with the shipped recipe, merged, asked a question.

What the recipe reaches on the 200 held-out questions is measured by `make demo` (README), not here."""

from __future__ import annotations

import json

from tests.conftest import HANG_S, REPO, Embedded

RECIPE = REPO / "recipes" / "smollm2-135m-text-to-sql.yaml"


def test_smollm2_trains_merges_and_answers_in_sql(smollm2_base, embedded: Embedded, tmp_path):
    import subprocess
    import sys

    from tunebench.chat import GenerationSettings, open_chat_model
    from tunebench.runs.record import RunManifest
    from tunebench.sql.extract import extract_sql
    from tunebench.sql.parse import parse_sql
    from tunebench.sql.prompt import sql_messages

    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "tunebench.train",
        "--config",
        str(RECIPE),
        "--embedded=false",
        f"--model_name_or_path={smollm2_base}",
        f"--dataset_name={embedded.data_dir / 'train.jsonl'}",
        f"--fidelity_dataset={embedded.data_dir / 'test.jsonl'}",
        f"--output_dir={out}",
        "--max_steps=16",
        "--logging_steps=4",
        "--fidelity_samples=4",
        "--report_to=none",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    run = RunManifest.load(out / "manifest.json")
    assert run.base_model == str(smollm2_base) and run.training.global_step == 16
    assert run.training.last_loss < run.training.first_loss
    assert run.extra["merge"]["fidelity"]["prompts"] == 4
    # the base's vocabulary and template: no token was added, its default system message is kept
    config = json.loads((out / "merged" / "config.json").read_text())
    assert config["vocab_size"] == 49152 and config["tie_word_embeddings"]
    row = json.loads((embedded.data_dir / "test.jsonl").read_text().splitlines()[0])
    model = open_chat_model(str(out / "merged"), GenerationSettings(max_new_tokens=96), batch_size=1)
    try:
        answer = model.complete(sql_messages(row["schema"], row["question"]))
        chat = model.render([{"role": "user", "content": "hi"}])
    finally:
        model.close()
    assert chat.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    sql = extract_sql(answer)
    assert sql.upper().startswith("SELECT") and parse_sql(sql) is not None, answer
