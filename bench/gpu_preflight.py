"""What the GPU benchmark found on this machine, printed and saved before any model is built.

    python -m bench.gpu_preflight            # `make bench-gpu` runs this first

One line per component: torch and CUDA (device, capability, memory), flash-attn (importable, and
whether the recipes' `attn_implementation: auto` will pick it), bitsandbytes (a real NF4 matmul on
the GPU, since an import can succeed on a build without CUDA kernels), liger-kernel, and the
versions of TRL, transformers, PEFT and accelerate. Written to bench/results/gpu_preflight.json at
once, so a GPU session that runs out of time still says what it had.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

from bench.common import write_result


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _try(fn) -> tuple[bool, str]:
    try:
        return fn()
    except Exception as err:  # a preflight reports every failure as one line and goes on
        return False, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def check_cuda() -> tuple[bool, str]:
    import torch

    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__}: no CUDA device (built for CUDA {torch.version.cuda})"
    props = torch.cuda.get_device_properties(0)
    return True, (
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} x {props.name} "
        f"(sm_{props.major}{props.minor}, {props.total_memory / 2**30:.0f} GiB), bf16 "
        f"{'yes' if torch.cuda.is_bf16_supported() else 'no'}"
    )


def check_flash_attn() -> tuple[bool, str]:
    import torch

    mod = importlib.import_module("flash_attn")
    # the recipes' `attn_implementation: auto` rule (train/attention.py): flash-attn importable on CUDA
    usable = torch.cuda.is_available()
    picked = "the recipes' `auto` picks it" if usable else "no CUDA: the recipes use sdpa"
    return usable, f"flash-attn {getattr(mod, '__version__', '?')}: {picked}"


def check_bitsandbytes() -> tuple[bool, str]:
    import bitsandbytes as bnb
    import torch

    if not torch.cuda.is_available():
        return False, f"bitsandbytes {bnb.__version__}: no CUDA device to run NF4 on"
    layer = bnb.nn.Linear4bit(64, 64, compute_dtype=torch.bfloat16, quant_type="nf4").cuda()
    out = layer(torch.randn(2, 64, device="cuda", dtype=torch.bfloat16))
    torch.cuda.synchronize()
    return bool(torch.isfinite(out).all()), f"bitsandbytes {bnb.__version__}: NF4 matmul on the GPU ran"


def check_liger() -> tuple[bool, str]:
    importlib.import_module("liger_kernel.transformers")
    return True, f"liger-kernel {_version('liger-kernel') or '?'}: importable (the tunebench arm uses it)"


CHECKS = {
    "cuda": check_cuda,
    "flash_attn": check_flash_attn,
    "bitsandbytes": check_bitsandbytes,
    "liger": check_liger,
}


def preflight() -> dict:
    found = {}
    for name, check in CHECKS.items():
        ok, text = _try(check)
        found[name] = {"ok": bool(ok), "detail": text}
        print(f"preflight {name:<13}{'ok' if ok else 'NO'}  {text}", flush=True)
    versions = {d: _version(d) for d in ("trl", "transformers", "peft", "accelerate", "datasets", "torch")}
    print("preflight versions     " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    return {"found": found, "versions": versions}


def main(argv: list[str] | None = None) -> int:
    result = preflight()
    rows = [
        {"figure": f"preflight {name}", "value": "ok" if v["ok"] else "missing", "note": v["detail"]}
        for name, v in result["found"].items()
    ]
    write_result("gpu_preflight", {**result, "summary_rows": rows})
    return 0  # the benchmark runs with whatever was found: a missing part is a finding, not a failure


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
