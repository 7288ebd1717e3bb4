"""rl.distributional: the C51 support, expected value and projection against hand-computed cases and
a plain-numpy loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.rl.distributional import cross_entropy, expected_value, project, support


def _project_loop(p: np.ndarray, r: np.ndarray, d: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The projection written as the paper's algorithm, one atom at a time."""
    out = np.zeros_like(p)
    dz = (z[-1] - z[0]) / (len(z) - 1)
    for m in range(len(p)):
        for j in range(len(z)):
            tz = min(max(r[m] + d[m] * z[j], z[0]), z[-1])
            b = (tz - z[0]) / dz
            lo, hi = int(np.floor(b)), int(np.ceil(b))
            if lo == hi:
                out[m, lo] += p[m, j]
            else:
                out[m, lo] += p[m, j] * (hi - b)
                out[m, hi] += p[m, j] * (b - lo)
    return out


def test_support_and_expected_value():
    z = support(-10.0, 10.0, 5)
    np.testing.assert_allclose(z, [-10, -5, 0, 5, 10])
    logits = jnp.log(jnp.array([[0.0, 0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.0, 0.5]]) + 1e-12)
    np.testing.assert_allclose(expected_value(logits, z), [0.0, 0.0], atol=1e-5)
    with pytest.raises(ValueError, match="atoms >= 2"):
        support(0.0, 0.0, 11)


def test_projection_matches_the_paper_algorithm_and_keeps_mass():
    z = np.asarray(support(-5.0, 5.0, 11))
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(11), size=6).astype(np.float32)
    r = rng.uniform(-3, 3, 6).astype(np.float32)
    d = np.array([0.9, 0.9, 0.0, 0.5, 1.0, 0.98], np.float32)  # a termination (0) and a time limit
    got = np.asarray(project(jnp.asarray(p), jnp.asarray(r), jnp.asarray(d), jnp.asarray(z)))
    np.testing.assert_allclose(got, _project_loop(p, r, d, z), atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)


def test_a_termination_puts_all_mass_at_the_reward():
    z = support(-5.0, 5.0, 11)
    p = jnp.full((1, 11), 1 / 11)
    got = project(p, jnp.array([2.0]), jnp.array([0.0]), z)
    np.testing.assert_allclose(got[0], np.eye(11)[7], atol=1e-7)  # z_7 = 2
    half = project(p, jnp.array([2.5]), jnp.array([0.0]), z)
    np.testing.assert_allclose(half[0, 7:9], [0.5, 0.5], atol=1e-6)


def test_cross_entropy_is_least_at_the_target():
    target = jnp.array([[0.2, 0.5, 0.3]])
    best = cross_entropy(jnp.log(target), target)
    worse = cross_entropy(jnp.log(jnp.array([[0.4, 0.3, 0.3]])), target)
    assert float(best[0]) < float(worse[0])
    g = jax.grad(lambda x: cross_entropy(x, target).sum())(jnp.log(target))
    np.testing.assert_allclose(g, 0.0, atol=1e-6)
