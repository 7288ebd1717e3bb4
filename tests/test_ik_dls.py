"""mjx_gr00t.ik_dls: damped least squares on a planar two-link arm whose answer is known in closed
form, joint limits that take a blocked joint out of the step, and purity under jit/vmap."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t import ik_dls


def tip(q):
    """Planar arm, links of 1 and 1: q [2] -> tip [2]."""
    return jnp.array([jnp.cos(q[0]) + jnp.cos(q[0] + q[1]), jnp.sin(q[0]) + jnp.sin(q[0] + q[1])])


def test_converges_to_a_reachable_point():
    q = ik_dls.solve(tip, jnp.array([0.3, 0.5]), jnp.array([1.0, 1.0]), damping=1e-3, iterations=20)
    np.testing.assert_allclose(tip(q), [1.0, 1.0], atol=1e-4)
    # the closed form: q1 = +-pi/2 for a target at distance sqrt(2)
    assert abs(abs(float(q[1])) - np.pi / 2) < 1e-3


def test_steps_are_bounded_and_damped():
    q0 = jnp.array([0.0, 0.1])
    q = ik_dls.solve(tip, q0, jnp.array([-1.5, 0.5]), damping=0.1, iterations=1, max_step=0.2)
    assert float(jnp.max(jnp.abs(q - q0))) <= 0.2 + 1e-6
    dq = ik_dls.dls_step(tip, q0, jnp.array([2.0, 0.0]), damping=0.1)
    assert np.all(np.isfinite(dq))  # near the straight-arm singularity the damping keeps it finite


def test_a_joint_at_its_limit_leaves_the_step_and_the_other_makes_up():
    low, high = jnp.array([-1.0, -0.0]), jnp.array([1.0, 0.0])  # the elbow locked straight
    q = ik_dls.solve(tip, jnp.array([0.0, 0.0]), jnp.array([0.0, 2.0]), damping=1e-3, iterations=30,
                     low=low, high=high)
    assert float(q[1]) == 0.0
    np.testing.assert_allclose(float(q[0]), 1.0, atol=1e-6)  # the shoulder goes as far as it may
    free = ik_dls.dls_step(tip, jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0]), 1e-3)
    blocked = ik_dls.dls_step(tip, jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0]), 1e-3, low, high)
    assert float(free[1]) != 0.0 and float(blocked[1]) == 0.0


def test_jit_and_vmap_match_eager():
    targets = jnp.array([[1.0, 1.0], [0.5, 1.2], [1.5, -0.3]])
    solve = jax.jit(jax.vmap(lambda t: ik_dls.solve(tip, jnp.array([0.3, 0.5]), t, 1e-3, 10)))
    batch = solve(targets)
    for t, q in zip(targets, batch):
        np.testing.assert_allclose(q, ik_dls.solve(tip, jnp.array([0.3, 0.5]), t, 1e-3, 10), atol=1e-5)
