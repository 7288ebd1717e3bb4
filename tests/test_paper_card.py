"""The paper-in-square env: observation layout, reward, success, time limit, auto-reset, NaN guard,
actions and config validation. All on the `c` engine with a batch of 4."""

import dataclasses
import math

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t import randomize
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_card import OBS_LAYOUT, CardDRConfig, CardDRRanges, PaperCardConfig
from mjx_gr00t.envs.paper_rig_config import ARM_JOINTS

B = 4
EPISODE_LENGTH = 3
HALF = np.array([0.05, 0.04])  # the sheet's half-extents (10 x 8 cm)
SIGNS = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])  # corner order in the observation


# ----- fixtures -----
@pytest.fixture(scope="module")
def env():
    """DR on (defaults), paper at its nominal start, short episodes."""
    return registry.make("paper_card", PaperCardConfig(engine="c", num_envs=B, episode_length=EPISODE_LENGTH))


@pytest.fixture(scope="module")
def fns(env):
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    step = jax.jit(jax.vmap(env.step))
    return reset, step


@pytest.fixture(scope="module")
def state0(fns):
    return fns[0](jax.random.split(jax.random.PRNGKey(0), B), None)


@pytest.fixture(scope="module")
def centre_env():
    """The paper starts at the square's centre: a small xy offset only, everything else off."""
    cfg = PaperCardConfig(
        engine="c", num_envs=B, episode_length=50, paper_start=PaperCardConfig().square_centre,
        dr=dataclasses.replace(CardDRConfig.off(), paper_xy=randomize.Factor(-0.01, 0.01)),
    )
    env = registry.make("paper_card", cfg)
    return env, jax.jit(jax.vmap(env.reset, in_axes=(0, None))), jax.jit(jax.vmap(env.step))


def _yaw_ranges(yaw: float) -> CardDRRanges:
    dr = dataclasses.replace(CardDRConfig.off(), paper_yaw=randomize.Factor(yaw, yaw))
    return CardDRRanges.from_config(dr)


def _at(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def _orientation(quat: np.ndarray) -> np.ndarray:
    """Yaw error modulo 180 degrees from (..., 4) quaternions (w, x, y, z)."""
    w, x, y, z = np.moveaxis(quat, -1, 0)
    yaw = np.arctan2(2 * (x * y + w * z), 1 - 2 * (y * y + z * z))
    return 0.5 * np.abs(np.arctan2(np.sin(2 * yaw), np.cos(2 * yaw)))


# ----- observation -----
def test_obs_shape_and_layout(env, state0):
    assert env.observation_size == 34 and env.action_size == 6
    spec = env.spec
    assert spec is env.task.spec and spec.obs_layout == OBS_LAYOUT and spec.observation_size == 34
    assert spec.action_names == ARM_JOINTS and spec.action_scale == env.task.config.act_scale == 0.02
    assert spec.policy_dt == 1 / 30 and spec.goal is None
    np.testing.assert_array_equal(spec.action_ranges, env.mj_model.actuator_ctrlrange)
    assert state0.episode is not None and env.task.reset(jax.random.PRNGKey(0)).episode is None
    obs = np.asarray(state0.obs)
    assert obs.shape == (B, 34) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[:, :6], np.asarray(state0.physics.qpos)[:, :6])
    np.testing.assert_allclose(obs[:, :6], np.broadcast_to(env.task.config.home_qpos, (B, 6)), atol=1e-7)
    np.testing.assert_array_equal(obs[:, 6:12], 0.0)  # joint velocities at rest
    square = np.asarray(env.task.config.square_centre)
    paper_qpos = np.asarray(state0.physics.qpos)[:, 6:13]
    np.testing.assert_allclose(obs[:, 19:21], paper_qpos[:, :2] - square, atol=1e-6)
    assert np.all(obs[:, 22] >= 0)  # paper quaternion with w >= 0
    np.testing.assert_allclose(np.linalg.norm(obs[:, 15:19], axis=1), 1.0, atol=1e-5)  # tool quat


def test_corners_relative_to_square(centre_env):
    env, reset, _ = centre_env
    keys = jax.random.split(jax.random.PRNGKey(1), B)
    # Paper exactly at the square's centre, yaw 0.
    state = reset(keys, CardDRRanges.from_config(CardDRConfig.off()))
    obs = np.asarray(state.obs)
    np.testing.assert_allclose(obs[:, 19:21], 0.0, atol=1e-7)
    np.testing.assert_allclose(obs[:, 22:26], np.broadcast_to([1.0, 0, 0, 0], (B, 4)), atol=1e-7)
    expected = (SIGNS * HALF).reshape(-1)  # (+0.05, +0.04), (+0.05, -0.04), (-0.05, +0.04), (-0.05, -0.04)
    np.testing.assert_allclose(obs[:, 26:34], np.broadcast_to(expected, (B, 8)), atol=1e-6)
    # Turned by 90 degrees, the (+,+) corner (local (0.05, 0.04)) goes to (-0.04, +0.05).
    state = reset(keys, _yaw_ranges(math.pi / 2))
    corners = np.asarray(state.obs)[:, 26:34].reshape(B, 4, 2)
    rotated = np.stack([-SIGNS[:, 1] * HALF[1], SIGNS[:, 0] * HALF[0]], axis=1)
    np.testing.assert_allclose(corners, np.broadcast_to(rotated, (B, 4, 2)), atol=1e-6)


# ----- reward -----
def test_reward_is_sum_of_terms_and_matches_formula(env, fns, state0):
    c = env.task.config
    assert (c.success_bonus, c.distance_weight, c.orientation_weight, c.step_penalty) == (10.0, 2.0, 0.1, 0.01)
    actions = jax.random.uniform(jax.random.PRNGKey(2), (B, 6), minval=-1, maxval=1)
    nxt = fns[1](state0, actions)
    terms = {k: np.asarray(v) for k, v in nxt.metrics.items() if k.startswith("reward/")}
    assert set(terms) == {"reward/success", "reward/distance", "reward/orientation", "reward/step"}
    np.testing.assert_allclose(np.asarray(nxt.reward), sum(terms.values()), rtol=1e-6, atol=1e-6)

    obs = np.asarray(nxt.episode.final_obs)  # the observation of the step just taken
    dist = np.linalg.norm(obs[:, 19:21], axis=1)
    orient = _orientation(obs[:, 22:26])
    success = np.all(np.abs(obs[:, 26:34]) < c.square_half_size, axis=1).astype(np.float32)
    np.testing.assert_allclose(nxt.metrics["task/dist_to_goal"], dist, atol=1e-5)
    np.testing.assert_allclose(nxt.metrics["task/orientation_error"], orient, atol=1e-4)
    expected = 10.0 * success - 2.0 * dist - 0.1 * orient - 0.01
    np.testing.assert_allclose(np.asarray(nxt.reward), expected, atol=1e-4)
    assert np.all(orient > 1e-3)  # DR turned the sheets, so the orientation term is exercised
    np.testing.assert_array_equal(np.asarray(nxt.success), success)


# ----- episode ends -----
def test_success_terminates_and_resets(centre_env):
    env, reset, step = centre_env
    state = reset(jax.random.split(jax.random.PRNGKey(3), B), None)
    last = jax.jit(jax.vmap(env.task.step))(state, jnp.zeros((B, 6)))  # the ended episode's last step
    nxt = step(state, jnp.zeros((B, 6)))
    np.testing.assert_array_equal(nxt.success, 1.0)
    np.testing.assert_array_equal(nxt.done, 1.0)
    np.testing.assert_array_equal(nxt.truncation, 0.0)
    np.testing.assert_allclose(nxt.reward, np.asarray(last.reward), atol=1e-6)
    assert np.all(np.asarray(nxt.reward) > 9.0)  # +10 bonus
    np.testing.assert_allclose(nxt.episode.final_obs, last.obs, atol=1e-6)
    np.testing.assert_array_equal(nxt.episode.steps, 0)
    np.testing.assert_array_equal(nxt.episode.episode_return, 0.0)
    # The returned obs is a fresh episode, drawn with this slot's next reset key.
    k_reset = jax.vmap(lambda k: jax.random.split(k)[1])(state.episode.rng)
    fresh = jax.jit(jax.vmap(env.task.reset))(k_reset, state.info.dr_ranges)
    np.testing.assert_allclose(nxt.obs, fresh.obs, atol=1e-6)
    np.testing.assert_allclose(nxt.physics.qpos, fresh.physics.qpos, atol=1e-7)
    assert not np.allclose(np.asarray(nxt.obs)[:, 19:21], np.asarray(last.obs)[:, 19:21], atol=1e-4)


def test_time_limit_truncates(fns, state0):
    step = fns[1]
    state = state0
    for t in range(1, EPISODE_LENGTH + 1):
        state = step(state, jnp.zeros((B, 6)))
        ended = t == EPISODE_LENGTH
        np.testing.assert_array_equal(state.success, 0.0)
        np.testing.assert_array_equal(state.done, float(ended))
        np.testing.assert_array_equal(state.truncation, float(ended))
        np.testing.assert_array_equal(state.episode.steps, 0 if ended else t)
    # Bootstrap target: final_obs is the last obs of the truncated episode, not the fresh one.
    final, obs = np.asarray(state.episode.final_obs), np.asarray(state.obs)
    assert not np.allclose(final[:, 19:21], obs[:, 19:21], atol=1e-4)
    np.testing.assert_array_equal(state.episode.nan_resets, 0)


def test_auto_reset_draws_fresh_state_per_slot(fns, state0):
    step = fns[1]

    def run_episode(state):
        for _ in range(EPISODE_LENGTH):
            state = step(state, jnp.zeros((B, 6)))
        np.testing.assert_array_equal(state.done, 1.0)  # all slots end together
        return state

    first = np.asarray(state0.obs)[:, 19:21]
    s1 = run_episode(state0)
    second = np.asarray(s1.obs)[:, 19:21]
    s2 = run_episode(s1)
    third = np.asarray(s2.obs)[:, 19:21]
    for poses in (first, second, third):  # slots ending at once get different poses
        gaps = np.linalg.norm(poses[:, None] - poses[None], axis=-1)[np.triu_indices(B, 1)]
        assert np.all(gaps > 1e-4), gaps
    # The same slot over consecutive episodes gets different poses.
    assert np.all(np.linalg.norm(second - first, axis=1) > 1e-4)
    assert np.all(np.linalg.norm(third - second, axis=1) > 1e-4)
    # Fresh model overrides too (friction drawn per episode).
    fr0 = np.asarray(state0.info.overrides["geom_friction"])
    fr1 = np.asarray(s1.info.overrides["geom_friction"])
    assert np.all(np.any(fr0 != fr1, axis=(1, 2)))


# ----- NaN guard -----
def test_nan_guard_resets_only_the_bad_env(env, fns, state0):
    step = fns[1]
    actions = jax.random.uniform(jax.random.PRNGKey(4), (B, 6), minval=-1, maxval=1)
    clean = step(state0, actions)
    bad = state0.physics.qvel.at[1, 0].set(jnp.nan)
    poisoned = state0.replace(physics=state0.physics._replace(qvel=bad))
    out = step(poisoned, actions)

    assert float(out.reward[1]) == 0.0
    # Truncated, bootstrapping from the last healthy observation: a blow-up is not an outcome.
    assert float(out.done[1]) == 1.0 and float(out.truncation[1]) == 1.0 and float(out.success[1]) == 0.0
    assert int(out.episode.nan_resets[1]) == 1
    assert int(out.episode.steps[1]) == 0
    np.testing.assert_array_equal(out.episode.final_obs[1], state0.obs[1])
    assert all(float(v[1]) == 0.0 for v in out.metrics.values())
    for leaf in jax.tree.leaves(out):
        assert np.all(np.isfinite(np.asarray(leaf[1])))
    k_reset = jax.random.split(state0.episode.rng[1])[1]
    fresh = env.task.reset(k_reset, _at(state0.info.dr_ranges, 1))
    np.testing.assert_allclose(out.obs[1], fresh.obs, atol=1e-6)
    np.testing.assert_allclose(out.physics.qpos[1], fresh.physics.qpos, atol=1e-7)

    for i in (0, 2, 3):
        same = jax.tree.map(lambda a, b: np.array_equal(np.asarray(a[i]), np.asarray(b[i])), out, clean)
        assert all(jax.tree.leaves(same)), f"env {i} changed by another env's NaN"
    np.testing.assert_array_equal(clean.episode.nan_resets, 0)


def test_diverged_physics_is_caught_like_nan(env, fns, state0):
    """A finite but exploded state (the sheet launched at 1 km/s) is reset and counted too."""
    fast = state0.physics.qvel.at[2, 6].set(1e3)
    out = fns[1](state0.replace(physics=state0.physics._replace(qvel=fast)), jnp.zeros((B, 6)))
    assert float(out.done[2]) == 1.0 and float(out.truncation[2]) == 1.0 and float(out.reward[2]) == 0.0
    assert int(out.episode.nan_resets[2]) == 1 and int(out.episode.nan_resets[0]) == 0
    assert float(jnp.max(jnp.abs(out.physics.qvel[2]))) < 100.0


# ----- actions -----
@pytest.fixture(scope="module")
def task_step(env):
    return jax.jit(env.task.step)


def test_action_clipping(state0, task_step):
    s = _at(state0, 0)
    for big, unit in ((5.0, 1.0), (-5.0, -1.0)):
        a = task_step(s, jnp.full((6,), big))
        b = task_step(s, jnp.full((6,), unit))
        same = jax.tree.map(lambda x, y: np.array_equal(np.asarray(x), np.asarray(y)), a, b)
        assert all(jax.tree.leaves(same))
    mixed = jnp.array([5.0, -5.0, 0.5, -0.25, 3.0, 0.0])
    a = task_step(s, mixed)
    np.testing.assert_array_equal(a.info.ctrl_target, task_step(s, jnp.clip(mixed, -1, 1)).info.ctrl_target)


def test_joint_targets_accumulate_and_clip(env, state0, task_step):
    task = env.task
    scale = task.config.act_scale
    home = np.asarray(task.config.home_qpos, np.float32)
    s = _at(state0, 0)
    a1 = jnp.array([1.0, -1.0, 0.5, -0.5, 0.25, 0.0])
    a2 = jnp.array([0.5, 0.5, -1.0, 1.0, 0.0, 0.75])
    s1 = task_step(s, a1)
    np.testing.assert_allclose(s1.info.ctrl_target, home + scale * np.asarray(a1), atol=1e-6)
    s2 = task_step(s1, a2)
    np.testing.assert_allclose(s2.info.ctrl_target, home + scale * np.asarray(a1 + a2), atol=1e-6)
    low, high = np.asarray(task.ctrl_low), np.asarray(task.ctrl_high)
    near_high = s.replace(info=s.info.replace(ctrl_target=jnp.asarray(high - 0.3 * scale)))
    np.testing.assert_array_equal(task_step(near_high, jnp.ones(6)).info.ctrl_target, high)
    near_low = s.replace(info=s.info.replace(ctrl_target=jnp.asarray(low + 0.3 * scale)))
    np.testing.assert_array_equal(task_step(near_low, -jnp.ones(6)).info.ctrl_target, low)


# ----- config validation -----
@pytest.mark.parametrize("kwargs, words", [
    (dict(physics_hz=360, control_hz=100), ["rates", "control_hz"]),
    (dict(control_hz=180, policy_hz=50), ["rates", "policy_hz"]),
    (dict(act_scale=0.0), ["act_scale"]),
    (dict(act_scale=0.6), ["act_scale"]),
    (dict(episode_length=0), ["episode_length"]),
    (dict(square_half_size=0.01), ["square_half_size"]),
    (dict(home_qpos=(0.0,) * 5), ["home_qpos"]),
])
def test_config_validation(kwargs, words):
    with pytest.raises(ValueError) as err:
        PaperCardConfig(engine="c", **kwargs)
    msg = str(err.value)
    assert all(w in msg for w in words), msg


def test_unknown_engine_names_valid_engines():
    with pytest.raises(ValueError) as err:
        PaperCardConfig(engine="gpu")
    msg = str(err.value)
    assert "'gpu'" in msg and all(name in msg for name in ("mjx", "c", "warp", "auto")), msg
