"""Run the real Gradio app in this process on 127.0.0.1 (a free port) for HTTP and browser tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tunebench.local_server import free_port, wait_http_ok
from tunebench.serve.app import build_app
from tunebench.serve.backends import Backend
from tunebench.serve.config import AppConfig


@contextlib.contextmanager
def running_app(backend: Backend, config: AppConfig) -> Iterator[str]:
    """Yields the app's URL; closes the server on exit."""
    demo = build_app(backend, config)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http_ok(url, timeout_s=60)
        yield url
    finally:
        demo.close()
