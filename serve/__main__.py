"""Launch the text-to-SQL demo.

    python -m tunebench.serve                                   # the model $TUNEBENCH_MODEL names
    python -m tunebench.serve --model models/<run>/merged       # a folder, loaded in this process
    python -m tunebench.serve --model http://127.0.0.1:8080/v1#<run>   # TGI, vLLM, SGLang, any OpenAI-compatible server
    python -m tunebench.serve --model models/<run>/merged --launch-local
                                                      # + `transformers serve` of it on 127.0.0.1 (make serve)

With --launch-local (what `make serve` runs) the app looks after its model server: one that exits or
stops answering is restarted on the same port after a bounded backoff (serve/supervisor.py); when
restarts keep failing the app stops with one line saying so. Both stop together on Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import argparse
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
        help="serve the --model folder with `transformers serve` on 127.0.0.1, supervised (restarted when it "
        "dies or freezes), and talk to it over HTTP",
    )
    ap.add_argument("--host", default=os.environ.get("TUNEBENCH_HOST", "127.0.0.1"), help="app address")
    ap.add_argument(
        "--port", type=int, default=int(os.environ.get("TUNEBENCH_PORT", "7860")), help="app port"
    )
    ap.add_argument(
        "--model-port",
        type=int,
        default=int(os.environ.get("TUNEBENCH_MODEL_PORT", "0")),
        help="with --launch-local: the model server's port on 127.0.0.1 (default: a free one)",
    )
    ap.add_argument("--data-dir", help="sample databases folder (default data/text2sql, built when missing)")
    ap.add_argument(
        "--concurrency", type=int, default=AppConfig.concurrency_limit, help="generations at once"
    )
    ap.add_argument(
        "--queue-size",
        type=int,
        default=AppConfig.queue_size,
        help="questions that may wait for a generation; more are answered 'busy'",
    )
    add_model_args(ap)
    return ap.parse_args(argv)


def _wait_for_stop(also: threading.Event | None = None) -> None:
    """Block until Ctrl-C or SIGTERM (docker stop, make's own Ctrl-C), or until `also` is set."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        if also is not None and also.is_set():
            return


def serve(model_config: ModelConfig, args: argparse.Namespace, supervisor=None) -> int:
    from tunebench.serve.app import build_app, launch
    from tunebench.serve.models import ModelChoices

    app_config = AppConfig(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        concurrency_limit=args.concurrency,
        queue_size=args.queue_size,
    )
    try:
        models = ModelChoices(model_config, app_config)
    except ChatError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    state = (lambda: supervisor.state) if supervisor is not None else None
    demo = build_app(models, app_config, server_state=state)
    launch(demo, app_config, host=args.host, port=args.port)
    try:
        print(demo.service.health.check_now(models.default_name).line())
        demo.service.health.start()
        if len(models.choices) > 1:
            print(f"also offered: {', '.join(models.names[1:])}")
        print(f"tunebench demo: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
        _wait_for_stop(supervisor.gave_up if supervisor is not None else None)
    finally:
        demo.close()
        demo.service.close()
        models.close()
    if supervisor is not None and supervisor.gave_up.is_set():
        print(f"error: {supervisor.state}; the app stopped", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpx2"):  # one line per request: the health check would write one every 2 s
        logging.getLogger(chatty).setLevel(logging.WARNING)
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

    from tunebench.chat.local_server import free_port
    from tunebench.serve.supervisor import ServerSupervisor, SupervisorConfig

    port = args.model_port or free_port()
    # the server names its model by this folder; the app names it by its run
    folder = str(Path(spec.ref).resolve())
    log_path = Path(tempfile.gettempdir()) / f"tunebench-transformers-serve-{os.getpid()}.log"
    supervisor = ServerSupervisor(
        folder, port, device=config.device or "cpu", log_path=log_path, config=SupervisorConfig()
    )
    print(f"starting `transformers serve {folder}` on 127.0.0.1:{port} (log: {log_path}) …", flush=True)
    try:
        supervisor.start()
    except RuntimeError as err:
        supervisor.close()
        print(f"error: transformers serve did not start: {err}; see {log_path}", file=sys.stderr)
        return 1
    print(f"model server: pid {supervisor.pid}, {supervisor.config.describe()}", flush=True)
    try:
        code = serve(config.with_overrides(spec=f"http://127.0.0.1:{port}/v1#{folder}"), args, supervisor)
    finally:
        supervisor.close()
    print("stopped the app and transformers serve")
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the app was up: the server was already stopped on the way out
        sys.exit(130)
