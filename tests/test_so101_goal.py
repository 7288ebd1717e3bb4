"""The SO-101 goal tasks (envs/so101_goal): registration and layout, the IK that turns the Cartesian
action into joint targets, real contacts (jaws and cube stay above the table, the cube rests on it),
a grasp that lifts the cube, and config errors. `c` engine, DR off unless said."""

import dataclasses

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t import gym as jgym
from mjx_gr00t.bases import make_base
from mjx_gr00t.bases.so101_script import So101ScriptBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_rig_config import FINGERTIP_RADIUS
from mjx_gr00t.envs.so101_goal.config import So101GoalDRConfig
from mjx_gr00t.envs.so101_goal.tasks import So101PickPlaceConfig, So101ReachConfig
from mjx_gr00t.envs.so101_goal.task import So101GoalTask

B = 8
SCENES = {"so101_reach": 16, "so101_push": 31, "so101_pick_place": 31}


def _env(name: str, dr: bool = False, **changes):
    cfg = registry.default_config(name)
    cfg = dataclasses.replace(cfg, engine="c", num_envs=B, dr=cfg.dr if dr else So101GoalDRConfig.off(), **changes)
    return registry.make(name, cfg)


class Compiled:
    """One pick-and-place env's jitted batch reset, step and scripted action, shared by the tests."""

    def __init__(self) -> None:
        self.env = _env("so101_pick_place")
        self.task = self.env.task
        self.reset = jax.jit(lambda key: jax.vmap(self.env.reset)(jax.random.split(key, B)))
        self.step = jax.jit(jax.vmap(self.env.step))
        self.script = jax.jit(jax.vmap(So101ScriptBase(self.task)))


@pytest.fixture(scope="module")
def pick_place():
    return Compiled()


@pytest.mark.parametrize("name", sorted(SCENES))
def test_registered_with_fetch_layout_gym_id_and_bases(name):
    env = _env(name)
    assert env.observation_size == SCENES[name] and env.action_size == 4
    assert env.task.spec.obs_slice("desired_goal") == slice(SCENES[name] - 3, SCENES[name])
    assert registry.bases(name) == ("script", "zero")
    assert isinstance(make_base("script", name, env.task), So101ScriptBase)
    assert f"mjx_gr00t/{name}-v0" in jgym.register_envs()
    assert env.task.engine_name == "c"


def test_ik_places_the_grasp_point_with_the_jaws_down(pick_place):
    task: So101GoalTask = pick_place.task
    ik = jax.jit(task.ik)
    for target in ([0.2, 0.0, 0.05], [0.28, -0.12, 0.02], [0.18, 0.1, 0.1]):
        q = task.home[:5]
        for _ in range(5):
            q = ik(q, jnp.asarray(target, jnp.float32))
        pos, rot = task.grasp_pose(q)
        assert np.linalg.norm(np.asarray(pos) - target) < 0.005, (target, pos)
        assert float(-rot[2, 0]) > 0.95  # the approach axis points down
        assert np.all(np.asarray(q) >= np.asarray(task.ctrl_low[:5]) - 1e-6)
        assert np.all(np.asarray(q) <= np.asarray(task.ctrl_high[:5]) + 1e-6)


def test_cartesian_actions_move_the_grasp_point(pick_place):
    step = pick_place.step
    state = pick_place.reset(jax.random.PRNGKey(0))
    start = np.asarray(state.obs[:, :3])
    for _ in range(10):
        state = step(state, jnp.tile(jnp.array([0.0, 0.5, 0.15, 0.0]), (B, 1)))
    moved = np.asarray(state.obs[:, :3]) - start
    # Targets: +2.5 cm in y and +0.75 cm in z a step, clipped to the workspace (y 0.2 m, z 0.15 m).
    np.testing.assert_allclose(state.info.grip_target[:, 1:], np.tile([0.2, 0.15], (B, 1)), atol=1e-6)  # clipped
    assert np.all(moved[:, 1] > 0.15) and np.all(moved[:, 2] > 0.03) and np.all(np.abs(moved[:, 0]) < 0.03), moved


def test_nothing_passes_through_the_table_and_the_cube_rests_on_it(pick_place):
    """Random actions pressing down: the fingertips stay on top of the table (within contact
    softness) and the cube never sinks into it."""
    task = pick_place.task
    m = task.mj_model

    def tip_heights(qpos):
        grip, rot = task.grasp_pose(qpos[task.arm_q])
        return grip[2]

    step = pick_place.step
    state = pick_place.reset(jax.random.PRNGKey(3))
    lowest_grip, lowest_cube = 1.0, 1.0
    key = jax.random.PRNGKey(4)
    for t in range(40):
        key, k = jax.random.split(key)
        action = jax.random.uniform(k, (B, 4), minval=-1.0, maxval=1.0).at[:, 2].set(-1.0)
        state = step(state, action)
        lowest_grip = min(lowest_grip, float(jnp.min(jax.vmap(tip_heights)(state.physics.qpos))))
        lowest_cube = min(lowest_cube, float(jnp.min(state.physics.qpos[:, task.object_q + 2])))
    # The grasp point sits 1 mm above the fixed fingertip's centre, a radius above the table at rest.
    print("lowest grasp point", lowest_grip, "lowest cube", lowest_cube)
    assert lowest_grip > FINGERTIP_RADIUS + 0.001 - 0.003, lowest_grip
    assert lowest_cube > 0.8 * task.config.object_half_size - 0.002, lowest_cube
    assert m.geom("table").conaffinity & m.geom("object").contype
    assert m.geom("object").conaffinity & m.geom("fixed_fingertip").contype


def test_scripted_base_picks_and_places_with_dr_off(pick_place):
    """Measured over 64 envs (seed 7), DR off: 64/64 at the last step. Most of 8 must succeed, and a
    held cube must have left the table."""
    env = pick_place.env
    state = pick_place.reset(jax.random.PRNGKey(0))
    highest = np.zeros(B)
    for _ in range(env.episode_length - 1):
        state = pick_place.step(state, pick_place.script(state))
        highest = np.maximum(highest, np.asarray(state.physics.qpos[:, env.task.object_q + 2]))
    assert int(np.sum(np.asarray(state.success))) >= 6, np.asarray(state.metrics["task/dist_to_goal"])
    raised = np.asarray(state.info.goal[:, 2]) > 0.03
    assert np.all(highest[raised] > 0.03)


def test_reach_holds_the_jaws_shut_and_reaches():
    env = _env("so101_reach")
    base = So101ScriptBase(env.task)
    step = jax.jit(jax.vmap(lambda s: env.step(s, base(s))))
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(1), B))
    for _ in range(30):
        state = step(state)
    assert np.all(np.asarray(state.physics.qpos[:, env.task.jaw_q]) < 0.0)  # shut
    assert int(np.sum(np.asarray(state.success))) >= 7


def test_goals_and_cube_sampled_in_range():
    env = _env("so101_pick_place", dr=True)
    c = env.task.config
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(5), 256))
    goal, obj = np.asarray(states.info.goal), np.asarray(states.physics.qpos[:, env.task.object_q:env.task.object_q + 3])
    for xy in (goal[:, :2], obj[:, :2]):
        assert np.all(xy >= np.asarray(c.object_xy_low) - 1e-6) and np.all(xy <= np.asarray(c.object_xy_high) + 1e-6)
    raised = goal[:, 2] > obj[:, 2] + 1e-4
    assert 0.35 < raised.mean() < 0.65  # half of the goals in the air
    assert goal[:, 2].max() <= c.object_half_size * c.max_size_scale + c.air_height_max + 1e-6
    half = np.asarray(states.info.overrides["geom_size"][:, env.task.object_geom, 0])
    assert half.min() < 0.9 * c.object_half_size < 1.1 * c.object_half_size < half.max()  # size DR on


def test_compute_reward_vectorised(pick_place):
    task = pick_place.task
    a, d = jnp.zeros((5, 3)), jnp.array([[0.0, 0.0, x] for x in (0.0, 0.04, 0.049, 0.051, 0.2)])
    np.testing.assert_array_equal(task.compute_reward(a, d), [0, 0, 0, -1, -1])
    np.testing.assert_allclose(task.compute_reward(a, d, sparse=False), -d[:, 2])


@pytest.mark.parametrize("change, words", [
    ({"object_half_size": 0.03}, "object_half_size"),
    ({"air_height_max": 0.3}, "workspace"),
    ({"start": (0.0, 0.0, 0.1)}, "start"),
    ({"jaw_open": 2.0}, "jaw_open"),
    ({"engine": "physx"}, "engine"),
])
def test_config_errors_name_the_field(change, words):
    with pytest.raises(ValueError) as err:
        So101PickPlaceConfig(**change)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_reach_config_has_no_cube():
    env = registry.make("so101_reach", So101ReachConfig(engine="c", num_envs=1))
    assert not env.task.has_object
    assert "object" not in [env.task.mj_model.body(i).name for i in range(env.task.mj_model.nbody)]
