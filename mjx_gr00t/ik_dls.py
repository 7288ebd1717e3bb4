"""Damped-least-squares inverse kinematics in JAX: joint steps that move a task-space feature vector
(a site's position, weighted axis terms) towards a wanted value.

    q = solve(features, q, wanted, damping=0.02, iterations=3)   # features: q [n] -> [k]

dq = J^T (J J^T + damping^2 I)^-1 e, J = d features / d q (`jax.jacfwd`), e = wanted - features(q).
Pure and vmappable; the Jacobian is exact (forward-mode through `kinematics.SerialChain`).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp


def dls_step(features: Callable[[jax.Array], jax.Array], q: jax.Array, wanted: jax.Array,
             damping: float, low: jax.Array | None = None, high: jax.Array | None = None) -> jax.Array:
    """q [n], wanted [k] -> dq [n]: one damped-least-squares step. With joint limits [low, high]
    ([n] each), a joint at a limit that the step would push past is left out of the step (its
    Jacobian column zeroed, the step solved again), so the others make up for it."""
    error = wanted - features(q)
    jac = jax.jacfwd(features)(q)  # [k, n]
    eye = (damping ** 2) * jnp.eye(jac.shape[0], dtype=jac.dtype)

    def step(j: jax.Array) -> jax.Array:
        return j.T @ jnp.linalg.solve(j @ j.T + eye, error)

    dq = step(jac)
    if low is None:
        return dq
    blocked = ((q <= low) & (dq < 0)) | ((q >= high) & (dq > 0))
    return step(jnp.where(blocked[None, :], 0.0, jac))


def solve(features: Callable[[jax.Array], jax.Array], q: jax.Array, wanted: jax.Array, damping: float,
          iterations: int, low: jax.Array | None = None, high: jax.Array | None = None,
          max_step: float = 0.5) -> jax.Array:
    """q [n] after `iterations` DLS steps, each shrunk (keeping its direction) to at most `max_step` rad
    on any joint, then clipped to the joint limits [low, high] ([n] each; None: none); unrolled, so it
    traces to a fixed graph."""
    for _ in range(iterations):
        dq = dls_step(features, q, wanted, damping, low, high)
        q = q + dq / jnp.maximum(1.0, jnp.max(jnp.abs(dq)) / max_step)
        if low is not None:
            q = jnp.clip(q, low, high)
    return q
