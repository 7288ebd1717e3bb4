"""envs.paper_estimate: the sheet's pose modulo 180 degrees, corner order, and the noise model."""

import math

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t.envs import paper_estimate as est

HALF = jnp.array([0.105, 0.074])


def test_canonical_yaw_and_angle_error_are_modulo_half_a_turn():
    for yaw in (0.3, 0.3 + math.pi, 0.3 - math.pi, 0.3 + 2 * math.pi):
        assert math.isclose(float(est.canonical_yaw(jnp.float32(yaw))), 0.3, abs_tol=1e-5)
    assert -math.pi / 2 - 1e-6 <= float(est.canonical_yaw(jnp.float32(math.pi / 2))) < math.pi / 2
    assert math.isclose(float(est.angle_error(jnp.float32(0.1), jnp.float32(math.pi - 0.1))), 0.2, abs_tol=1e-5)


def test_corners_do_not_flip_when_the_sheet_turns_half_a_turn():
    centre = jnp.array([0.2, 0.1])
    a = np.asarray(est.corners(centre, jnp.float32(0.25), HALF))
    b = np.asarray(est.corners(centre, jnp.float32(0.25 + math.pi), HALF))
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a.mean(axis=0), centre, atol=1e-6)
    # (+,+) is the corner along +long, +short axis.
    np.testing.assert_allclose(a[0], centre + jnp.array([[math.cos(0.25), math.sin(0.25)],
                                                         [-math.sin(0.25), math.cos(0.25)]]).T @ HALF, atol=1e-6)


def _params(bias=(0.0, 0.0, 0.0), std=(0.0, 0.0, 0.0), dropout=0.0, delay=0):
    return est.EstimateParams(bias=jnp.array(bias), noise_std=jnp.array(std), dropout=jnp.float32(dropout),
                              delay=jnp.int32(delay))


def test_a_noiseless_estimate_is_exact_and_a_biased_one_is_offset():
    pose = jnp.array([0.1, 0.2, 0.3])
    state = est.EstimateState.fresh(pose, _params(), 5)
    _, seen = est.update(state, pose, jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.asarray(seen), np.asarray(pose), atol=1e-7)
    state = est.EstimateState.fresh(pose, _params(bias=(0.01, -0.02, 0.05)), 5)
    _, seen = est.update(state, pose, jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.asarray(seen), [0.11, 0.18, 0.35], atol=1e-6)


def test_delay_lags_the_true_pose_by_whole_steps():
    state = est.EstimateState.fresh(jnp.zeros(3), _params(delay=2), 5)
    seen = []
    for t in range(1, 6):
        state, s = est.update(state, jnp.array([0.01 * t, 0.0, 0.0]), jax.random.PRNGKey(t))
        seen.append(round(float(s[0]), 4))
    assert seen == [0.0, 0.0, 0.01, 0.02, 0.03]


def test_dropouts_hold_the_last_estimate_and_noise_has_its_std():
    state = est.EstimateState.fresh(jnp.zeros(3), _params(dropout=0.999), 5)
    _, seen = est.update(state, jnp.array([0.5, 0.5, 0.1]), jax.random.PRNGKey(1))
    np.testing.assert_allclose(np.asarray(seen), 0.0, atol=1e-7)
    state = est.EstimateState.fresh(jnp.zeros(3), _params(std=(0.002, 0.002, 0.01)), 5)
    keys = jax.random.split(jax.random.PRNGKey(2), 4000)
    draws = np.asarray(jax.vmap(lambda k: est.update(state, jnp.zeros(3), k)[1])(keys))
    np.testing.assert_allclose(draws.std(axis=0), [0.002, 0.002, 0.01], rtol=0.06)


def test_draw_params_stays_in_its_ranges():
    r = lambda lo, hi: jnp.array([lo, hi])  # noqa: E731
    keys = jax.random.split(jax.random.PRNGKey(3), 500)
    p = jax.vmap(lambda k: est.draw_params(k, r(-0.01, 0.01), r(-0.02, 0.02), r(0.0, 0.003), r(0.0, 0.01),
                                           r(0.0, 0.05), r(0.0, 2.0)))(keys)
    assert np.all(np.abs(np.asarray(p.bias[:, :2])) <= 0.01) and np.all(np.abs(np.asarray(p.bias[:, 2])) <= 0.02)
    np.testing.assert_array_equal(np.asarray(p.noise_std[:, 0]), np.asarray(p.noise_std[:, 1]))
    assert set(np.unique(np.asarray(p.delay))) == {0, 1, 2}
    assert np.all((np.asarray(p.dropout) >= 0) & (np.asarray(p.dropout) <= 0.05))
