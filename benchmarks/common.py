"""Shared helpers for benchmarks: the machine's description and timing after warm-up."""

import os
import platform
import time
from collections.abc import Callable
from typing import Any

import jax


def machine() -> dict[str, Any]:
    """The machine the numbers were measured on: CPU model, cores, JAX backend and devices, flags."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "platform": platform.platform(),
    }


def machine_line(info: dict[str, Any]) -> str:
    """One line naming the machine."""
    return f"{info['cpu']}, {info['cores']} cores, JAX {info['jax_backend']} ({', '.join(info['devices'])})"


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Runs `fn` once (compile + warm-up), then `repeats` times; returns (first_call_s, per_call_s)."""
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    start = time.perf_counter()
    out = None
    for _ in range(repeats):
        out = fn()
    jax.block_until_ready(out)
    return first, (time.perf_counter() - start) / repeats
