"""Throughput of the paper-in-square env on each physics engine, at several batch sizes.

    python -m benchmarks.throughput --num-envs 1,64,256,1024 --json out.json

For each (engine, num_envs) it jits a scan of `--steps` policy steps of the vmapped env (zero
actions plus small noise, so the arm moves), runs it once to compile (reported apart as
`compile_s`), then times `--repeats` more calls. It also times, on the same model:
- single-thread C `mj_step` (`reference_mj_step_per_s`);
- raw `mujoco.rollout` on all cores at the same batch and chunk (`raw_rollout_physics_steps_per_s`),
  the ceiling for the `c` engine, which calls it from inside jit.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import json
import os
import sys
import time
from typing import Literal

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import tyro
from mujoco import rollout

from benchmarks.common import machine, machine_line, timed
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_square import PaperDRConfig, PaperSquareConfig, load_model


@dataclasses.dataclass(frozen=True)
class Args:
    """Measure policy-steps/s and physics-steps/s of the paper scene per engine and batch size."""

    num_envs: str = "1,64,256,1024"
    """Comma-separated batch sizes."""
    engines: str = "c,mjx"
    """Comma-separated engines (mjx, c, warp)."""
    steps: int = 30
    """Policy steps per timed call (each is physics_hz / policy_hz physics steps)."""
    repeats: int = 3
    """Timed calls after the compile call."""
    json: str | None = None
    """Write the records to this JSON file."""
    dr: Literal["on", "off"] = "on"
    """Domain randomisation in the benchmarked env."""


def bench_env(engine: str, num_envs: int, args: Args) -> dict:
    """Times the jitted, vmapped env on one engine and batch size."""
    dr = PaperDRConfig() if args.dr == "on" else PaperDRConfig.off()
    config = PaperSquareConfig(num_envs=num_envs, engine=engine, dr=dr)
    env = registry.make("paper_square", config)
    substeps = config.physics_hz // config.policy_hz

    @jax.jit
    def run(state, key):
        def body(carry, k):
            s = carry
            action = 0.3 * jax.random.normal(k, (num_envs, env.action_size))
            return jax.vmap(env.step)(s, action), None

        state, _ = jax.lax.scan(body, state, jax.random.split(key, args.steps))
        return state

    state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), num_envs))
    holder = {"state": state, "key": jax.random.PRNGKey(1)}

    def call():
        holder["key"], k = jax.random.split(holder["key"])
        holder["state"] = run(holder["state"], k)
        return holder["state"]

    compile_s, per_call = timed(call, args.repeats)
    policy_rate = num_envs * args.steps / per_call
    return {
        "engine": engine, "num_envs": num_envs,
        "policy_steps_per_s": policy_rate, "physics_steps_per_s": policy_rate * substeps,
        "compile_s": compile_s - per_call, "substeps": substeps, "dr": args.dr,
    }


def bench_raw_rollout(num_envs: int, substeps: int, calls: int = 20) -> float:
    """Physics steps/s of plain `mujoco.rollout` on all cores, same model, batch and chunk."""
    m = load_model(PaperSquareConfig())
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    nstate = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    state = np.zeros(nstate)
    mujoco.mj_getState(m, d, state, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    init = np.tile(state, (num_envs, 1))
    ctrl = np.tile(d.ctrl, (num_envs, substeps, 1))
    nthread = os.cpu_count() or 1
    with rollout.Rollout(nthread=nthread) as pool:
        datas = [mujoco.MjData(m) for _ in range(nthread)]
        pool.rollout(m, datas, init, ctrl)
        start = time.perf_counter()
        for _ in range(calls):
            pool.rollout(m, datas, init, ctrl)
        return num_envs * substeps * calls / (time.perf_counter() - start)


def bench_mj_step(seconds: float = 1.0) -> float:
    """Single-thread C `mj_step` steps/s on the paper scene."""
    m = load_model(PaperSquareConfig())
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            mujoco.mj_step(m, d)
        n += 100
    return n / (time.perf_counter() - start)


def main(args: Args) -> list[dict]:
    try:
        sizes = [int(x) for x in args.num_envs.split(",") if x]
    except ValueError:
        sys.exit(f"--num-envs must be comma-separated integers, got {args.num_envs!r}")
    if not sizes or min(sizes) < 1:
        sys.exit(f"--num-envs needs batch sizes >= 1, got {args.num_envs!r}")
    engines = [e for e in args.engines.split(",") if e]
    info = machine()
    print(f"machine: {machine_line(info)}\nXLA_FLAGS: {info['xla_flags']}", flush=True)
    mj_step_rate = bench_mj_step()
    print(f"single-thread C mj_step: {mj_step_rate:,.0f} steps/s", flush=True)
    records = []
    for engine in engines:
        for n in sizes:
            try:
                rec = bench_env(engine, n, args)
            except (RuntimeError, ValueError) as err:
                print(f"{engine:>4} skipped: {err}", flush=True)
                break
            rec["raw_rollout_physics_steps_per_s"] = bench_raw_rollout(n, rec["substeps"])
            rec["reference_mj_step_per_s"] = mj_step_rate
            rec["machine"] = machine_line(info)
            rec["xla_flags"] = info["xla_flags"]
            records.append(rec)
            print(
                f"{engine:>4} n={n:>5}: {rec['policy_steps_per_s']:>10,.0f} policy steps/s "
                f"{rec['physics_steps_per_s']:>11,.0f} physics steps/s "
                f"(raw rollout {rec['raw_rollout_physics_steps_per_s']:>11,.0f}) "
                f"compile {rec['compile_s']:.1f} s", flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "records": records}, f, indent=2)
        print(f"wrote {args.json}")
    return records


if __name__ == "__main__":
    main(tyro.cli(Args))
