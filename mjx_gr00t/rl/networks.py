"""Actor and critic networks (flax.linen) and the diagonal-Gaussian helpers PPO needs.

The policy is a diagonal Gaussian: its mean comes from an MLP whose last layer can start at zero
(so a residual policy initially adds nothing to its base), its log standard deviation is a learned
vector that does not depend on the observation. The critic is a separate MLP with a scalar output.
Both take observations of shape [..., obs_dim]; any leading batch dimensions are kept.

Asymmetric actor-critic: where an env's spec marks entries `critic_only`, the actor reads only
`actor_obs(indices, obs_n)`, the normalised observation at `actor_input_indices(spec)`; the critic
reads all of it. One running normaliser covers the whole observation.
"""

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from brax.training.acme import running_statistics

from mjx_gr00t.envs.spec import EnvSpec

Activation = Callable[[jax.Array], jax.Array]

ACTIVATIONS: dict[str, Activation] = {
    "swish": nn.swish, "tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu,
}

_LOG_2PI_E: float = math.log(2.0 * math.pi * math.e)
_LOG_2PI: float = math.log(2.0 * math.pi)


def get_activation(name: str) -> Activation:
    """The activation function called `name` (one of `ACTIVATIONS`). Raises ValueError otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def check_widths(name: str, widths: object) -> None:
    """ValueError unless `widths` (a config's hidden layer sizes, `name`) is a tuple of positive ints."""
    if not (isinstance(widths, tuple) and all(isinstance(w, int) and w > 0 for w in widths)):
        raise ValueError(f"{name} must be a tuple of positive ints, got {widths!r}")


class MLP(nn.Module):
    """Fully connected layers: `hidden` sizes with `activation`, then a linear layer of `out_size`.

    Maps [..., in_dim] to [..., out_size]. With `zero_init_last` the last layer's kernel and bias
    start at exactly zero, so the initial output is 0 for every input.
    """

    hidden: Sequence[int]
    out_size: int
    activation: Activation = nn.swish
    zero_init_last: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: [..., in_dim] -> [..., out_size]."""
        for i, width in enumerate(self.hidden):
            x = self.activation(nn.Dense(width, name=f"hidden_{i}")(x))
        if self.zero_init_last:
            head = nn.Dense(
                self.out_size, kernel_init=nn.initializers.zeros, bias_init=nn.initializers.zeros,
                name="head",
            )
        else:
            head = nn.Dense(self.out_size, name="head")
        return head(x)


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian policy: an MLP mean and a learned, state-independent log std.

    Parameters: `mean` (the MLP) and `log_std` of shape (action_size,), initialised to
    `init_log_std`.
    """

    action_size: int
    hidden: Sequence[int]
    activation: Activation = nn.swish
    init_log_std: float = 0.0
    zero_init_head: bool = True

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """obs: [..., obs_dim] -> (mean, log_std), both [..., action_size]."""
        mean = MLP(
            self.hidden, self.action_size, self.activation, self.zero_init_head, name="mean"
        )(obs)
        log_std = self.param(
            "log_std", nn.initializers.constant(self.init_log_std), (self.action_size,), jnp.float32
        )
        return mean, jnp.broadcast_to(log_std, mean.shape)


class ValueNetwork(nn.Module):
    """State-value critic: an MLP with one output, squeezed."""

    hidden: Sequence[int]
    activation: Activation = nn.swish

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        """obs: [..., obs_dim] -> values [...]."""
        return MLP(self.hidden, 1, self.activation, False, name="value")(obs)[..., 0]


def normalize_obs(config: object, normalizer: running_statistics.RunningStatisticsState, obs: jax.Array) -> jax.Array:
    """What the networks see: obs [..., obs_dim] normalised by running statistics and clipped to
    +-config.obs_clip, or unchanged when not config.normalize_obs (PPO and SAC configs)."""
    if not config.normalize_obs:
        return obs
    return running_statistics.normalize(obs, normalizer, max_abs_value=config.obs_clip)


ActorIndices = tuple[int, ...] | None
"""Observation indices the actor reads, ascending; None: all of them (no gather at all)."""


def actor_input_indices(spec: EnvSpec) -> ActorIndices:
    """`spec.actor_indices` where the spec has critic-only entries, else None (the actor reads the
    whole observation, unchanged)."""
    return spec.actor_indices if spec.critic_only else None


def actor_obs(indices: ActorIndices, obs: jax.Array) -> jax.Array:
    """What the actor reads: obs [..., D] -> [..., D_actor] at `indices`; obs itself when None."""
    if indices is None:
        return obs
    return jnp.take(obs, np.asarray(indices, np.int32), axis=-1)


def actor_normalizer(
    normalizer: running_statistics.RunningStatisticsState, indices: ActorIndices
) -> running_statistics.RunningStatisticsState:
    """The running statistics of the actor's entries alone (mean, std, summed_variance [D_actor]);
    the normaliser itself when `indices` is None."""
    if indices is None:
        return normalizer
    take = lambda x: actor_obs(indices, x)  # noqa: E731
    return normalizer.replace(mean=take(normalizer.mean), std=take(normalizer.std),
                              summed_variance=take(normalizer.summed_variance))


def gaussian_log_prob(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """Log density of a diagonal Gaussian. x, mean, log_std: [..., A] -> [...]."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * jnp.square(z) - log_std - 0.5 * _LOG_2PI, axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """Entropy of a diagonal Gaussian. log_std: [..., A] -> [...]."""
    return jnp.sum(log_std + 0.5 * _LOG_2PI_E, axis=-1)


def gaussian_sample(key: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """One draw per row, unclipped. mean, log_std: [..., A] -> [..., A]."""
    return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
