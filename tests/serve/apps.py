"""Run the real Gradio app in this process on 127.0.0.1 (a free port) for HTTP and browser tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import gradio as gr

from tests.conftest import HANG_S
from tunebench.chat.local_server import free_port, wait_http_ok
from tunebench.serve.app import build_app, launch
from tunebench.serve.config import AppConfig, ModelConfig
from tunebench.serve.models import ModelChoices


def choices(spec: str, config: AppConfig, **kw) -> ModelChoices:
    """The app's models for one spec (a folder, or a server URL `http://host:port/v1#name`)."""
    return ModelChoices(ModelConfig(spec=str(spec)), config, **kw)


@contextlib.contextmanager
def running_demo(models: ModelChoices | str, config: AppConfig, **build) -> Iterator[tuple[str, gr.Blocks]]:
    """Yields the app's URL and its Blocks (`demo.service` is the app's state); closes both on exit.
    `models` may be a spec string."""
    if isinstance(models, str):
        models = choices(models, config)
    demo = build_app(models, config, **build)
    port = free_port()
    launch(demo, config, host="127.0.0.1", port=port)
    demo.service.health.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http_ok(url, timeout_s=HANG_S)
        yield url, demo
    finally:
        demo.close()
        demo.service.close()


@contextlib.contextmanager
def running_app(models: ModelChoices | str, config: AppConfig, **build) -> Iterator[str]:
    """Yields the app's URL; closes the server on exit. `models` may be a spec string."""
    with running_demo(models, config, **build) as (url, _):
        yield url
