"""Figures of the training-throughput benchmark: arm-vs-baseline ratios, summary rows, console table."""

from __future__ import annotations

import statistics


def _quartiles(values: list[float]) -> list[float] | None:
    """[first, third] quartile (inclusive method: with 2-3 values, the outer ones' midpoints)."""
    if len(values) < 2:
        return None
    q = statistics.quantiles(values, n=4, method="inclusive")
    return [round(q[0], 3), round(q[2], 3)]


def spread_text(c: dict) -> str:
    iqr = c.get("window_ratio_iqr")
    ratios = c["window_ratios"]
    if not iqr:
        return f"{len(ratios)} paired window"
    return (
        f"middle half of {len(ratios)} paired windows {iqr[0]:.2f}-{iqr[1]:.2f}x, "
        f"all {min(ratios):.2f}-{max(ratios):.2f}x"
    )


def compare(arm: dict, base: dict) -> dict:
    pairs = list(zip(arm["window_tokens_per_s"], base["window_tokens_per_s"], strict=False))
    ratios = [a / b for a, b in pairs if b > 0]
    pad = base["padding_fraction"]
    mem_key = (
        "cuda_peak_allocated_mib" if "cuda_peak_allocated_mib" in arm["memory"] else "peak_rss_over_start_mib"
    )
    mem_a, mem_b = arm["memory"].get(mem_key), base["memory"].get(mem_key)
    return {
        "arm": arm["arm"],
        "baseline": base["arm"],
        # the headline: windows of the two arms ran back to back, so a load spike on a shared machine
        # spoils one pair of windows, not the figure; the aggregate ratio is kept for reference
        "median_window_ratio": round(statistics.median(ratios), 3) if ratios else None,
        "tokens_per_s_ratio": round(arm["tokens_per_s"] / base["tokens_per_s"], 3),
        "window_ratios": [round(r, 3) for r in ratios],
        # the spread the headline comes with: the middle half of the paired-window ratios
        "window_ratio_iqr": _quartiles(ratios),
        "baseline_padding_fraction": pad,
        "padding_only_bound": round(1 / (1 - pad), 3) if pad < 1 else None,
        "tokens_per_forward": {
            base["arm"]: round(
                base["trained_tokens"] / max(1, base["timed_steps"] * base["forwards_per_step"]), 1
            ),
            arm["arm"]: round(
                arm["trained_tokens"] / max(1, arm["timed_steps"] * arm["forwards_per_step"]), 1
            ),
        },
        "memory_metric": mem_key,
        "memory_ratio": round(mem_a / mem_b, 3) if mem_a and mem_b else None,
    }


def comparisons(arms: dict, pairs: list[tuple[str, str]]) -> list[dict]:
    ok = {name for name, r in arms.items() if "error" not in r}
    return [compare(arms[a], arms[b]) for a, b in pairs if a in ok and b in ok]


def summary_rows(models: dict) -> list[dict]:
    rows = []
    for name, m in models.items():
        for arm_name, arm in m.get("arms", {}).items():
            if "tokens_per_s" not in arm:
                continue
            mem = arm["memory"]
            mem_txt = (
                f"{mem['cuda_peak_allocated_mib'] / 1024:.1f} GiB CUDA peak"
                if mem.get("cuda_peak_allocated_mib")
                else f"{mem.get('peak_rss_over_start_mib')} MiB RSS over start (peak {mem.get('peak_rss_mib')} MiB)"
            )
            s = arm["settings"]
            note = (
                f"padding {arm['padding_fraction']:.1%}, {mem_txt}, batch {s['per_device_train_batch_size']}"
                f"x{s['gradient_accumulation_steps']}, packing {s['packing']}, grad ckpt {s['gradient_checkpointing']}"
                f", {s['attn_implementation']}, {s['torch_threads']} threads"
            )
            rows.append(
                {"figure": f"{name} {arm_name} tokens/s", "value": f"{arm['tokens_per_s']:.0f}", "note": note}
            )
        for c in m.get("comparisons", []):
            rows.append(
                {
                    "figure": f"{name} {c['arm']} / {c['baseline']} tokens/s",
                    "value": f"{c['median_window_ratio']:.2f}x",
                    "note": f"median of {len(c['window_ratios'])} paired-window ratios ({spread_text(c)}; "
                    f"aggregate {c['tokens_per_s_ratio']:.2f}x); "
                    f"baseline padding {c['baseline_padding_fraction']:.1%} (padding alone: "
                    f"{c['padding_only_bound']}x); memory ratio {c['memory_ratio']}",
                }
            )
    return rows


def print_report(models: dict) -> None:
    for name, m in models.items():
        print(f"\n== {name} ==")
        if "skipped" in m:
            print("  skipped:", m["skipped"])
            continue
        print(f"  {'arm':<18}{'tokens/s':>10}{'padding':>9}{'tok/fwd':>9}{'step s':>9}  memory")
        for arm_name, arm in m["arms"].items():
            if "error" in arm:
                print(f"  {arm_name:<18} FAILED: {arm['error'].splitlines()[0]}")
                continue
            mem = arm["memory"]
            mem_txt = (
                f"{mem['cuda_peak_allocated_mib']:.0f} MiB CUDA"
                if mem.get("cuda_peak_allocated_mib")
                else f"+{mem['peak_rss_over_start_mib']} MiB RSS"
            )
            tpf = arm["tokens_per_step"] / max(arm["forwards_per_step"], 1)
            print(
                f"  {arm_name:<18}{arm['tokens_per_s']:>10.0f}{arm['padding_fraction']:>9.1%}{tpf:>9.0f}"
                f"{arm['step_s']:>9.3f}  {mem_txt}"
            )
        for c in m["comparisons"]:
            print(
                f"  ratio {c['arm']} / {c['baseline']}: {c['median_window_ratio']:.2f}x tokens/s, median "
                f"({spread_text(c)}; aggregate {c['tokens_per_s_ratio']:.2f}x; padding alone: "
                f"{c['padding_only_bound']}x; memory ratio {c['memory_ratio']})"
            )
