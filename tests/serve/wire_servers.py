"""Real local HTTP servers for the backend tests, speaking documented wire formats.

- `TGIWireServer`: TGI cannot run here (no GPU image, no network), so this server speaks the part of
  TGI's documented HTTP API the app uses, backed by a REAL model (greedy transformers generation):
  GET /health, GET /info, GET /v1/models and POST /v1/chat/completions (the Messages API: the chat template is applied
  server-side, OpenAI chunks, then `data: [DONE]`). Like TGI it answers 422 {"error", "error_type":
  "validation"} to a negative temperature or a prompt + max_tokens over its token budget. Every
  request is recorded for the tests to inspect.
- `CannedOpenAIServer`: an OpenAI-format chat server whose answers the test chooses (e.g. a hostile
  `DROP TABLE …`), for the page's error cases; the real `openai` client talks to it over HTTP. It can
  refuse a question as a server refuses a prompt too long for its model, and hold every answer until
  the test opens its `gate` (to fill the app's line of waiting questions without racing it).
- `FrozenServer`: a server that accepts connections and never answers, as a frozen (SIGSTOPped)
  model server does: the kernel still completes the TCP handshake.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tunebench.chat.local_server import free_port


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread; use as a context manager."""

    def __init__(self):
        self.requests: list[dict] = []
        self.connections: set = set()
        self.port = free_port()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                owner.connections.add(self.connection)

            def finish(self):
                owner.connections.discard(self.connection)
                super().finish()

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                owner.requests.append({"method": "GET", "path": self.path})
                owner.handle_get(self)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                owner.requests.append({"method": "POST", "path": self.path, "body": body})
                owner.handle_post(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def last_post(self) -> dict:
        """The last POST (a chat request): an app's background health checks GET in between."""
        return [r for r in self.requests if r["method"] == "POST"][-1]

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        """Stop as a crashed server would: the port refuses connections and open ones are cut."""
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()
        for conn in list(self.connections):  # clients keep idle HTTP/1.1 connections to reuse
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    # helpers for handlers
    @staticmethod
    def send_json(h: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def start_sse(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")  # the stream ends when the connection closes
        h.end_headers()
        h.close_connection = True

    @staticmethod
    def send_event(h: BaseHTTPRequestHandler, payload: dict | str) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        h.wfile.write(f"data: {data}\n\n".encode())
        h.wfile.flush()

    def handle_get(self, h):
        self.send_json(h, 404, {"error": "not found"})

    def handle_post(self, h, body):
        self.send_json(h, 404, {"error": "not found"})


def _chat_chunk(model: str, content: str | None, finish: str | None = None) -> dict:
    delta = {"role": "assistant", "content": content} if content is not None else {}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "test",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


class TGIWireServer(_Server):
    MAX_TOTAL_TOKENS = 2048

    def __init__(self, model_dir: str | Path):
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_dir = str(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32).eval()
        self.lock = threading.Lock()

    def generate(self, text: str, max_new_tokens: int, stop: list[str]) -> list[dict]:
        """Greedy tokens for raw `text`, each with its incremental text, logprob and special flag."""
        import torch

        enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with self.lock, torch.inference_mode():
            out = self.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                output_scores=True,
                return_dict_in_generate=True,
            )
        ids = out.sequences[0, enc["input_ids"].shape[1] :].tolist()
        special = set(self.tokenizer.all_special_ids)
        tokens, text_so_far = [], ""
        for i, tid in enumerate(ids):
            logprob = torch.log_softmax(out.scores[i][0].float(), -1)[tid].item()
            # Incremental decoding, as TGI does: the text a token adds to everything before it.
            is_special = tid in special
            full = self.tokenizer.decode(ids[: i + 1], skip_special_tokens=True)
            piece = self.tokenizer.decode([tid]) if is_special else full[len(text_so_far) :]
            text_so_far = full
            tokens.append({"id": tid, "text": piece, "logprob": round(logprob, 4), "special": is_special})
            if is_special or any(s and text_so_far.endswith(s) for s in stop):
                break
        return tokens

    def handle_get(self, h):
        if h.path == "/health":
            self.send_json(h, 200, {})
        elif h.path == "/v1/models":  # TGI lists the one model it serves
            model = {"id": self.model_dir, "object": "model", "created": 0, "owned_by": self.model_dir}
            self.send_json(h, 200, {"object": "list", "data": [model]})
        elif h.path == "/info":
            self.send_json(
                h,
                200,
                {
                    "model_id": self.model_dir,
                    "model_dtype": "torch.float32",
                    "model_device_type": "cpu",
                    "max_input_tokens": 1024,
                    "max_total_tokens": self.MAX_TOTAL_TOKENS,
                    "version": "3.3.7 (tunebench test stand-in)",
                },
            )
        else:
            super().handle_get(h)

    def handle_post(self, h, body):
        if h.path == "/v1/chat/completions":
            self._chat(h, body)
        else:
            super().handle_post(h, body)

    def _validation_error(self, h, message: str) -> None:
        self.send_json(h, 422, {"error": message, "error_type": "validation"})

    def _chat(self, h, body):
        if body.get("temperature") is not None and body["temperature"] < 0:
            return self._validation_error(h, "`temperature` must be non-negative")
        prompt = self.tokenizer.apply_chat_template(
            body["messages"], tokenize=False, add_generation_prompt=True
        )
        max_new = int(body.get("max_tokens") or 20)
        input_length = len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if input_length + max_new > self.MAX_TOTAL_TOKENS:
            return self._validation_error(
                h,
                f"`inputs` tokens + `max_new_tokens` must be <= {self.MAX_TOTAL_TOKENS}. "
                f"Given: {input_length} `inputs` tokens and {max_new} `max_new_tokens`",
            )
        tokens = self.generate(prompt, max_new, body.get("stop") or [])
        if not body.get("stream"):
            text = "".join(t["text"] for t in tokens if not t["special"])
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return self.send_json(
                h, 200, {"object": "chat.completion", "model": self.model_dir, "choices": [choice]}
            )
        self.start_sse(h)
        for i, tok in enumerate(tokens):
            finish = ("stop" if tok["special"] else "length") if i == len(tokens) - 1 else None
            self.send_event(h, _chat_chunk(self.model_dir, None if tok["special"] else tok["text"], finish))
        self.send_event(h, "[DONE]")


class CannedOpenAIServer(_Server):
    """Answers each question (the last user message) with the SQL the test chose."""

    model = "canned-sql"

    def __init__(
        self,
        answers: dict[str, str],
        default: str = "SELECT 1",
        delay_s: dict[str, float] | None = None,
        refusals: dict[str, tuple[int, str]] | None = None,
    ):
        super().__init__()
        self.answers = answers
        self.default = default
        self.delay_s = delay_s or {}  # question -> seconds between chunks (to watch streaming)
        self.refusals = refusals or {}  # question -> (HTTP status, the server's message)
        self.gate = threading.Event()  # answers wait for it; open unless a test closes it
        self.gate.set()
        self.held = threading.Semaphore(0)  # released once per request that reached the gate

    def handle_get(self, h):
        if h.path == "/v1/models":
            model = {"id": self.model, "object": "model", "created": 0, "owned_by": "tests"}
            self.send_json(h, 200, {"object": "list", "data": [model]})
        else:
            super().handle_get(h)

    def handle_post(self, h, body):
        if h.path != "/v1/chat/completions":
            return super().handle_post(h, body)
        question = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        if question in self.refusals:
            status, message = self.refusals[question]
            return self.send_json(h, status, {"error": {"message": message, "type": "invalid_request_error"}})
        answer = self.answers.get(question, self.default)
        self.held.release()
        self.gate.wait()
        self.start_sse(h)
        words = answer.split(" ")
        for i, word in enumerate(words):  # one chunk per word, as a model streams tokens
            self.send_event(h, _chat_chunk(self.model, word if i == 0 else " " + word))
            time.sleep(self.delay_s.get(question, 0.0))
        self.send_event(h, _chat_chunk(self.model, None, "stop"))
        self.send_event(h, "[DONE]")


class FrozenServer:
    """Listens on 127.0.0.1 and never answers: connections are accepted (by the kernel's backlog, and
    by this thread) and then left alone, as a SIGSTOPped server leaves them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.sock.close()
        for conn in self.accepted:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
