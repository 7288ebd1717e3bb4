"""SAC's networks and pure loss pieces: the tanh-Gaussian actor, the twin critic, the tanh-Gaussian
log-density, the soft Bellman target, Polyak averaging and the temperature loss. Used by `sac.py`.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from mjx_gr00t.residual import combine
from mjx_gr00t.rl.networks import MLP, Activation, gaussian_log_prob
from mjx_gr00t.rl.ppo_losses import Params

LOG_STD_MIN: float = -5.0
LOG_STD_MAX: float = 2.0
_LOG2: float = 0.6931471805599453


class TanhGaussianActor(nn.Module):
    """a = tanh(x), x ~ N(mean(obs), exp(log_std(obs))): one MLP with a [mean | log_std] head.

    Parameters: `net` (an `MLP` whose head has 2A outputs, the first A the mean). With
    `zero_init_head` the mean starts at exactly 0 and log_std at exactly `init_log_std`.
    """

    action_size: int
    hidden: Sequence[int]
    activation: Activation = nn.relu
    zero_init_head: bool = True
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """obs: [..., obs_dim] -> (mean, log_std) of the pre-tanh Gaussian, both [..., A]."""
        out = MLP(self.hidden, 2 * self.action_size, self.activation, self.zero_init_head, name="net")(obs)
        mean, raw = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(raw + self.init_log_std, LOG_STD_MIN, LOG_STD_MAX)


class DoubleQ(nn.Module):
    """Two independent Q-MLPs `q0`, `q1` on concat(obs, action)."""

    hidden: Sequence[int]
    activation: Activation = nn.relu

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        """obs [..., obs_dim], action [..., A] -> Q values [..., 2]."""
        x = jnp.concatenate([obs, action], axis=-1)
        qs = [MLP(self.hidden, 1, self.activation, False, name=f"q{i}")(x)[..., 0] for i in range(2)]
        return jnp.stack(qs, axis=-1)


def tanh_gaussian_log_prob(pre_tanh: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """log density of a = tanh(x) at x = pre_tanh: log N(x) - sum log(1 - tanh(x)^2). [..., A] -> [...].

    log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)), exact and stable for large |x|.
    """
    log_det = 2.0 * (_LOG2 - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))
    return gaussian_log_prob(pre_tanh, mean, log_std) - jnp.sum(log_det, axis=-1)


def tanh_gaussian_sample(key: jax.Array, mean: jax.Array, log_std: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterised draw: (action [..., A] in (-1, 1), its log-probability [...])."""
    x = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    return jnp.tanh(x), tanh_gaussian_log_prob(x, mean, log_std)


def td_target(
    rewards: jax.Array, dones: jax.Array, truncations: jax.Array, next_q: jax.Array,
    next_log_prob: jax.Array, temperature: jax.Array, gamma: float,
) -> jax.Array:
    """Soft Bellman target, all [M]:

        r + gamma * (1 - terminated) * (Q'(s', a') - temperature * log pi(a' | s'))

    terminated = done and not truncated: a time limit (truncation) bootstraps from s' (the final obs
    of the episode), a true termination does not.
    """
    bootstrap = 1.0 - dones * (1.0 - truncations)
    return rewards + gamma * bootstrap * (next_q - temperature * next_log_prob)


def polyak_update(target: Params, online: Params, tau: float) -> Params:
    """target <- (1 - tau) * target + tau * online, leafwise."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: float) -> jax.Array:
    """-log_alpha * mean(log pi + target_entropy); log_prob [M] is not differentiated.

    Its gradient lowers the temperature when the policy's entropy (-log pi) exceeds the target and
    raises it when below.
    """
    return -log_alpha * jnp.mean(jax.lax.stop_gradient(log_prob) + target_entropy)


def critic_input_action(obs: jax.Array, env_action: jax.Array, residual: bool) -> jax.Array:
    """The action the critic is given: the env action, or in residual mode the summed action
    clip(base + u, -1, 1), base being the last A entries of obs. obs [..., D], env_action [..., A]."""
    if not residual:
        return env_action
    return combine(obs[..., -env_action.shape[-1]:], env_action)
