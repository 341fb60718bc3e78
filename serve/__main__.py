"""Launch the text-to-SQL demo.

    python -m tunebench.serve                                   # the model $TUNEBENCH_MODEL names
    python -m tunebench.serve --model models/<run>/merged       # a folder, loaded in this process
    python -m tunebench.serve --model http://127.0.0.1:8080/v1#<run>   # TGI, vLLM, SGLang, any OpenAI-compatible server
    python -m tunebench.serve --model models/<run>/merged --launch-local
                                                      # + `transformers serve` of it on 127.0.0.1 (make serve)

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

from tunebench.chat import ChatError, ModelSpec
from tunebench.serve.config import AppConfig, ModelConfig, add_model_args, model_config_from_args


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m tunebench.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--launch-local",
        action="store_true",
        help="serve the --model folder with `transformers serve` on 127.0.0.1 and talk to it over HTTP",
    )
    ap.add_argument("--host", default=os.environ.get("TUNEBENCH_HOST", "127.0.0.1"), help="app address")
    ap.add_argument(
        "--port", type=int, default=int(os.environ.get("TUNEBENCH_PORT", "7860")), help="app port"
    )
    ap.add_argument("--data-dir", help="sample databases folder (default data/text2sql, built when missing)")
    ap.add_argument(
        "--concurrency", type=int, default=AppConfig.concurrency_limit, help="generations at once"
    )
    add_model_args(ap)
    return ap.parse_args(argv)


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (docker stop, make's own Ctrl-C)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def serve(model_config: ModelConfig, args: argparse.Namespace) -> int:
    from tunebench.serve.app import build_app
    from tunebench.serve.models import ModelChoices
    from tunebench.serve.question import check_health

    app_config = AppConfig(
        data_dir=Path(args.data_dir) if args.data_dir else None, concurrency_limit=args.concurrency
    )
    try:
        models = ModelChoices(model_config, app_config)
    except ChatError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    demo = build_app(models, app_config)
    demo.launch(server_name=args.host, server_port=args.port, prevent_thread_lock=True, quiet=True)
    try:
        print(check_health(models.default).line())
        if len(models.labels) > 1:
            print(f"also offered: {', '.join(models.labels[1:])}")
        print(f"tunebench demo: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
        _wait_for_stop()
    finally:
        demo.close()
        models.close()
    return 0


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    args = parse_args(argv)
    config = model_config_from_args(args)
    try:
        spec = ModelSpec.parse(config.resolved_spec)
    except ChatError as err:
        print(f"error: {err} (train one with `make train`, or pass --model)", file=sys.stderr)
        return 2
    if not args.launch_local:
        return serve(config, args)
    if spec.kind != "local" or not (Path(spec.ref) / "config.json").is_file():
        print(f"error: --launch-local serves a model folder; {spec} is not one", file=sys.stderr)
        return 2

    from tunebench.chat.local_server import transformers_serve

    log_path = Path(tempfile.gettempdir()) / f"tunebench-transformers-serve-{os.getpid()}.log"
    print(f"starting `transformers serve {spec.ref}` on 127.0.0.1 (log: {log_path}) …", flush=True)
    with contextlib.ExitStack() as stack:
        try:
            endpoint = stack.enter_context(
                transformers_serve(spec.ref, device=config.device or "cpu", log_path=log_path)
            )
        except (RuntimeError, TimeoutError) as err:
            print(f"error: transformers serve did not start: {err}; see {log_path}", file=sys.stderr)
            return 1
        code = serve(config.with_overrides(spec=f"{endpoint.base_url}#{endpoint.model}"), args)
    print("stopped the app and transformers serve")
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the app was up: the server was already stopped on the way out
        sys.exit(130)
