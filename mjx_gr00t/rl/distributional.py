"""The pure pieces of a categorical (C51) critic (Bellemare et al. 2017), for the fast off-policy
learner: a fixed support of returns, the expected value of a distribution on it, and the projection
of a Bellman-shifted distribution back onto the support.

    z = support(v_min=-50.0, v_max=0.0, atoms=101)                # [K]
    q = expected_value(logits, z)                                  # [..., K] logits -> [...]
    target = project(next_probs, rewards, discounts, z)            # [M, K] -> [M, K], rows sum to 1

Shapes: M transitions, K atoms. `discounts` is gamma * (1 - terminated) per transition: a true
termination puts all mass on the reward, a time limit bootstraps.
"""

import jax
import jax.numpy as jnp


def support(v_min: float, v_max: float, atoms: int) -> jax.Array:
    """[K] evenly spaced returns from v_min to v_max; ValueError for an empty or reversed range."""
    if not (atoms >= 2 and v_max > v_min):
        raise ValueError(f"a support needs atoms >= 2 and v_max > v_min, got {atoms}, [{v_min}, {v_max}]")
    return jnp.linspace(v_min, v_max, atoms, dtype=jnp.float32)


def expected_value(logits: jax.Array, z: jax.Array) -> jax.Array:
    """[..., K] logits -> [...] the mean return of softmax(logits) on the support z [K]."""
    return jnp.sum(jax.nn.softmax(logits, axis=-1) * z, axis=-1)


def project(next_probs: jax.Array, rewards: jax.Array, discounts: jax.Array, z: jax.Array) -> jax.Array:
    """The distribution of r + discount * Z' on the support, as probabilities [M, K].

    next_probs [M, K]: the target critic's distribution at s'; rewards, discounts [M]. Each shifted
    atom r + d z_j is clipped to [z_0, z_-1] and its mass split between the two nearest atoms in
    proportion to closeness (all of it to one atom when it lands on it), so each row still sums to 1.
    """
    v_min, v_max = z[0], z[-1]
    delta = (v_max - v_min) / (z.shape[0] - 1)
    shifted = jnp.clip(rewards[:, None] + discounts[:, None] * z[None, :], v_min, v_max)  # [M, K]
    b = (shifted - v_min) / delta  # fractional index of each shifted atom
    lower, upper = jnp.floor(b), jnp.ceil(b)
    on_atom = (upper == lower).astype(next_probs.dtype)
    w_lower = (upper - b) + on_atom  # a shifted atom exactly on z_l gives it all of its mass
    w_upper = b - lower
    k = z.shape[0]
    one_hot_l = jax.nn.one_hot(lower.astype(jnp.int32), k, dtype=next_probs.dtype)  # [M, K, K]
    one_hot_u = jax.nn.one_hot(upper.astype(jnp.int32), k, dtype=next_probs.dtype)
    mass = next_probs[..., None]
    return jnp.sum(mass * (w_lower[..., None] * one_hot_l + w_upper[..., None] * one_hot_u), axis=1)


def cross_entropy(logits: jax.Array, target_probs: jax.Array) -> jax.Array:
    """[..., K] logits and target probabilities -> [...] the cross-entropy (the C51 loss)."""
    return -jnp.sum(target_probs * jax.nn.log_softmax(logits, axis=-1), axis=-1)
