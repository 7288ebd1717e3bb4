"""Shared helpers for benchmarks: the machine's file-name tag, timing after warm-up, a compile
counter, figure saving, and raw C MuJoCo references (single-thread `mj_step`, `mujoco.rollout` on all cores).
The machine itself is described by `mjx_gr00t.machine`."""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import os
import re
import time
from collections.abc import Callable
from typing import Any

import jax
import mujoco
import numpy as np
from mujoco import rollout

from mjx_gr00t.export.format import write_json_atomic

_BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_compiles = [0]


def _count_compile(event: str, duration_s: float, **kwargs: Any) -> None:
    if event == _BACKEND_COMPILE_EVENT:
        _compiles[0] += 1


jax.monitoring.register_event_duration_secs_listener(_count_compile)


def compile_count() -> int:
    """XLA backend compilations in this process so far (any jitted function, any op)."""
    return _compiles[0]


def machine_tag() -> str:
    """A short file-name tag for this machine: 'cpu<cores>' on a CPU-only machine, else the first
    accelerator's kind with its count, e.g. 'nvidia-h200x1'."""
    devices = jax.devices()
    if devices[0].platform == "cpu":
        return f"cpu{os.cpu_count()}"
    kind = re.sub(r"[^a-z0-9]+", "-", devices[0].device_kind.lower()).strip("-")
    return f"{kind}x{len(devices)}"


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


def time_steady(
    step: Callable[[Any], Any], carry: Any, min_seconds: float, min_calls: int = 2
) -> dict[str, float]:
    """Times `carry = step(carry)` after one warm-up call (which compiles).

    Calls again until at least `min_calls` calls and `min_seconds` have passed, blocking on each
    result. Returns first_call_s (the warm-up call, compile included), per_call_s, calls,
    timed_s, and compiles_in_timed_region (XLA compilations during the timed calls; 0 when nothing
    recompiled). `step` may donate its input.
    """
    start = time.perf_counter()
    carry = jax.block_until_ready(step(carry))
    first = time.perf_counter() - start
    compiles_before = compile_count()
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_seconds:
        carry = jax.block_until_ready(step(carry))
        calls += 1
    elapsed = time.perf_counter() - start
    return {
        "first_call_s": first, "per_call_s": elapsed / calls, "calls": calls, "timed_s": elapsed,
        "compiles_in_timed_region": compile_count() - compiles_before,
    }


def _keyframe_data(model: mujoco.MjModel) -> mujoco.MjData:
    data = mujoco.MjData(model)
    if model.nkey:
        mujoco.mj_resetDataKeyframe(model, data, 0)
    return data


def raw_rollout_physics_steps_per_s(
    model: mujoco.MjModel, num_envs: int, substeps: int, calls: int = 20
) -> float:
    """Physics steps/s of plain `mujoco.rollout` on all cores: `num_envs` copies of the first
    keyframe, `substeps` steps per call at the keyframe's control (one warm-up call first)."""
    d = _keyframe_data(model)
    nstate = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    state = np.zeros(nstate)
    mujoco.mj_getState(model, d, state, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    init = np.tile(state, (num_envs, 1))
    ctrl = np.tile(d.ctrl, (num_envs, substeps, 1))
    nthread = os.cpu_count() or 1
    with rollout.Rollout(nthread=nthread) as pool:
        datas = [mujoco.MjData(model) for _ in range(nthread)]
        pool.rollout(model, datas, init, ctrl)
        start = time.perf_counter()
        for _ in range(calls):
            pool.rollout(model, datas, init, ctrl)
        return num_envs * substeps * calls / (time.perf_counter() - start)


def mj_step_per_s(model: mujoco.MjModel, seconds: float = 1.0) -> float:
    """Single-thread C `mj_step` steps/s from the first keyframe, for about `seconds`."""
    d = _keyframe_data(model)
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < seconds:
        for _ in range(100):
            mujoco.mj_step(model, d)
        n += 100
    return n / (time.perf_counter() - start)


def write_record(path: str | None, record: dict[str, Any]) -> None:
    """Writes a benchmark's `record` as indented JSON to `path` (nothing when None) and says so."""
    if path:
        write_json_atomic(path, record)
        print(f"wrote {path}")


def save_figure(fig: Any, path: str, dpi: int = 120) -> None:
    """Writes a matplotlib figure to `path` (its directory made if missing) and closes it."""
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
