"""envs.servo: quantisation, command history and latency, backlash (play operator), whole-step draws."""

import math

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t.envs import servo

TICK = 2 * math.pi / 4096


def test_quantise_rounds_to_whole_ticks_and_zero_switches_it_off():
    q = jnp.array([0.0, 0.4 * TICK, 0.6 * TICK, -1.4 * TICK, 1.0])
    out = np.asarray(servo.quantise(q, 4096))
    np.testing.assert_allclose(out[:4], [0.0, 0.0, TICK, -TICK], atol=1e-7)
    assert abs(out[4] - 1.0) <= TICK / 2 + 1e-7
    np.testing.assert_array_equal(np.asarray(servo.quantise(q, 0)), np.asarray(q))


def test_push_and_delayed_give_the_command_from_k_steps_back():
    history = jnp.zeros((3, 2))
    for value in (1.0, 2.0, 3.0):
        history = servo.push(history, jnp.full(2, value))
    assert [float(servo.delayed(history, jnp.int32(k))[0]) for k in range(3)] == [3.0, 2.0, 1.0]
    assert float(servo.delayed(history, jnp.int32(7))[0]) == 1.0  # clipped to the oldest kept


def test_play_holds_inside_the_band_and_follows_outside_it():
    band = jnp.full(1, 0.01)
    held = servo.play(jnp.zeros(1), jnp.full(1, 0.005), band)
    assert float(held[0]) == 0.0  # the command moved less than the band: the joint stays
    pushed = servo.play(jnp.zeros(1), jnp.full(1, 0.05), band)
    assert math.isclose(float(pushed[0]), 0.04, rel_tol=1e-6)  # dragged to the band's edge
    back = servo.play(pushed, jnp.full(1, 0.045), band)
    assert math.isclose(float(back[0]), 0.04, rel_tol=1e-6)  # reversing inside the band: no motion
    np.testing.assert_allclose(np.asarray(servo.play(jnp.ones(1), jnp.full(1, 0.3), jnp.zeros(1))), [0.3], rtol=1e-6)


def test_whole_steps_cover_the_range_evenly():
    keys = jax.random.split(jax.random.PRNGKey(0), 3000)
    draws = np.asarray(jax.vmap(lambda k: servo.draw_whole_steps(k, jnp.array([0.0, 2.0])))(keys))
    assert set(np.unique(draws)) == {0, 1, 2}
    assert np.all(np.abs(np.bincount(draws) / len(draws) - 1 / 3) < 0.04)
    fixed = jax.vmap(lambda k: servo.draw_whole_steps(k, jnp.array([1.0, 1.0])))(keys[:10])
    np.testing.assert_array_equal(np.asarray(fixed), 1)
