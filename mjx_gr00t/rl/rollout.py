"""The env side that PPO and SAC share: the `Env` protocol, batched resets, the env-step counter,
episode sums over a rollout and the `rollout/*` metrics made from them.

Batch shapes: B envs; a rollout is T steps of all of them. Everything here runs inside jit.
"""

from typing import Protocol

import jax
import jax.numpy as jnp
from brax.training.acme import running_statistics
from brax.training.types import UInt64
from flax import struct

from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.spec import EnvSpec

NormalizerState = running_statistics.RunningStatisticsState

EPISODE_MEANS: tuple[str, ...] = (
    "rollout/ep_rew_mean", "rollout/ep_len_mean", "rollout/success_rate", "residual/success_rate",
)
"""Metrics averaged over the episodes that ended in an iteration: NaN where none did (readers
average them with `rollout/episodes` as weights, or skip the NaNs)."""


class Env(Protocol):
    """What the trainers need of an env (e.g. `EpisodeEnv`): pure per-env functions, vmapped by them.

    `State.episode` must carry `steps`, `episode_return`, `final_obs` and `nan_resets` as
    `EpisodeEnv` keeps them, and `step` must auto-reset ended episodes.
    """

    observation_size: int
    action_size: int
    spec: EnvSpec
    """Observation layout, actions and goal (`envs.spec`)."""

    def reset(self, key: jax.Array) -> State:
        """A fresh episode for one env."""
        ...

    def step(self, state: State, action: jax.Array) -> State:
        """One policy step of one env; action (action_size,), clipped to [-1, 1] by the env."""
        ...


def reset_envs(env: Env, key: jax.Array, num_envs: int) -> State:
    """`num_envs` fresh envs, leaves [B, ...], each from its own key split off `key`.

    Every leaf gets the dtype that a step returns (no weak types left over from reset), so a jitted
    step never sees a new input signature.
    """
    env_state = jax.vmap(env.reset)(jax.random.split(key, num_envs))
    zero_action = jnp.zeros((num_envs, env.action_size), jnp.float32)
    stepped = jax.eval_shape(jax.vmap(env.step), env_state, zero_action)
    return jax.tree.map(lambda x, s: x.astype(s.dtype), env_state, stepped)


def zero_env_steps() -> UInt64:
    """A brax UInt64 step counter at 0."""
    return UInt64(hi=jnp.zeros((), jnp.uint32), lo=jnp.zeros((), jnp.uint32))


def env_steps_float(env_steps: UInt64) -> jax.Array:
    """A brax UInt64 step counter as () float32 (exact up to 2^24, close enough beyond)."""
    return env_steps.hi.astype(jnp.float32) * 4294967296.0 + env_steps.lo.astype(jnp.float32)


def strong(tree: object) -> object:
    """Every array leaf with its weak type removed (same dtype)."""
    return jax.tree.map(lambda x: jnp.asarray(x).astype(jnp.asarray(x).dtype), tree)


@struct.dataclass
class RolloutStats:
    """Sums over one rollout, all () float32; `metric_sums` per env metric key."""

    episodes: jax.Array
    return_sum: jax.Array
    length_sum: jax.Array
    success_sum: jax.Array
    reward_sum: jax.Array
    metric_sums: dict[str, jax.Array]

    @classmethod
    def zeros(cls, env_state: State) -> "RolloutStats":
        """All sums at 0, one metric sum per key of `env_state.metrics`."""
        zero = jnp.zeros((), jnp.float32)
        return cls(episodes=zero, return_sum=zero, length_sum=zero, success_sum=zero, reward_sum=zero,
                   metric_sums={k: zero for k in env_state.metrics})

    def add(self, state: State, nxt: State) -> "RolloutStats":
        """The sums after one step of all envs from `state` to `nxt` (leaves [B, ...])."""
        done = nxt.done
        ep_return = state.episode.episode_return + nxt.reward
        ep_length = (state.episode.steps + 1).astype(jnp.float32)
        return RolloutStats(
            episodes=self.episodes + jnp.sum(done),
            return_sum=self.return_sum + jnp.sum(done * ep_return),
            length_sum=self.length_sum + jnp.sum(done * ep_length),
            success_sum=self.success_sum + jnp.sum(done * nxt.success),
            reward_sum=self.reward_sum + jnp.sum(nxt.reward),
            metric_sums={k: self.metric_sums[k] + jnp.sum(v) for k, v in nxt.metrics.items()},
        )


def rollout_metrics(stats: RolloutStats, before: State, after: State, num_steps: int) -> dict[str, jax.Array]:
    """The rollout's metrics, () float32 each, from its sums and the env states [B, ...] around it.

    rollout/{ep_rew_mean, ep_len_mean, success_rate}: means over the episodes completed in this
    rollout, NaN when none was (no data, not a score of 0); rollout/episodes; rollout/nan_resets
    (new NaN resets, summed over envs); rollout/reward_mean over its `num_steps` env steps; and the
    mean of every env metric as 'env/<key>' ('<key>' alone when it already contains '/').
    """
    episodes = stats.episodes
    some = episodes > 0

    def per_episode(total: jax.Array) -> jax.Array:
        return jnp.where(some, total / jnp.maximum(episodes, 1.0), jnp.nan)

    new_nan_resets = jnp.sum(after.episode.nan_resets - before.episode.nan_resets)
    metrics = {
        "rollout/ep_rew_mean": per_episode(stats.return_sum),
        "rollout/ep_len_mean": per_episode(stats.length_sum),
        "rollout/success_rate": per_episode(stats.success_sum),
        "rollout/episodes": episodes,
        "rollout/nan_resets": new_nan_resets.astype(jnp.float32),
        "rollout/reward_mean": stats.reward_sum / num_steps,
    }
    for k, v in stats.metric_sums.items():
        metrics[k if "/" in k else f"env/{k}"] = v / num_steps
    return metrics
