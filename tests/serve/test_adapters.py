"""A run's LoRA adapter, found on the models volume, offered by the app beside the merged model and
answering unmerged (loaded on its base in process with PEFT): the same greedy SQL as the merged model."""

from __future__ import annotations

import pytest
from gradio_client import Client

from tests.serve.apps import choices, running_app
from tunebench.embedded.sqlgen import load_split
from tunebench.serve.config import AppConfig
from tunebench.sql.extract import extract_sql
from tunebench.sql.prompt import sql_messages

pytestmark = pytest.mark.slow  # the model fine-tuned in this session


def test_the_adapter_on_the_volume_answers_like_the_merged_model(trained_run, embedded):
    config = AppConfig(data_dir=embedded.data_dir, max_new_tokens=48)
    models = choices(trained_run.merged, config, models_dir=trained_run.root.parent)
    run = trained_run.root.name
    label = f"{run}-lora"  # stable names: the run for the merged model, <run>-lora for its adapter
    assert models.names == [run, label]
    assert models.labels == [run, f"{run} · LoRA adapter (unmerged)"]
    adapter = models.get(label)
    assert adapter.describe()["model"] == str(trained_run.adapter)
    rows = [r for r in load_split(embedded.data_dir, "test") if r["difficulty"] == "easy"][:3]
    for row in rows:
        messages = sql_messages(row["schema"], row["question"])
        assert extract_sql(adapter.complete(messages)) == extract_sql(models.default.complete(messages))
    with running_app(models, config) as url:
        client = Client(url, verbose=False)
        row = rows[0]
        answer = client.predict(question=row["question"], database=row["db_id"], model=label, api_name="/ask")
        merged = client.predict(question=row["question"], database=row["db_id"], api_name="/ask")
        assert answer["model"] == label and answer["sql"] == merged["sql"] and answer["sql"]
        assert client.predict(model=label, api_name="/health")["model"] == label
