"""Launch the text-to-SQL demo.

    python -m tunebench.serve                         # app over the configured backend (TUNEBENCH_* / flags)
    python -m tunebench.serve --backend tgi --url http://127.0.0.1:8080
    python -m tunebench.serve --launch-local models/tiny-text-to-sql/merged
                                                      # + `transformers serve` on 127.0.0.1 (make serve)

With --launch-local both processes stop together on Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from tunebench.serve.config import BACKEND_NAMES, AppConfig, BackendConfig, add_backend_args, config_from_args


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--launch-local", metavar="MODEL_DIR", help="start `transformers serve MODEL_DIR` and use it"
    )
    ap.add_argument("--device", default="cpu", help="device for --launch-local (cpu, cuda)")
    ap.add_argument("--host", default=os.environ.get("TUNEBENCH_HOST", "127.0.0.1"), help="app address")
    ap.add_argument(
        "--port", type=int, default=int(os.environ.get("TUNEBENCH_PORT", "7860")), help="app port"
    )
    ap.add_argument("--data-dir", help="sample databases folder (default data/text2sql, built when missing)")
    ap.add_argument(
        "--concurrency", type=int, default=AppConfig.concurrency_limit, help="generations at once"
    )
    add_backend_args(ap)
    return ap.parse_args(argv)


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (docker stop, make's own Ctrl-C)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def serve(backend_config: BackendConfig, args: argparse.Namespace) -> None:
    from tunebench.serve.app import build_app
    from tunebench.serve.backends import make_backend

    app_config = AppConfig(
        data_dir=Path(args.data_dir) if args.data_dir else None, concurrency_limit=args.concurrency
    )
    backend = make_backend(backend_config)
    demo = build_app(backend, app_config)
    demo.launch(server_name=args.host, server_port=args.port, prevent_thread_lock=True, quiet=True)
    try:
        health = backend.health()
        print(
            f"backend: {health.backend} · model: {health.model} · {health.location} · "
            f"{'live' if health.ok else health.detail}"
        )
        print(f"tunebench demo: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
        _wait_for_stop()
    finally:
        demo.close()


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    args = parse_args(argv)
    config = config_from_args(args)
    if config.backend not in BACKEND_NAMES:
        print(
            f"error: unknown backend {config.backend!r}: choose one of {', '.join(BACKEND_NAMES)}",
            file=sys.stderr,
        )
        return 2
    if not args.launch_local:
        serve(config, args)
        return 0

    from tunebench.local_server import transformers_serve

    model_dir = Path(args.launch_local)
    if not (model_dir / "config.json").is_file():
        print(
            f"error: no model in {model_dir} (train one with `make train`, or pass MODEL=…)", file=sys.stderr
        )
        return 2
    log_path = Path(tempfile.gettempdir()) / f"tunebench-transformers-serve-{os.getpid()}.log"
    print(f"starting `transformers serve {model_dir}` on 127.0.0.1 (log: {log_path}) …", flush=True)
    with contextlib.ExitStack() as stack:
        try:
            endpoint = stack.enter_context(
                transformers_serve(model_dir, device=args.device, log_path=log_path)
            )
        except (RuntimeError, TimeoutError) as err:
            print(f"error: transformers serve did not start: {err}; see {log_path}", file=sys.stderr)
            return 1
        local = config.with_overrides(backend="openai", url=endpoint.base_url, model=endpoint.model)
        serve(local, args)
    print("stopped the app and transformers serve")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the app was up: the server was already stopped on the way out
        sys.exit(130)
