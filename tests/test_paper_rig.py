"""The paper rig's twin (scene paper_square): parts, geometry, observation modes, servos, success."""

import dataclasses
import math

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mjx_gr00t import randomize
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_rig import PaperRigTask, PRIVILEGED_LAYOUT, ROBOT_CRITIC_ONLY
from mjx_gr00t.envs.paper_rig_config import FINGERTIPS, PaperRigConfig, RigDRConfig, load_model

TICK = 2 * math.pi / 4096


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return load_model(PaperRigConfig(engine="c"))


def _pairs(m: mujoco.MjModel, d: mujoco.MjData) -> set[frozenset[str]]:
    return {frozenset((m.geom(c.geom1).name, m.geom(c.geom2).name)) for c in d.contact[:d.ncon]}


def test_only_real_parts_touch_and_no_pad_passes_through_the_table(model):
    m = model
    names = {m.geom(i).name for i in range(m.ngeom)}
    assert "tool_tip" not in names
    for name in FINGERTIPS:
        g = m.geom(name)
        assert g.type[0] == mujoco.mjtGeom.mjGEOM_SPHERE and math.isclose(g.size[0], 0.008)
        assert math.isclose(g.friction[0], 2.0)
    gid = lambda g: g if isinstance(g, int) else m.geom(g).id  # noqa: E731

    def touches(a, b) -> bool:
        a, b = gid(a), gid(b)
        return bool(m.geom_contype[a] & m.geom_conaffinity[b]) or bool(m.geom_contype[b] & m.geom_conaffinity[a])

    for part in (*FINGERTIPS, "fixed_finger", "moving_finger"):
        assert touches(part, "table") and touches(part, "paper"), part
    assert touches("paper", "table")
    # The other links touch nothing.
    parts = {gid(n) for n in (*FINGERTIPS, "fixed_finger", "moving_finger", "paper")}
    for i in range(m.ngeom):
        if m.geom_bodyid[i] != 0 and i not in parts:
            assert not touches(i, "table") and not touches(i, "paper"), m.geom(i).name or i
    # Pressed down onto the bare table, the fingertip stops on it (it is not filtered out).
    d = mujoco.MjData(m)
    d.qpos[:6] = PaperRigConfig().home_qpos
    d.qpos[6:9] = [0.3, 0.35, 0.00025]
    mujoco.mj_forward(m, d)
    lift = d.geom("fixed_fingertip").xpos[2] - 0.008 + 0.001
    m2 = load_model(PaperRigConfig(engine="c", base_pos=(0.05, -0.029, 0.02 - lift)))
    d2 = mujoco.MjData(m2)
    d2.qpos[:] = d.qpos
    mujoco.mj_forward(m2, d2)
    assert frozenset(("fixed_fingertip", "table")) in _pairs(m2, d2)


def test_rig_geometry_is_the_reference_rig(model):
    m, c = model, PaperRigConfig()
    hx, hy, hz = m.geom("paper").size
    assert (round(2 * hx, 4), round(2 * hy, 4)) == (0.21, 0.148) and 2 * hz <= 0.0005 + 1e-9
    assert math.isclose(m.body("paper").mass[0], 0.005, rel_tol=1e-6)
    assert math.isclose(m.geom("table").friction[0], 0.20) and math.isclose(m.geom("paper").friction[0], 0.15)
    np.testing.assert_allclose(m.body("base").pos, (0.050, -0.029, 0.02), atol=1e-9)
    np.testing.assert_allclose(m.body("base").quat, (math.cos(math.pi / 8), 0, 0, math.sin(math.pi / 8)), atol=1e-6)
    # The tape: outer edge 250 x 188 mm, inner edge 210 x 148 mm, centred on (0.275, 0.175).
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    xs = [d.geom(f"tape_{s}").xpos[0] + sign * m.geom(f"tape_{s}").size[0] for s in ("px", "nx") for sign in (-1, 1)]
    ys = [d.geom(f"tape_{s}").xpos[1] + sign * m.geom(f"tape_{s}").size[1] for s in ("py", "ny") for sign in (-1, 1)]
    np.testing.assert_allclose(sorted(xs), [0.15, 0.17, 0.38, 0.40], atol=1e-9)
    np.testing.assert_allclose(sorted(ys), [0.081, 0.101, 0.249, 0.269], atol=1e-9)
    assert c.success_half == pytest.approx((0.125, 0.094)) and c.strict_half == pytest.approx((0.115, 0.084))
    # Cameras: front over the frame's centre at 0.4 m; the wrist camera at the rig's mount.
    np.testing.assert_allclose(d.cam("front").xpos, (0.275, 0.175, 0.4), atol=1e-9)
    np.testing.assert_allclose(m.cam("wrist").pos, (0.0024, 0.0609, 0.0054), atol=1e-9)
    assert m.cam("front").fovy[0] == 90 and m.cam("wrist").fovy[0] == 75
    np.testing.assert_allclose(m.jnt_range[m.joint("wrist_roll").id], (-2.7438473, 2.8412), atol=1e-6)
    np.testing.assert_allclose(m.actuator_ctrlrange[m.actuator("wrist_roll").id], (-2.7438473, 2.8412), atol=1e-6)
    np.testing.assert_allclose(m.site("tool").pos, (-0.0079, -0.000218, -0.0981), atol=1e-9)


@pytest.mark.parametrize(("change", "message"), [
    ({"obs_mode": "camera"}, "unknown observation mode 'camera'"),
    ({"paper_thickness": 0.003}, "paper_thickness must be in"),
    ({"dr": None}, None),
])
def test_bad_config_is_one_clear_line(change, message):
    if message is None:
        with pytest.raises(ValueError, match="cannot be negative"):
            RigDRConfig(latency=randomize.Factor(-1.0, 2.0))
        with pytest.raises(ValueError, match="must stay > 0"):
            RigDRConfig(friction=randomize.Factor(0.0, 1.2))
        with pytest.raises(ValueError, match="at most 4 policy steps"):
            RigDRConfig(estimate_delay=randomize.Factor(0.0, 9.0))
        return
    with pytest.raises(ValueError, match=message):
        PaperRigConfig(**change)


def _task(**kw) -> PaperRigTask:
    return PaperRigTask(PaperRigConfig(engine="c", num_envs=1, **kw))


def test_robot_mode_reads_only_what_a_robot_has():
    task = _task(dr=RigDRConfig.off())
    spec = task.spec
    assert spec.observation_size == 58 and spec.actor_observation_size == 31
    assert set(spec.critic_only) == set(ROBOT_CRITIC_ONLY)
    state = task.reset(jax.random.PRNGKey(0))
    obs = np.asarray(state.obs)
    joints = obs[spec.obs_slice("joint_pos")]
    np.testing.assert_allclose(joints / TICK, np.round(joints / TICK), atol=1e-3)  # whole servo ticks
    np.testing.assert_allclose(joints, obs[spec.obs_slice("true_joint_pos")], atol=TICK / 2 + 1e-6)
    # With the noise model off, the estimate is the true pose: centre, yaw as (cos 2y, sin 2y), corners.
    np.testing.assert_allclose(obs[spec.obs_slice("paper_xy_est")], np.asarray(PaperRigConfig().paper_start) - (0.275, 0.175),
                               atol=1e-6)
    np.testing.assert_allclose(obs[spec.obs_slice("paper_yaw_est")], (1.0, 0.0), atol=1e-6)
    np.testing.assert_allclose(obs[spec.obs_slice("paper_corners_est")], obs[spec.obs_slice("true_paper_corners")], atol=1e-6)
    # The tool pose is in the arm's base frame: its height is measured from the base (0.02 above the table).
    tool_table, _ = task.tool_pose(state.physics.qpos)
    assert math.isclose(float(obs[spec.obs_slice("tool_pos_base")][2]), float(tool_table[2]) - 0.02, abs_tol=2e-3)
    velocity = obs[spec.obs_slice("joint_vel")]
    np.testing.assert_array_equal(velocity, 0.0)


def test_privileged_mode_is_the_exact_state_for_the_actor():
    task = _task(obs_mode="privileged")
    assert task.spec.obs_layout == PRIVILEGED_LAYOUT and task.spec.critic_only == ()
    assert task.spec.actor_observation_size == task.observation_size == 34


def test_success_needs_every_corner_inside_the_tapes_outer_edge():
    task = _task(obs_mode="privileged", dr=RigDRConfig.off())
    state = task.reset(jax.random.PRNGKey(0))

    def place(x, y, yaw):
        qpos = state.physics.qpos.at[6:9].set(jnp.array([x, y, 0.00025]))
        qpos = qpos.at[9:13].set(jnp.array([math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)]))
        _, metrics, success, _ = task._observe(state.physics._replace(qpos=qpos), state.info)
        return float(success), float(metrics["task/success_strict"])

    assert place(0.275, 0.175, 0.0) == (1.0, 1.0)
    assert place(0.275 + 0.015, 0.175, 0.0) == (1.0, 0.0)  # inside the outer edge, not the centre line
    assert place(0.275 + 0.025, 0.175, 0.0) == (0.0, 0.0)
    assert place(0.275, 0.175, math.pi) == (1.0, 1.0)  # half a turn is the same sheet
    assert place(0.275, 0.175, 0.3) == (0.0, 0.0)


def test_servo_latency_and_backlash_shape_what_the_servos_hold():
    dr = dataclasses.replace(RigDRConfig.off(), latency=randomize.Factor(2.0, 2.0))
    task = _task(dr=dr, servo_ticks_per_rev=0)
    state = task.reset(jax.random.PRNGKey(0))
    home = np.asarray(state.info.applied)
    action = jnp.array([1.0, 0, 0, 0, 0, 0])
    held = []
    for _ in range(3):
        state = task.step(state, action)
        held.append(float(state.info.applied[0] - home[0]))
    np.testing.assert_allclose(held, [0.0, 0.0, 0.02], atol=1e-6)  # two policy steps late
    dr = dataclasses.replace(RigDRConfig.off(), backlash=randomize.Factor(0.01, 0.01))
    task = _task(dr=dr, servo_ticks_per_rev=0)
    state = task.step(task.reset(jax.random.PRNGKey(0)), jnp.array([0.25, 0, 0, 0, 0, 0]))
    assert float(state.info.applied[0] - home[0]) == pytest.approx(0.0, abs=1e-7)  # 5 mrad < the 10 mrad band


def test_camera_in_the_loop_sees_the_sheet_where_it_is():
    """perception='camera': the robot observation's estimate comes from the rendered top camera and
    the estimator (one frame per step), within a centimetre of the true pose; each batch of frames is
    reported to whoever listens."""
    from mjx_gr00t.render import RenderBackendError

    try:
        task = _task(perception="camera", dr=RigDRConfig.off())
    except RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")
    spec = task.spec
    state = jax.block_until_ready(task.reset(jax.random.PRNGKey(0)))
    assert task.camera_perception.frames == 0  # a reset's first estimate is the noise model's: no frame
    step = jax.jit(task.step)
    state = step(state, jnp.zeros(6))
    before, reported = task.camera_perception.frames, []
    task.camera_perception.on_frames = reported.append  # what train.evaluate's progress bar hears
    state = jax.block_until_ready(step(state, jnp.zeros(6)))
    assert task.camera_perception.frames == before + 1 and reported == [1]  # one frame per env and step
    assert _task().camera_perception is None
    obs = np.asarray(state.obs)
    seen, true = obs[spec.obs_slice("paper_xy_est")], obs[spec.obs_slice("true_paper_pos")][:2]
    assert np.linalg.norm(seen - true) < 0.01
    np.testing.assert_allclose(obs[spec.obs_slice("paper_yaw_est")], (1.0, 0.0), atol=0.04)  # yaw within 0.02 rad
    with pytest.raises(ValueError, match="needs obs_mode='robot'"):
        PaperRigConfig(perception="camera", obs_mode="privileged")
