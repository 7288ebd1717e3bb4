"""Held-out evaluation: run one full episode in each of N parallel envs and summarise it.

    results = run_episodes(env, act, params, episodes=256, seed=10_000)   # jitted inside
    summary = summarise(results)      # success rate (95 % Wilson CI), mean return, final distance

`act(params, state, key) -> action` acts for the whole batch: state leaves [N, ...] -> actions
[N, A]; `params` is any pytree (weights, alpha), passed as data so that evaluating new weights
with the same `act` reuses the compiled rollout.
Each env runs until its first episode ends (success, time limit or NaN physics); what happens
after that is ignored, so every env contributes exactly one episode.
"""

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mjx_gr00t.envs.base import EpisodeEnv, State

Act = Callable[[Any, State, jax.Array], jax.Array]

DISTANCE_METRIC: str = "task/dist_to_goal"


@struct.dataclass
class EpisodeResults:
    """One episode per env, all [N]: success (0/1), return, length (policy steps), final distance."""

    success: jax.Array
    episode_return: jax.Array
    length: jax.Array
    final_distance: jax.Array


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % (z = 1.96) Wilson score interval of a binomial rate, as (low, high)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(values: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """The normal-approximation 95 % interval of a mean, as (low, high)."""
    n = len(values)
    mean = float(np.mean(values)) if n else 0.0
    half = z * float(np.std(values, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    return mean - half, mean + half


def run_episodes(
    env: EpisodeEnv, act: Act, params: Any, episodes: int, seed: int,
    distance_metric: str = DISTANCE_METRIC,
) -> EpisodeResults:
    """One episode in each of `episodes` envs; initial states drawn from `seed`.

    Jitted, and compiled once per (env, act, episodes, distance_metric)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    return _compiled_run(env, act, episodes, distance_metric)(params, jax.random.PRNGKey(seed))


@functools.lru_cache(maxsize=16)
def _compiled_run(
    env: EpisodeEnv, act: Act, episodes: int, distance_metric: str
) -> Callable[[Any, jax.Array], EpisodeResults]:
    def run(params: Any, key: jax.Array) -> EpisodeResults:
        k_reset, k_act = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(k_reset, episodes))
        zeros = jnp.zeros(episodes, jnp.float32)
        first = EpisodeResults(success=zeros, episode_return=zeros, length=zeros, final_distance=zeros)

        def body(carry: tuple[State, jax.Array, EpisodeResults], key: jax.Array) -> tuple[Any, None]:
            s, finished, res = carry
            nxt = jax.vmap(env.step)(s, act(params, s, key))
            ends = (nxt.done > 0.5) & ~finished
            now = EpisodeResults(
                success=nxt.success,
                episode_return=s.episode.episode_return + nxt.reward,
                length=(s.episode.steps + 1).astype(jnp.float32),
                final_distance=nxt.metrics[distance_metric],
            )
            res = jax.tree.map(lambda new, old: jnp.where(ends, new, old), now, res)
            return (nxt, finished | ends, res), None

        keys = jax.random.split(k_act, env.episode_length)
        (_, _, res), _ = jax.lax.scan(body, (state, jnp.zeros(episodes, bool), first), keys)
        return res

    return jax.jit(run)


def summarise(results: EpisodeResults) -> dict[str, Any]:
    """success_rate, success_ci95 [low, high], mean_return (+ ci95), mean_final_distance (+ ci95),
    mean_length and episodes, as plain Python numbers."""
    success = np.asarray(results.success) > 0.5
    returns = np.asarray(results.episode_return, np.float64)
    distance = np.asarray(results.final_distance, np.float64)
    n, k = len(success), int(success.sum())
    return {
        "episodes": n,
        "success_rate": k / n,
        "success_ci95": list(wilson(k, n)),
        "mean_return": float(returns.mean()),
        "return_ci95": list(mean_ci(returns)),
        "mean_final_distance": float(distance.mean()),
        "final_distance_ci95": list(mean_ci(distance)),
        "mean_length": float(np.asarray(results.length).mean()),
    }


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A plain-text table of `summarise` records, one row per named policy."""
    head = f"{'policy':<18}{'success':>10}{'95% CI':>16}{'return':>10}{'final dist (m)':>16}{'length':>9}"
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lo, hi = r["success_ci95"]
        lines.append(
            f"{name:<18}{r['success_rate']:>10.1%}{f'{lo:.1%}..{hi:.1%}':>16}{r['mean_return']:>10.2f}"
            f"{r['mean_final_distance']:>16.4f}{r['mean_length']:>9.1f}"
        )
    return "\n".join(lines)
