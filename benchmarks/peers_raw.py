"""benchmarks.peers, part `raw`: our paper env against raw C MuJoCo on the same scene.

- single-thread `mujoco.mj_step` in a Python loop (`benchmarks.common.mj_step_per_s`);
- `mujoco.rollout` on all cores, `num_envs` states, one policy step (12 physics steps) per call
  (`benchmarks.common.raw_rollout_physics_steps_per_s`): what a hand-written batched C loop that
  returns to its policy at 30 Hz gets;
- our env (`registry.make("paper_card")`, DR on, no base), vmapped, jitted, `STEPS_PER_CALL`
  policy steps per call with random actions. One policy step = physics_hz / policy_hz = 360 / 30 =
  12 physics steps, with the observation, reward, DR fields, NaN guard and auto-reset included.
All rates are physics steps/s; ratio = ours / peer.
"""

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from benchmarks.common import mj_step_per_s, raw_rollout_physics_steps_per_s, time_steady
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.paper_card import PaperCardConfig, load_model

STEPS_PER_CALL: int = 16
"""Policy steps per jitted call of our env (one `lax.scan`)."""

ActionFn = Callable[[jax.Array, int, int], jax.Array]


def scan_rate(env: EpisodeEnv, num_envs: int, action_fn: ActionFn, seconds: float, seed: int = 0) -> dict[str, float]:
    """Policy steps/s of `env` vmapped over `num_envs`, `STEPS_PER_CALL` steps per jitted call,
    timed for about `seconds` after a compile call. action_fn(key, num_envs, A) -> [N, A]."""
    run = _compiled_scan(env, num_envs, action_fn)
    key, k_reset = jax.random.split(jax.random.PRNGKey(seed))
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(k_reset, num_envs))
    timing = time_steady(run, (state, key), min_seconds=seconds)
    return {
        "policy_steps_per_s": num_envs * STEPS_PER_CALL / timing["per_call_s"],
        "compile_s": max(timing["first_call_s"] - timing["per_call_s"], 0.0),
        "timed_s": timing["timed_s"],
    }


def _compiled_scan(env: EpisodeEnv, num_envs: int, action_fn: ActionFn) -> Callable[[Any], Any]:
    def run(carry: tuple[Any, jax.Array]) -> tuple[Any, jax.Array]:
        state, key = carry
        key, k_steps = jax.random.split(key)

        def body(s: Any, k: jax.Array) -> tuple[Any, None]:
            return jax.vmap(env.step)(s, action_fn(k, num_envs, env.action_size)), None

        state, _ = jax.lax.scan(body, state, jax.random.split(k_steps, STEPS_PER_CALL))
        return state, key

    return jax.jit(run)


def small_noise(key: jax.Array, num_envs: int, action_size: int) -> jax.Array:
    """Actions 0.3 * N(0, 1), so the arm moves (as benchmarks.throughput steps it)."""
    return 0.3 * jax.random.normal(key, (num_envs, action_size))


def run_raw(engine: str, num_envs: int, seconds: float, seed: int = 0) -> dict[str, Any]:
    """The `raw` record: physics steps/s of mj_step, mujoco.rollout and our env, and the ratios."""
    config = PaperCardConfig(num_envs=num_envs, engine=engine)
    substeps = config.physics_hz // config.policy_hz
    model = load_model(config)
    single = mj_step_per_s(model, seconds)
    rollout = raw_rollout_physics_steps_per_s(model, num_envs, substeps, calls=_rollout_calls(model, num_envs, substeps, seconds))
    env = registry.make("paper_card", config)
    ours = scan_rate(env, num_envs, small_noise, seconds, seed)
    physics = ours["policy_steps_per_s"] * substeps
    return {
        "scene": "paper_card", "engine": env.task.engine_name, "num_envs": num_envs, "dr": True,
        "physics_hz": config.physics_hz, "policy_hz": config.policy_hz, "physics_steps_per_policy_step": substeps,
        "mj_step_single_thread_physics_steps_per_s": single,
        "rollout_all_cores_physics_steps_per_s": rollout,
        "ours_policy_steps_per_s": ours["policy_steps_per_s"],
        "ours_physics_steps_per_s": physics,
        "ours_compile_s": ours["compile_s"],
        "ratio_ours_vs_mj_step": physics / single,
        "ratio_ours_vs_rollout": physics / rollout,
    }


def _rollout_calls(model: Any, num_envs: int, substeps: int, seconds: float) -> int:
    """How many rollout calls fill about `seconds`, from a 2-call estimate."""
    start = time.perf_counter()
    rate = raw_rollout_physics_steps_per_s(model, num_envs, substeps, calls=2)
    if time.perf_counter() - start >= seconds:
        return 2
    return max(2, int(seconds * rate / (num_envs * substeps)))


def uniform_actions(key: jax.Array, num_envs: int, action_size: int) -> jax.Array:
    """Uniform random actions in [-1, 1], as `action_space.sample()` gives a Gymnasium env."""
    return jax.random.uniform(key, (num_envs, action_size), jnp.float32, -1.0, 1.0)
