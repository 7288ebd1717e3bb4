"""What the off-policy learners (SAC, the fast TD3-family learner) share outside their maths: the
checks of their common config fields, how an update draws its batch, and the gate that runs an
iteration's updates only once the replay buffer is warm.

    check_common(config, positive_ints=("num_envs", ...), rates=("critic_learning_rate", ...))
    sample = batch_sampler(config, env, mesh)   # (k_idx, k_her, buffer, normalizer) -> (batch, obs_n, next_n)
    learner_step = gated(updates)   # (learner, key, buffer, normalizer, alpha, learn) -> (learner, stats)
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jax.sharding import Mesh

from mjx_gr00t import distributed
from mjx_gr00t.rl import her, replay
from mjx_gr00t.rl.networks import check_widths, get_activation, normalize_obs

Updates = Callable[..., tuple[Any, dict[str, jax.Array]]]
"""(learner, key, buffer, normalizer, residual alpha) -> (learner, stats averaged over the updates)."""


def check_common(config: Any, positive_ints: Sequence[str], rates: Sequence[str]) -> None:
    """ValueError for the first bad common field of an off-policy config: `positive_ints` must be
    positive ints, warmup_steps and her_k ints >= 0, buffer_capacity a multiple of num_envs, `rates`
    > 0, gamma and tau in (0, 1], obs_clip > 0 or None, the hidden widths positive, the activation known."""
    for name in positive_ints:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    for name in ("warmup_steps", "her_k"):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    replay.check_capacity(config.buffer_capacity, config.num_envs)
    for name in rates:
        if not getattr(config, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(config, name)}")
    for name in ("gamma", "tau"):
        if not 0.0 < getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {getattr(config, name)}")
    if config.obs_clip is not None and not config.obs_clip > 0:
        raise ValueError(f"obs_clip must be > 0 or None, got {config.obs_clip}")
    for name in ("actor_hidden", "critic_hidden"):
        check_widths(name, getattr(config, name))
    get_activation(config.activation)


def batch_sampler(config: Any, env: Any, mesh: Mesh | None) -> Callable[..., tuple[Any, jax.Array, jax.Array]]:
    """(k_idx, k_her, buffer, normalizer) -> (batch of `config.batch_size` transitions, HER-relabelled
    when `config.her` with the goal-reading base rebased, split over the mesh; its normalised obs and
    next obs [M, D]). ValueError (her.goal_spec) when `config.her` and the env has no goals."""
    goals = her.goal_spec(env) if config.her else None
    rebase = her.base_rebase(env) if config.her else None

    def sample(k_idx: jax.Array, k_her: jax.Array, buffer: Any, normalizer: Any) -> tuple[Any, jax.Array, jax.Array]:
        index = replay.sample_indices(buffer, k_idx, config.batch_size)
        batch = replay.gather(buffer, index)
        if goals is not None:
            batch = her.relabel(k_her, index, batch, buffer, goals, config.her_k, rebase=rebase).batch
        # Each device takes a slice of the batch; XLA sums the gradients across devices.
        batch = distributed.shard_if_divisible(batch, mesh)
        return batch, normalize_obs(config, normalizer, batch.obs), normalize_obs(config, normalizer, batch.next_obs)

    return sample


def gated(updates: Updates) -> Callable[..., tuple[Any, dict[str, jax.Array]]]:
    """The learner step: `updates` when `learn`, else the learner unchanged and the same stats at 0
    (one `lax.cond`, so both branches compile once)."""

    def no_updates(learner: Any, key: jax.Array, buffer: Any, normalizer: Any,
                   res_alpha: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        stats = jax.eval_shape(updates, learner, key, buffer, normalizer, res_alpha)[1]
        return learner, {k: jnp.zeros(v.shape, v.dtype) for k, v in stats.items()}

    def learner_step(learner: Any, key: jax.Array, buffer: Any, normalizer: Any, res_alpha: jax.Array,
                     learn: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        return jax.lax.cond(learn, updates, no_updates, learner, key, buffer, normalizer, res_alpha)

    return learner_step
