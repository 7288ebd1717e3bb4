"""The Fetch-like tasks: observation layout and dict split, vectorised reward, success, reset
sampling, time limit without termination, gripper tracking, blocked fingers, DR switches, config
errors, and c/mjx engine parity. `c` engine with at most 8 stepped envs (resets, which run no
physics, use larger batches for statistics)."""

import dataclasses

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t import randomize
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.fetch.config import FetchDRConfig, FetchDRRanges
from mjx_gr00t.envs.fetch.pick_place import FetchPickPlaceConfig
from mjx_gr00t.envs.fetch.push import FetchPushConfig
from mjx_gr00t.envs.fetch.reach import FetchReachConfig
from mjx_gr00t.envs.fetch.task import FetchTask
from mjx_gr00t.physics.mjx_engine import MjxEngine

B = 8
OFF = FetchDRConfig.off()
TABLE_TOP = 0.4
CONFIGS = {"fetch_reach": FetchReachConfig, "fetch_push": FetchPushConfig, "fetch_pick_place": FetchPickPlaceConfig}


def _keys(seed: int, n: int = B) -> jax.Array:
    return jax.random.split(jax.random.PRNGKey(seed), n)


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg, repr(msg)
    return msg


def _at(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


@pytest.fixture(scope="module")
def envs():
    """name -> (env, reset(keys, ranges=None), jitted vmapped step); DR off, c engine, 3-step episodes.

    reset always passes explicit ranges (the config's for None), so that one compile per batch
    size serves every call."""
    out = {}
    for name, cls in CONFIGS.items():
        env = registry.make(name, cls(engine="c", num_envs=B, dr=OFF, episode_length=3))
        jitted = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))

        def reset(keys, ranges=None, env=env, jitted=jitted):
            return jitted(keys, env.task.default_ranges if ranges is None else ranges)

        out[name] = (env, reset, jax.jit(jax.vmap(env.step)))
    return out


# ----- registry, layout, dict split -----
def test_registered_with_their_own_config_types():
    assert {"fetch_reach", "fetch_push", "fetch_pick_place"} <= set(registry.scenes())
    for name, cls in CONFIGS.items():
        assert type(registry.default_config(name)) is cls
    with pytest.raises(TypeError) as err:
        registry.make("fetch_reach", FetchPushConfig(engine="c"))
    assert "FetchReachConfig" in _one_line(err)


@pytest.mark.parametrize("name, n_obs", [("fetch_reach", 10), ("fetch_push", 25), ("fetch_pick_place", 25)])
def test_obs_layout_and_split(envs, name, n_obs):
    env, reset, _ = envs[name]
    task: FetchTask = env.task
    assert isinstance(env, EpisodeEnv) and not env.terminate_on_success
    assert env.observation_size == task.observation_size == n_obs + 6 and env.action_size == 4
    spec = task.spec
    assert env.spec is spec and spec.observation_size == n_obs + 6 and spec.action_size == 4
    assert spec.obs_layout[-2:] == (("achieved_goal", 3), ("desired_goal", 3))
    assert spec.goal is not None and spec.goal.rebase is None
    assert (spec.goal.achieved, spec.goal.desired) == ((n_obs, n_obs + 3), (n_obs + 3, n_obs + 6))
    assert spec.goal.compute_reward == task.compute_reward
    assert spec.action_names == ("dx", "dy", "dz", "gripper") and spec.action_ranges == ((-1.0, 1.0),) * 4
    assert spec.action_scale == task.config.action_scale == 0.05 and spec.policy_dt == pytest.approx(0.04)
    state = reset(_keys(0), None)
    obs = np.asarray(state.obs)
    assert obs.shape == (B, n_obs + 6) and obs.dtype == np.float32
    qpos = np.asarray(state.physics.qpos)
    views = {field: obs[:, spec.obs_slice(field)] for field, _ in spec.obs_layout}
    np.testing.assert_allclose(views["grip_pos"], qpos[:, :3], atol=1e-7)
    np.testing.assert_array_equal(views["gripper_state"], 0.0)  # fingers start closed
    np.testing.assert_allclose(views["desired_goal"], state.info.goal)
    if name == "fetch_reach":
        np.testing.assert_allclose(views["achieved_goal"], qpos[:, :3])
    else:
        np.testing.assert_allclose(views["object_pos"], qpos[:, 5:8])
        np.testing.assert_allclose(views["object_rel_pos"], qpos[:, 5:8] - qpos[:, :3], atol=1e-6)
        np.testing.assert_allclose(views["achieved_goal"], qpos[:, 5:8])
        np.testing.assert_array_equal(views["object_rot"], 0.0)
    # The dict view on any leading dims.
    stacked = jnp.stack([state.obs, state.obs + 1.0])  # (2, B, obs)
    parts = task.split_obs(stacked)
    assert parts["observation"].shape == (2, B, n_obs)
    assert parts["achieved_goal"].shape == parts["desired_goal"].shape == (2, B, 3)
    np.testing.assert_array_equal(parts["desired_goal"][1], views["desired_goal"] + 1.0)
    np.testing.assert_array_equal(task.split_obs(state.obs[0])["observation"], obs[0, :n_obs])


def test_velocities_are_scaled_by_dt(envs):
    env, reset, step = envs["fetch_pick_place"]
    state = step(reset(_keys(1), None), jnp.tile(jnp.array([1.0, -0.5, 0.3, 1.0]), (B, 1)))
    obs, qvel, dt = np.asarray(state.obs), np.asarray(state.physics.qvel), 0.04
    assert env.task.dt == pytest.approx(dt)
    np.testing.assert_allclose(obs[:, 20:23], qvel[:, :3] * dt, rtol=1e-5, atol=1e-7)  # grip_velp
    np.testing.assert_allclose(obs[:, 23:25], qvel[:, 3:5] * dt, rtol=1e-5, atol=1e-7)  # gripper_vel
    np.testing.assert_allclose(obs[:, 14:17], (qvel[:, 5:8] - qvel[:, :3]) * dt, rtol=1e-5, atol=1e-7)
    assert np.all(np.abs(obs[:, 20]) > 1e-3)  # the gripper is moving


# ----- reward and success -----
def test_compute_reward_vectorised_both_modes(envs):
    task = envs["fetch_push"][0].task
    key_a, key_d = jax.random.split(jax.random.PRNGKey(2))
    achieved = jax.random.uniform(key_a, (5, 7, 3), maxval=0.1)
    desired = jax.random.uniform(key_d, (5, 7, 3), maxval=0.1)
    d = np.linalg.norm(np.asarray(achieved) - np.asarray(desired), axis=-1)
    sparse = np.asarray(task.compute_reward(achieved, desired))  # config.sparse is True
    dense = np.asarray(task.compute_reward(achieved, desired, sparse=False))
    assert sparse.shape == dense.shape == (5, 7) and sparse.dtype == np.float32
    np.testing.assert_array_equal(sparse, -(d > 0.05).astype(np.float32))
    np.testing.assert_allclose(dense, -d, rtol=1e-6)
    assert 0 < np.mean(sparse == 0) < 1  # both outcomes present
    jitted = jax.jit(lambda a, g: task.compute_reward(a, g, sparse=True))
    np.testing.assert_array_equal(jitted(achieved, desired), sparse)
    dense_task = FetchTask(FetchPushConfig(engine="c", num_envs=1, sparse=False))
    np.testing.assert_allclose(dense_task.compute_reward(achieved, desired), -d, rtol=1e-6)


def test_success_threshold_and_metrics(envs):
    env, reset, step = envs["fetch_reach"]
    state = reset(_keys(3), None)
    grip = state.physics.qpos[:, :3]
    offsets = jnp.array([0.0, 0.03, 0.049, 0.051, 0.08, 0.2, 0.0, 0.045])
    goal = grip + offsets[:, None] * jnp.array([0.0, 0.6, 0.8])
    state = state.replace(info=state.info.replace(goal=goal))
    nxt = step(state, jnp.zeros((B, 4)))  # reach ignores the gripper; a zero move keeps the grip still
    d = np.asarray(nxt.metrics["task/dist_to_goal"])
    np.testing.assert_allclose(d, offsets, atol=2e-4)
    expected = (np.asarray(offsets) < 0.05).astype(np.float32)
    np.testing.assert_array_equal(nxt.success, expected)
    np.testing.assert_array_equal(nxt.metrics["task/success"], expected)
    np.testing.assert_array_equal(nxt.reward, expected - 1.0)
    np.testing.assert_array_equal(nxt.metrics["reward/goal"], nxt.reward)


def test_success_does_not_end_the_episode(envs):
    """Fetch: episodes end by the time limit only (truncation), also when solved from the start."""
    env, reset, step = envs["fetch_reach"]
    state = reset(_keys(4), None)
    state = state.replace(info=state.info.replace(goal=state.physics.qpos[:, :3]))
    for t in range(1, 4):
        state = step(state, jnp.zeros((B, 4)))
        np.testing.assert_array_equal(state.success, 1.0)
        np.testing.assert_array_equal(state.done, float(t == 3))
        np.testing.assert_array_equal(state.truncation, float(t == 3))
    np.testing.assert_array_equal(state.episode.steps, 0)  # auto-reset after the limit
    bare = env.task.step(_at(state, 0), jnp.zeros(4))
    assert float(bare.done) == 0.0


# ----- reset sampling -----
@pytest.mark.parametrize("name", list(CONFIGS))
def test_reset_sampling(envs, name):
    """Every draw obeys the ranges; pick-and-place (512 draws) raises about half of its goals."""
    env, reset, _ = envs[name]
    n = 512 if name == "fetch_pick_place" else 8 * B
    states = [reset(keys) for keys in _keys(5, n).reshape(-1, B, 2)]  # the compiled batch of B
    state = jax.tree.map(lambda *xs: jnp.concatenate(xs), *states)
    qpos, goal = np.asarray(state.physics.qpos), np.asarray(state.info.goal)
    start = np.asarray(env.task.grip_start)
    extra = 0.0 if name == "fetch_push" else 0.2
    np.testing.assert_allclose(qpos[:, :3], np.broadcast_to([0.0, 0.0, TABLE_TOP + 0.1 + extra], (n, 3)), atol=1e-6)
    if name == "fetch_reach":
        assert np.all(np.abs(goal - start) <= 0.15 + 1e-6)
        return
    obj = qpos[:, 5:8]
    off = obj[:, :2] - start[:2]
    assert np.all(np.abs(off) <= 0.15 + 1e-6)
    assert np.linalg.norm(off, axis=1).min() >= 0.1 - 1e-6
    np.testing.assert_allclose(obj[:, 2], TABLE_TOP + 0.025, atol=1e-6)
    assert np.all(np.abs(goal[:, :2] - start[:2]) <= 0.15 + 1e-6)
    raised = goal[:, 2] > TABLE_TOP + 0.025 + 1e-6
    assert np.all(goal[:, 2] >= TABLE_TOP + 0.025 - 1e-6) and np.all(goal[:, 2] <= TABLE_TOP + 0.025 + 0.45 + 1e-6)
    if name == "fetch_push":
        assert not raised.any()
    else:
        assert 0.43 < raised.mean() < 0.57, raised.mean()  # p = 0.5; 3 sigma at n = 512 is 0.066
        assert goal[raised, 2].max() > TABLE_TOP + 0.4


def test_object_rejection_fallback_keeps_min_distance():
    """With min distance 0.11 in a +-0.08 box only 0.16 % of draws pass: nearly every reset falls back."""
    task = FetchTask(FetchPushConfig(engine="c", num_envs=1, obj_range=0.08, min_object_distance=0.11, dr=OFF))
    offsets = np.asarray(jax.vmap(task._object_offset)(_keys(6, 2048)))
    assert np.linalg.norm(offsets, axis=1).min() >= 0.11 - 1e-6
    assert np.all(np.isfinite(offsets))


# ----- actions -----
def test_gripper_tracks_commands_and_stays_in_workspace(envs):
    env, reset, step = envs["fetch_pick_place"]
    state = reset(_keys(7), None)
    start = np.asarray(state.physics.qpos[:, :3])
    move = jnp.tile(jnp.array([1.0, -1.0, -1.0, 0.0]), (B, 1))
    for t in range(1, 3):
        state = step(state, move)
        grip = np.asarray(state.physics.qpos[:, :3])
        target = start + t * 0.05 * np.array([1.0, -1.0, -1.0])
        np.testing.assert_allclose(np.asarray(state.info.grip_target), target, atol=1e-6)
        assert np.abs(grip - target).max() < 0.008  # measured 4.2 mm per axis (8 % of a step)
    # Push starts 0.1 m above the table: two full steps down would go 2 cm into it.
    _, reset, step = envs["fetch_push"]
    state = reset(_keys(7), None)
    for _ in range(2):  # episode_length 3: stays within one episode
        state = step(state, jnp.tile(jnp.array([0.0, 0.0, -1.0, 0.0]), (B, 1)))
    z = np.asarray(state.info.grip_target[:, 2])
    np.testing.assert_allclose(z, TABLE_TOP + 0.022, atol=1e-6)  # clipped to the workspace floor
    assert np.all(np.asarray(state.physics.qpos[:, 2]) > TABLE_TOP + 0.02)


def test_fingers_open_in_pick_place_and_ignore_the_gripper_in_reach_and_push(envs):
    _, reset, step = envs["fetch_pick_place"]
    state = step(reset(_keys(8), None), jnp.tile(jnp.array([0.0, 0.0, 0.0, 1.0]), (B, 1)))
    fingers = np.asarray(state.physics.qpos[:, 3:5])
    assert np.all(fingers > 0.045) and np.all(fingers < 0.06)
    for name in ("fetch_reach", "fetch_push"):
        _, reset, step = envs[name]
        state = reset(_keys(9), None)
        a = jnp.tile(jnp.array([0.3, 0.2, -0.4, 0.0]), (B, 1))
        plain = step(state, a)
        with_grip = step(state, a.at[:, 3].set(jnp.linspace(-1.0, 1.0, B)))
        np.testing.assert_array_equal(with_grip.physics.qpos, plain.physics.qpos)
        assert np.abs(np.asarray(plain.physics.qpos[:, 3:5])).max() < 1e-3  # held closed


# ----- domain randomisation -----
def _drawn_scales(task: FetchTask, state) -> dict[str, np.ndarray]:
    m, ov = task.mj_model, {k: np.asarray(v) for k, v in state.info.overrides.items()}
    body, geom = task.object_body, task.object_geom
    return {
        "object_mass": ov["body_mass"][:, body] / m.body_mass[body],
        "object_friction": ov["geom_friction"][:, geom, 0] / m.geom_friction[geom, 0],
        "object_size": ov["geom_size"][:, geom, 0] / 0.025,
        "gripper_gain": ov["actuator_gainprm"][:, :, 0] / m.actuator_gainprm[:, 0],
    }


@pytest.mark.parametrize("off_factor", [None, "object_mass", "object_friction", "object_size", "gripper_gain"])
def test_dr_switches_change_model_fields(envs, off_factor):
    env, reset, _ = envs["fetch_pick_place"]
    task = env.task
    dr = FetchDRConfig()
    if off_factor is not None:
        dr = dataclasses.replace(dr, **{off_factor: dataclasses.replace(getattr(dr, off_factor), enabled=False)})
    ranges = FetchDRRanges.from_config(dr)
    state = reset(_keys(10), ranges)  # one compiled reset serves all ranges: ranges are data
    scales = _drawn_scales(task, state)
    for name, values in scales.items():
        factor: randomize.Factor = getattr(dr, name)
        if name == off_factor:
            np.testing.assert_allclose(values, 1.0, rtol=1e-6, err_msg=name)
        else:
            assert np.all(values >= factor.low - 1e-6) and np.all(values <= factor.high + 1e-6), name
            assert np.ptp(values) > 0.1 * (factor.high - factor.low), name
    ov = state.info.overrides
    m = task.mj_model
    # Coupled fields follow the same draws.
    np.testing.assert_allclose(ov["actuator_biasprm"][:, :, 1], -np.asarray(ov["actuator_gainprm"])[:, :, 0], rtol=1e-6)
    np.testing.assert_allclose(ov["actuator_gainprm"][:, 3, 0], ov["actuator_gainprm"][:, 4, 0])  # fingers share one
    for g in ("table", "finger_l", "finger_r", "palm"):
        np.testing.assert_allclose(ov["geom_friction"][:, m.geom(g).id, 0], scales["object_friction"], rtol=1e-6)
    half = 0.025 * scales["object_size"]
    np.testing.assert_allclose(ov["geom_size"][:, task.object_geom], np.repeat(half[:, None], 3, 1), rtol=1e-6)
    np.testing.assert_allclose(state.physics.qpos[:, 7], TABLE_TOP + half, atol=1e-6)  # resting on the table
    lift = np.asarray(state.info.goal[:, 2]) - (TABLE_TOP + half)  # goals sit at the drawn cube's height
    assert np.all(lift >= -1e-6) and np.all(lift <= 0.45 + 1e-6) and np.any(np.abs(lift) < 1e-6)
    inertia = 2.0 * (2 * half) ** 2 / 6 * scales["object_mass"]  # solid cube: m a^2 / 6
    np.testing.assert_allclose(ov["body_inertia"][:, task.object_body], np.repeat(inertia[:, None], 3, 1), rtol=1e-4)
    np.testing.assert_array_equal(jax.tree.leaves(state.info.dr_ranges)[0][0], jax.tree.leaves(ranges)[0])


def test_dr_ranges_survive_auto_reset(envs):
    env, reset, step = envs["fetch_push"]
    ranges = FetchDRRanges.from_config(dataclasses.replace(OFF, object_size=randomize.Factor(1.15, 1.2)))
    state = reset(_keys(11), ranges)
    for _ in range(3):  # episode_length 3: the third step auto-resets every env
        state = step(state, jnp.zeros((B, 4)))
    np.testing.assert_array_equal(state.episode.steps, 0)
    size = np.asarray(state.info.overrides["geom_size"][:, env.task.object_geom, 0]) / 0.025
    assert np.all(size >= 1.15 - 1e-6) and np.all(size <= 1.2 + 1e-6)


def test_dr_off_is_nominal_and_size_draws_clip_to_the_compiled_cube():
    task = FetchTask(FetchPickPlaceConfig(engine="c", num_envs=1, dr=OFF))  # compiled for scale 1.2
    m = task.mj_model
    assert m.geom_size[task.object_geom, 0] == pytest.approx(0.025 * 1.2)
    state = task.reset(jax.random.PRNGKey(0))
    for field in ("body_mass", "geom_friction", "actuator_gainprm", "actuator_biasprm"):
        np.testing.assert_allclose(state.info.overrides[field], getattr(m, field), rtol=1e-6, err_msg=field)
    assert float(state.info.overrides["geom_size"][task.object_geom, 0]) == pytest.approx(0.025)
    big = FetchDRRanges.from_config(dataclasses.replace(OFF, object_size=randomize.Factor(1.5, 1.5)))
    assert float(task.reset(jax.random.PRNGKey(0), big).info.overrides["geom_size"][task.object_geom, 0]) == pytest.approx(0.03)


# ----- config errors -----
@pytest.mark.parametrize("cls, change, words", [
    (FetchPushConfig, {"obj_range": 0.3}, ("obj_range 0.3", "0.25 x 0.35", "0.5 x 0.7")),
    (FetchPickPlaceConfig, {"target_range": 0.25}, ("target_range 0.25", "0.25 x 0.35")),
    (FetchPushConfig, {"gripper_start_xy": (0.15, 0.0)}, ("obj_range 0.15", "0.25 x 0.35", "<= 0.070")),
    (FetchReachConfig, {"target_range": 0.35}, ("target_range 0.35", "0.25 x 0.35", "<= 0.250")),
    (FetchReachConfig, {"gripper_extra_height": 0.3, "target_range": 0.2}, ("target_range 0.2", "workspace_z", "0.25 x 0.35")),
    (FetchPushConfig, {"table_half_extents": (0.15, 0.35, 0.2)}, ("obj_range", "0.15 x 0.35")),
    (FetchPushConfig, {"min_object_distance": 0.22}, ("min_object_distance 0.22", "obj_range 0.15")),
    (FetchPickPlaceConfig, {"air_height_max": 0.6}, ("raised goals", "workspace_z")),
    (FetchPushConfig, {"engine": "gpu"}, ("'gpu'", "mjx")),
])
def test_config_validation(cls, change, words):
    with pytest.raises(ValueError) as err:
        cls(**change)
    msg = _one_line(err)
    assert all(w in msg for w in words), msg


def test_dr_and_file_validation():
    with pytest.raises(ValueError) as err:
        FetchDRConfig(object_size=randomize.Factor(1.2, 0.8))
    assert "inverted" in _one_line(err)
    with pytest.raises(ValueError) as err:
        FetchDRConfig(object_size=randomize.Factor(0.5, 2.5))
    assert "object_size" in _one_line(err)
    with pytest.raises(FileNotFoundError) as err:
        FetchReachConfig(xml_path="/nonexistent/fetch.xml")
    assert "/nonexistent/fetch.xml" in _one_line(err)


# ----- engine parity -----
# mjx (float32) vs c (float64 inside a call), 3 calls of 20 physics steps (one policy step each),
# B = 2: env 0 grasps the cube (the fingers close on it, then it is lifted 2 cm and carried 2 cm);
# env 1 flies freely while its cube rests on the table. Run twice on one compile: DR off, and DR on
# (per-env size, mass, friction and gains as overrides). Measured (MuJoCo/MJX 3.17, jax 0.9.2,
# this 2-core CPU): DR off, everything within 1.6e-7 m; DR on, 1.5e-4 m (a resting cube's
# height and the grasping gripper's x: randomised friction and size change how far the cube
# settles into the table, and the engines settle it 0.1 mm apart), quaternions 2.3e-7.
PARITY_TOL_NOMINAL = 2e-6  # m, DR off
PARITY_TOL_DR = 1e-3  # m, DR on
PARITY_QUAT_TOL = 1e-5


@pytest.mark.slow
def test_mjx_matches_c_engine():
    """~30 s on this loaded 2-core CPU, nearly all of it MJX's compile; deselect with -m 'not slow'."""
    task = FetchTask(FetchPickPlaceConfig(engine="c", num_envs=2))  # DR on: ranges for the second run
    m = task.mj_model
    keys = _keys(12, 2)
    c_step, mjx_step = jax.jit(jax.vmap(task.engine.step)), jax.jit(jax.vmap(MjxEngine(m).step))
    for ranges, tol in ((FetchDRRanges.from_config(OFF), PARITY_TOL_NOMINAL), (task.default_ranges, PARITY_TOL_DR)):
        state = jax.vmap(task.reset, in_axes=(0, None))(keys, ranges)
        half = np.asarray(state.info.overrides["geom_size"])[:, task.object_geom, 0]
        z0 = TABLE_TOP + half[0]
        ctrl = np.stack([
            np.array([[0.05, 0.05, z0, 0.0, 0.0], [0.05, 0.05, z0 + 0.02, 0.0, 0.0], [0.07, 0.05, z0 + 0.02, 0.0, 0.0]]),
            np.array([[0.03, 0.0, 0.6, 0.1, 0.1], [0.06, -0.03, 0.62, 0.2, 0.2], [0.06, -0.06, 0.65, 0.2, 0.2]]),
        ])  # (B, calls, nu)
        ctrl = jnp.asarray(np.repeat(ctrl[:, :, None, :], 20, axis=2), jnp.float32)
        qpos = np.asarray(state.physics.qpos).copy()
        qpos[:, 5:8] = [[0.05, 0.05, z0], [-0.1, 0.1, TABLE_TOP + half[1]]]
        qpos[0, :5] = [0.05, 0.05, z0, half[0] + 0.005, half[0] + 0.005]  # fingers open around the cube
        qpos[1, :5] = [0.0, 0.0, 0.6, 0.0, 0.0]
        results = {}
        for name, fn in (("c", c_step), ("mjx", mjx_step)):
            phys = state.physics._replace(qpos=jnp.asarray(qpos, jnp.float32))
            out = []
            for call in range(3):
                phys = fn(phys, ctrl[:, call], state.info.overrides)
                out.append(np.asarray(phys.qpos))
            results[name] = np.stack(out, 1)
        c, x = results["c"], results["mjx"]
        assert np.all(np.isfinite(x))
        assert c[0, -1, 3] > 0.015 and c[0, -1, 7] > TABLE_TOP + half[0] + 0.015  # grasped and lifted
        np.testing.assert_allclose(x[..., :8], c[..., :8], atol=tol)
        np.testing.assert_allclose(x[..., 8:12], c[..., 8:12], atol=PARITY_QUAT_TOL)
