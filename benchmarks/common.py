"""Shared helpers for benchmarks: the machine's description and timing after warm-up."""

import time
from collections.abc import Callable
from typing import Any

import jax

from mjx_gr00t.machine import machine, machine_line  # noqa: F401  (re-exported)


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
