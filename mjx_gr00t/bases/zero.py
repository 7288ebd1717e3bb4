"""The zero base: no base action, so residual RL becomes plain RL."""

import jax
import jax.numpy as jnp

from mjx_gr00t.envs.base import State


class ZeroBase:
    """Returns a zero action of the env's action size, for one env."""

    name = "zero"

    def __init__(self, action_size: int) -> None:
        self.action_size = action_size

    def __call__(self, state: State) -> jax.Array:
        """state: one env's state -> (action_size,) zeros."""
        return jnp.zeros(self.action_size, jnp.float32)
