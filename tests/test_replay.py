"""The episode-keeping ring buffer: writes, wraparound, valid-only sampling, episode tails, memory."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.rl import replay

NUM_ENVS = 3


def _example() -> dict[str, jax.Array]:
    return {"x": jnp.zeros((2,), jnp.float32), "t": jnp.zeros((), jnp.int32)}


def _row(t: int) -> dict[str, jax.Array]:
    """Step t of all envs: x = (t, env), t = t."""
    env = jnp.arange(NUM_ENVS, dtype=jnp.float32)
    return {"x": jnp.stack([jnp.full((NUM_ENVS,), float(t)), env], axis=-1),
            "t": jnp.full((NUM_ENVS,), t, jnp.int32)}


def _filled(steps: int, capacity: int, dones_at: tuple[int, ...] = ()) -> replay.ReplayBuffer:
    buf = replay.init(capacity, _example(), NUM_ENVS, available_bytes=10**9)
    add = jax.jit(replay.add)
    for t in range(steps):
        dones = jnp.full((NUM_ENVS,), 1.0 if t in dones_at else 0.0)
        buf = add(buf, _row(t), dones)
    return buf


def test_layout_and_partial_fill() -> None:
    buf = _filled(steps=3, capacity=5 * NUM_ENVS)
    assert buf.data["x"].shape == (5, NUM_ENVS, 2) and buf.max_steps == 5 and buf.num_envs == NUM_ENVS
    assert int(buf.size) == 3 and int(buf.insert) == 3
    assert int(replay.num_transitions(buf)) == 3 * NUM_ENVS
    np.testing.assert_array_equal(np.asarray(buf.data["t"][:3, 0]), [0, 1, 2])
    np.testing.assert_array_equal(np.asarray(buf.data["x"][1, :, 1]), np.arange(NUM_ENVS))


def test_wraparound_overwrites_oldest() -> None:
    buf = _filled(steps=7, capacity=5 * NUM_ENVS)
    assert int(buf.size) == 5 and int(buf.insert) == 7 % 5
    # Rows 0, 1 hold steps 5, 6; rows 2..4 still hold 2..4.
    np.testing.assert_array_equal(np.asarray(buf.data["t"][:, 1]), [5, 6, 2, 3, 4])


def test_sampling_draws_only_written_rows() -> None:
    buf = _filled(steps=3, capacity=8 * NUM_ENVS)
    batch = jax.jit(replay.sample, static_argnums=2)(buf, jax.random.PRNGKey(0), 4000)
    t = np.asarray(batch["t"])
    assert set(np.unique(t)) == {0, 1, 2}
    # Uniform over rows and envs.
    assert np.all(np.abs(np.bincount(t) / t.size - 1 / 3) < 0.04)
    envs = np.asarray(batch["x"][:, 1]).astype(int)
    assert set(np.unique(envs)) == set(range(NUM_ENVS))
    np.testing.assert_array_equal(np.asarray(batch["x"][:, 0]), t)  # rows are whole steps

    full = _filled(steps=11, capacity=4 * NUM_ENVS)
    t = np.asarray(replay.sample(full, jax.random.PRNGKey(1), 2000)["t"])
    assert set(np.unique(t)) == {7, 8, 9, 10}


def test_episode_ids_and_steps() -> None:
    buf = _filled(steps=6, capacity=8 * NUM_ENVS, dones_at=(1, 4))
    np.testing.assert_array_equal(np.asarray(buf.episode_id[:6, 0]), [0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(np.asarray(buf.episode_step[:6, 0]), [0, 1, 0, 1, 2, 0])


def _tail(buf: replay.ReplayBuffer, time: list[int]) -> np.ndarray:
    index = replay.SampleIndex(time=jnp.asarray(time, jnp.int32), env=jnp.zeros(len(time), jnp.int32))
    return np.asarray(replay.episode_tail_length(buf, index))


def test_episode_tail_stops_at_boundary_and_write_head() -> None:
    # Episodes: steps 0-1 | 2-4 | 5 (still running). Ring of 8, not full.
    buf = _filled(steps=6, capacity=8 * NUM_ENVS, dones_at=(1, 4))
    np.testing.assert_array_equal(_tail(buf, [0, 1, 2, 3, 4, 5]), [1, 0, 2, 1, 0, 0])
    # Wrapped ring of 4 holding steps 6..9 at rows 2, 3, 0, 1; one episode 3..9 (done at 2 only):
    # from the oldest row (2, step 6) the tail runs to the newest (row 1, step 9), not beyond.
    buf = _filled(steps=10, capacity=4 * NUM_ENVS, dones_at=(2,))
    np.testing.assert_array_equal(_tail(buf, [2, 3, 0, 1]), [3, 2, 1, 0])
    # An episode boundary inside the wrapped range: done at step 7 (row 3).
    buf = _filled(steps=10, capacity=4 * NUM_ENVS, dones_at=(7,))
    np.testing.assert_array_equal(_tail(buf, [2, 3, 0, 1]), [1, 0, 1, 0])


def test_future_time_stays_in_episode_and_future() -> None:
    buf = _filled(steps=13, capacity=10 * NUM_ENVS, dones_at=(4, 9))
    index = replay.sample_indices(buf, jax.random.PRNGKey(2), 3000)
    future = replay.future_time(buf, jax.random.PRNGKey(3), index)
    t0 = np.asarray(buf.data["t"][index.time, index.env])
    t1 = np.asarray(buf.data["t"][future, index.env])
    ep0 = np.asarray(buf.episode_id[index.time, index.env])
    ep1 = np.asarray(buf.episode_id[future, index.env])
    assert np.all(t1 >= t0) and np.all(ep1 == ep0)
    assert np.any(t1 > t0)
    # Uniform over t..end: from step 5 (episode 5..9) each of 5..9 appears about equally.
    sel = t0 == 5
    counts = np.bincount(t1[sel], minlength=10)[5:10]
    assert counts.min() > 0.5 * counts.mean()


def test_memory_bytes_and_error_message() -> None:
    example = _example()
    per_step = 2 * 4 + 4 + 8  # x float32[2], t int32, episode id and step
    assert replay.memory_bytes(10, example) == 10 * per_step
    with pytest.raises(ValueError, match=r"needs 2,000,000 bytes .* only 1,000 bytes"):
        replay.init(100_000, example, 1, available_bytes=1000)
    # The default reads the free memory of this machine: a petabyte does not fit.
    with pytest.raises(ValueError, match="needs"):
        replay.check_memory(10**14, example)
    assert replay.available_memory_bytes() > 0


def test_bad_capacity_and_batch_shape() -> None:
    with pytest.raises(ValueError, match="multiple of num_envs"):
        replay.init(10, _example(), 3, available_bytes=10**9)
    with pytest.raises(ValueError, match="num_envs"):
        replay.init(2, _example(), 3, available_bytes=10**9)
    buf = replay.init(6, _example(), 3, available_bytes=10**9)
    with pytest.raises(ValueError, match="num_envs=3"):
        replay.add(buf, {"x": jnp.zeros((2, 2)), "t": jnp.zeros((2,), jnp.int32)})
