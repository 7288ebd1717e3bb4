"""The fast off-policy learner's networks (flax.linen): a deterministic tanh actor and twin
distributional critics with LayerNorm, both twins evaluated in one vmapped call.

    actor = DeterministicActor(action_size=4, hidden=(256, 256))
    a = actor.apply(params, obs)                        # [..., obs_dim] -> [..., A] in (-1, 1)
    critic = TwinDistributionalCritic(hidden=(512, 256), atoms=101)
    logits = critic.apply(params, obs, action)          # -> [2, ..., K]: one row of logits per twin

The actor's head can start at zero, so tanh(0) = 0: a residual adds nothing at first. The critics
follow FastTD3's recipe: LayerNorm after each hidden layer, a categorical head over K atoms of a
fixed return support (`rl.distributional`).
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from mjx_gr00t.rl.networks import MLP, Activation


class DeterministicActor(nn.Module):
    """a = tanh(MLP(obs)); `zero_init_head` starts the last layer at exactly zero."""

    action_size: int
    hidden: Sequence[int]
    activation: Activation = nn.relu
    zero_init_head: bool = True

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        """obs [..., obs_dim] -> action [..., A] in (-1, 1)."""
        return jnp.tanh(MLP(self.hidden, self.action_size, self.activation, self.zero_init_head, name="net")(obs))


class NormedCritic(nn.Module):
    """One distributional critic: Dense -> LayerNorm -> activation per hidden layer, then K logits."""

    hidden: Sequence[int]
    atoms: int
    activation: Activation = nn.relu

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        """obs [..., D], action [..., A] -> logits [..., K]."""
        x = jnp.concatenate([obs, action], axis=-1)
        for i, width in enumerate(self.hidden):
            x = self.activation(nn.LayerNorm(name=f"norm_{i}")(nn.Dense(width, name=f"hidden_{i}")(x)))
        return nn.Dense(self.atoms, name="head")(x)


class TwinDistributionalCritic(nn.Module):
    """Two independent `NormedCritic`s, their parameters stacked on a leading axis of 2 and run in one
    vmapped call (`nn.vmap`); each twin gets its own initialisation."""

    hidden: Sequence[int]
    atoms: int
    activation: Activation = nn.relu

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        """obs [..., D], action [..., A] -> logits [2, ..., K]."""
        twins = nn.vmap(NormedCritic, variable_axes={"params": 0}, split_rngs={"params": True},
                        in_axes=None, out_axes=0, axis_size=2)
        return twins(self.hidden, self.atoms, self.activation, name="twins")(obs, action)
