"""Pure PPO pieces: generalised advantage estimation and the clipped-surrogate minibatch loss.

Time-major arrays are [T, B] (T rollout steps, B envs); a minibatch is flat, [M].
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from mjx_gr00t.rl.networks import gaussian_entropy, gaussian_log_prob

Params = Any
"""A flax variable collection, e.g. {'params': {...}}."""
PolicyApply = Callable[[Params, jax.Array], tuple[jax.Array, jax.Array]]
"""(policy params, obs [M, obs_dim]) -> (mean, log_std), both [M, A]."""
ValueApply = Callable[[Params, jax.Array], jax.Array]
"""(value params, obs [M, obs_dim]) -> values [M]."""


@struct.dataclass
class PPOParams:
    """What the optimiser trains: the actor's and the critic's flax variables."""

    policy: Params
    value: Params


@struct.dataclass
class Minibatch:
    """Training samples, flat over time and envs. All fields have leading shape [M].

    obs: [M, obs_dim], already normalised. actions: [M, A], as sampled (unclipped).
    old_log_probs: [M], log-probability of `actions` under the policy before this update.
    old_values: [M], critic values before this update. advantages, returns: [M], from GAE.
    """

    obs: jax.Array
    actions: jax.Array
    old_log_probs: jax.Array
    old_values: jax.Array
    advantages: jax.Array
    returns: jax.Array


@struct.dataclass
class LossAux:
    """Scalar diagnostics of one minibatch loss."""

    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_frac: jax.Array


def compute_gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    dones: jax.Array,
    truncations: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimates and value targets. Every input and output is [T, B].

    rewards[t]: reward of step t. values[t]: V(obs before step t).
    next_values[t]: V of the observation reached by step t: V(next obs) where the episode goes on,
        V(final_obs) where it was truncated; ignored where it terminated (done and not truncated),
        which bootstraps from 0.
    dones[t], truncations[t]: 1.0 where the episode ended at step t (any reason) / by time limit.
    The recursion A[t] = delta[t] + gamma * lam * (1 - dones[t]) * A[t + 1] stops at every episode
    boundary, and A[T] = 0. Returns (advantages, returns = advantages + values).
    """
    terminated = dones * (1.0 - truncations)
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values
    decay = gamma * lam * (1.0 - dones)

    def backward(
        next_adv: jax.Array, inputs: tuple[jax.Array, jax.Array]
    ) -> tuple[jax.Array, jax.Array]:
        """One step back in time: next_adv [B] is A[t + 1]; inputs (delta[t], decay[t]), [B] each."""
        delta, d = inputs
        adv = delta + d * next_adv
        return adv, adv

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, decay), reverse=True)
    return advantages, advantages + values


def ppo_loss(
    params: PPOParams,
    batch: Minibatch,
    policy_apply: PolicyApply,
    value_apply: ValueApply,
    clip_eps: float,
    value_clip_eps: float | None,
    entropy_coef: float,
    vf_coef: float,
) -> tuple[jax.Array, LossAux]:
    """Clipped-surrogate PPO loss on one minibatch ([M] samples). Returns (scalar loss, LossAux).

    Advantages are normalised within the minibatch. The value loss is 0.5 * squared error, clipped
    around `old_values` by `value_clip_eps` when that is not None (the larger of the two errors).
    loss = policy_loss + vf_coef * value_loss - entropy_coef * entropy.
    """
    mean, log_std = policy_apply(params.policy, batch.obs)
    log_probs = gaussian_log_prob(batch.actions, mean, log_std)
    log_ratio = log_probs - batch.old_log_probs
    ratio = jnp.exp(log_ratio)

    adv = batch.advantages
    adv = (adv - jnp.mean(adv)) / (jnp.std(adv) + 1e-8)
    surrogate = jnp.minimum(ratio * adv, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv)
    policy_loss = -jnp.mean(surrogate)

    values = value_apply(params.value, batch.obs)
    value_err = jnp.square(values - batch.returns)
    if value_clip_eps is not None:
        change = jnp.clip(values - batch.old_values, -value_clip_eps, value_clip_eps)
        clipped = batch.old_values + change
        value_err = jnp.maximum(value_err, jnp.square(clipped - batch.returns))
    value_loss = 0.5 * jnp.mean(value_err)

    entropy = jnp.mean(gaussian_entropy(log_std))
    loss = policy_loss + vf_coef * value_loss - entropy_coef * entropy
    aux = LossAux(
        policy_loss=policy_loss,
        value_loss=value_loss,
        entropy=entropy,
        approx_kl=jnp.mean(ratio - 1.0 - log_ratio),
        clip_frac=jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32)),
    )
    return loss, aux
