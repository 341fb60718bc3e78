"""One way to reach a model (tunebench/chat.py): spec strings, in-process and served models, bounded
concurrency, stop tokens. Models are real (the tiny Llama), servers are real (`transformers serve`)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tunebench.chat import (
    ChatError,
    GenerationSettings,
    ModelSpec,
    RemoteChatModel,
    end_of_turn_ids,
    is_model_spec,
    map_bounded,
    open_chat_model,
    resolve_dtype,
)
from tunebench.chat.local_server import free_port

SETTINGS = GenerationSettings(max_new_tokens=16)

# --- the spec string ---------------------------------------------------------------------------------


def test_spec_names_a_folder_a_hub_id_or_a_server(tmp_path):
    assert ModelSpec.parse(tmp_path) == ModelSpec("local", str(tmp_path))
    assert ModelSpec.parse("  mistralai/Mistral-7B-Instruct-v0.2 ") == ModelSpec(
        "hub", "mistralai/Mistral-7B-Instruct-v0.2"
    )
    served = ModelSpec.parse("http://127.0.0.1:8000/v1#models/run/merged")
    assert served == ModelSpec("server", "http://127.0.0.1:8000/v1", "models/run/merged")
    assert served.is_server and str(served) == "http://127.0.0.1:8000/v1#models/run/merged"
    # the /v1 suffix is added when missing, a trailing slash dropped; no '#' means "ask the server"
    assert ModelSpec.parse("https://host:8443/") == ModelSpec("server", "https://host:8443/v1", None)
    assert str(ModelSpec.parse("http://h:1/v1/")) == "http://h:1/v1"
    assert str(ModelSpec.parse(str(tmp_path))) == str(tmp_path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty model spec"),
        ("   ", "empty model spec"),
        ("no-such-folder", "no such folder"),
        ("./models/missing/merged", "no such folder"),
        ("a/b/c", "no such folder"),
        ("org/", "no such folder"),
    ],
)
def test_spec_rejects_what_names_no_model(text, says):
    with pytest.raises(ChatError, match=says):
        ModelSpec.parse(text)
    assert not is_model_spec(text)


def test_spec_rejects_a_file(tmp_path):
    file = tmp_path / "model.safetensors"
    file.write_bytes(b"")
    with pytest.raises(ChatError, match="a file, not a model folder"):
        ModelSpec.parse(file)


def test_dtype_rule_is_written_once():
    import torch

    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda:0") == torch.bfloat16
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16
    with pytest.raises(ChatError, match="unknown dtype 'int3'"):
        resolve_dtype("int3", "cpu")


# --- in process ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(varied_model):
    model = open_chat_model(varied_model, SETTINGS, batch_size=3)
    yield model
    model.close()


def test_batched_answers_equal_one_at_a_time_greedy_answers(local, conversations):
    batched = local.generate(conversations)  # 7 conversations in batches of 3: left padding differs
    one_by_one = [local.generate([c])[0] for c in conversations]
    assert batched == one_by_one
    assert len(set(batched)) == len(batched) and all(batched)  # varied, non-empty text: not a tie


def test_progress_is_reported_batch_by_batch(local, conversations):
    """A caller's progress bar (evaluate.sql's, with its ETA) moves with every batch, not every call."""
    done: list[int] = []
    local.generate(conversations, on_done=done.append)
    assert done == [3, 3, 1]


def test_stream_yields_the_same_answer_piece_by_piece(local, conversations):
    pieces = list(local.stream(conversations[0]))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == local.complete(conversations[0])


def test_max_new_tokens_and_stop_ids_end_an_answer(local, conversations):
    tok = local.tokenizer
    answer = local.complete(conversations[1], SETTINGS.replace(max_new_tokens=4))
    prompt = tok(local.render(conversations[1]), return_tensors="pt", add_special_tokens=False)
    # exactly the first 4 greedy tokens (byte-level BPE may not re-encode to the same count: compare ids)
    four = local.model.generate(**prompt, max_new_tokens=4, do_sample=False, eos_token_id=local.stop_ids)
    assert answer == tok.decode(four[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    full = local.complete(conversations[1])
    assert full.startswith(answer) and len(full) > len(answer)
    # a stop id ends the answer right after that token: stop on the first token the model writes
    first = int(local.model(**prompt).logits[0, -1].argmax())
    stopped = local.complete(conversations[1], SETTINGS.replace(stop_ids=(first,)))
    assert stopped == tok.decode([first], skip_special_tokens=True).strip() != full


def test_describe_and_probe(local, varied_model):
    info = local.describe()
    assert info["backend"] == "in-process" and info["batch_size"] == 3 and info["device"] == "cpu"
    assert info["chat_template"] == "the model's own"
    assert local.tokenizer.eos_token_id in info["stop_ids"]
    assert local.probe() == str(varied_model) and local.location == "in this process"


def test_a_base_without_template_needs_the_chatml_fallback(varied_model, tmp_path, conversations):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(varied_model, bare)
    (bare / "chat_template.jinja").unlink()
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ChatError, match="has no chat template"):
        open_chat_model(bare, SETTINGS)
    model = open_chat_model(bare, SETTINGS, chatml_fallback=True)
    assert "no chat template of its own" in model.describe()["chat_template"]
    assert model.complete(conversations[0])  # the tiny base's own template is ChatML too


def test_an_adapter_folder_is_loaded_on_its_base(varied_model, local, tmp_path, conversations):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(varied_model)
    # random B matrices (PEFT's default starts B at zero, which would change nothing)
    lora = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")
    local.tokenizer.save_pretrained(tmp_path / "adapter")
    adapted = open_chat_model(tmp_path / "adapter", SETTINGS)
    assert type(adapted.model).__name__.startswith("Peft")
    answers = adapted.generate(conversations[:3])
    assert all(answers) and answers != local.generate(conversations[:3])
    assert answers == [adapted.complete(c) for c in conversations[:3]]


def test_a_folder_that_holds_no_model_is_one_readable_error(tmp_path):
    with pytest.raises(ChatError, match=f"cannot load {tmp_path}"):
        open_chat_model(tmp_path, SETTINGS)


# --- stop tokens: the chat template's end of turn may not be eos --------------------------------------


def _tokenizer(template: str, eos: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=280, special_tokens=specials, show_progress=False)
    backend.train_from_iterator(["select name from users"] * 5, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=eos, pad_token="<pad>")
    tok.chat_template = template
    return tok


def test_end_of_turn_ids_add_the_templates_end_of_turn_to_eos():
    from transformers import GenerationConfig

    gemma_like = (
        "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n"
        "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    )
    tok = _tokenizer(gemma_like, eos="<eos>")
    vocab = tok.get_vocab()
    eos, end_of_turn = vocab["<eos>"], vocab["<end_of_turn>"]
    assert end_of_turn_ids(tok) == [eos, end_of_turn]
    # <|im_end|> is in the vocabulary but the template never writes it: not a stop
    assert vocab["<|im_end|>"] not in end_of_turn_ids(tok)
    # the generation config's eos ids come first, without duplicates; negative ids are ignored
    config = GenerationConfig(eos_token_id=[vocab["<pad>"], eos, -1])
    assert end_of_turn_ids(tok, config) == [vocab["<pad>"], eos, end_of_turn]
    # a template whose end of turn IS eos adds nothing
    chatml = "{% for m in messages %}<|im_end|>{% endfor %}"
    assert end_of_turn_ids(_tokenizer(chatml, eos="<|im_end|>")) == [vocab["<|im_end|>"]]


# --- bounded concurrency ------------------------------------------------------------------------------


def test_map_bounded_keeps_order_and_the_bound():
    lock, running, peak = threading.Lock(), [0], [0]

    def work(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02 * (i % 3))  # later items often finish first
        with lock:
            running[0] -= 1
        return i * i

    assert map_bounded(work, range(12), concurrency=3) == [i * i for i in range(12)]
    assert peak[0] == 3
    assert map_bounded(work, [], concurrency=4) == []
    with pytest.raises(ValueError, match="at least 1"):
        map_bounded(work, [1], concurrency=0)


def test_map_bounded_failures_in_place_or_raised_after_the_rest():
    done = []

    def work(i):
        if i == 1:
            raise KeyError(i)
        time.sleep(0.05)
        done.append(i)
        return i

    out = map_bounded(work, range(4), concurrency=2, return_exceptions=True)
    assert out[0] == 0 and isinstance(out[1], KeyError) and out[2:] == [2, 3]
    done.clear()
    with pytest.raises(KeyError):
        map_bounded(work, range(4), concurrency=2)
    assert sorted(done) == [0, 2, 3]  # the others still ran to the end


# --- servers -------------------------------------------------------------------------------------------


def test_an_unreachable_server_is_one_readable_error():
    base = f"http://127.0.0.1:{free_port()}/v1"
    model = open_chat_model(base + "#m", SETTINGS, max_retries=0, timeout_s=5)
    assert isinstance(model, RemoteChatModel) and model.location == base and model.name == base + "#m"
    with pytest.raises(ChatError, match="cannot reach the model server at http://127.0.0.1"):
        model.generate([[{"role": "user", "content": "hi"}]])
    with pytest.raises(ChatError, match="cannot reach"):
        list(model.stream([{"role": "user", "content": "hi"}]))


def test_a_server_with_several_models_must_be_told_which(tmp_path):
    class Models(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = json.dumps({"object": "list", "data": [{"id": "a", "object": "model"}, {"id": "b"}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/v1"
        with pytest.raises(ChatError, match=rf"serves 2 models \(a, b\): name one as {base}#<model>"):
            _ = open_chat_model(base, SETTINGS, max_retries=0).served_name
        assert open_chat_model(base + "#b", SETTINGS).served_name == "b"  # named: never asked
    finally:
        server.shutdown()


@pytest.mark.slow
def test_served_model_answers_as_the_local_one(varied_server, varied_model, local, conversations):
    base = varied_server.base_url
    remote = open_chat_model(base, SETTINGS, concurrency=2)  # no '#name': the server is asked
    assert remote.served_name == str(varied_model) == remote.probe()
    # the same weights and template, greedy: the server's answers are the in-process answers
    done: list[int] = []
    assert remote.generate(conversations[:4], on_done=done.append) == local.generate(conversations[:4])
    assert done == [1, 1, 1, 1]  # a server: one request at a time
    pieces = list(remote.stream(conversations[0]))
    # random weights can end on half a UTF-8 character: the server's streamer holds that byte back
    streamed, whole = "".join(pieces).strip().rstrip("\ufffd"), local.complete(conversations[0])
    assert len(pieces) > 1 and streamed == whole.rstrip("\ufffd") and len(streamed) > 10
    named = open_chat_model(f"{base}#{varied_model}", SETTINGS)
    assert named.complete(conversations[2]) == local.complete(conversations[2])
    assert named.describe()["base_url"] == base
    remote.close()
