"""The SO-101 MJCF against shared/reference/so101.md, and the collision bits of the paper scene.

Plain MuJoCo (C, float64) only: no JAX compiles, so the whole file runs in about a second.
"""

import os

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import mujoco
import numpy as np
import pytest

from mjx_gr00t.envs.paper_card import PaperCardConfig, load_model
from mjx_gr00t.envs.paper_rig_config import ARM_JOINTS

XML_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "envs_xml")
ARM_XML = os.path.join(XML_DIR, "so101.xml")

# The reference quotes the tool point to 3 decimals (+-0.5 mm rounding); 2 mm leaves room for that
# rounding while still catching a wrong offset, axis sign or joint order (each moves it by cm).
FK_TOL_M = 2e-3
# Values copied from the reference into the XML: they must survive compilation to float precision.
EXACT_TOL = 1e-9
# Full inertias are rebuilt from MuJoCo's principal axes (an eigen-decomposition): relative error.
INERTIA_RTOL = 1e-6
# Settling test: the sheet must sit on the table to within half a millimetre of its half-thickness
# (it starts 0.5 mm into the table in the keyframe; soft contacts leave ~1e-5 m of penetration).
PAPER_REST_TOL_M = 5e-4

# (name, range) in qpos order, from the reference's chain table.
REF_JOINTS = (
    ("shoulder_pan", (-1.91986, 1.91986)),
    ("shoulder_lift", (-1.7453293, 1.7453293)),
    ("elbow_flex", (-1.69, 1.69)),
    ("wrist_flex", (-1.658063, 1.658063)),
    ("wrist_roll", (-2.7438473, 2.7438473)),
    ("gripper", (-0.174533, 1.7453292)),
)
REF_CTRLRANGE_WRIST_ROLL = (-2.74385, 2.84121)
REF_MASS = {
    "base": 0.147, "shoulder": 0.100006, "upper_arm": 0.103, "lower_arm": 0.104,
    "wrist": 0.079, "gripper": 0.087, "moving_jaw": 0.012,
}
REF_COM = {
    "base": (0.0137179, -5.19711e-05, 0.0334843),
    "shoulder": (-0.0307604, -1.7e-05, -0.0252713),
    "upper_arm": (-0.089847, -0.008382, 0.018409),
    "lower_arm": (-0.098070, 0.0032438, 0.018283),
    "wrist": (-0.000103312, -0.0386143, 0.0281156),
    "gripper": (0.000214, 0.000245, -0.025187),
    "moving_jaw": (-0.001575, -0.0300244, 0.0192755),
}
# Ixx Iyy Izz Ixy Ixz Iyz
REF_INERTIA = {
    "base": (1.14686e-4, 1.36117e-4, 1.30364e-4, -4.59787e-7, 4.97151e-6, 9.75275e-8),
    "shoulder": (8.3759e-5, 8.10403e-5, 2.39783e-5, 7.55525e-8, -1.16342e-6, 1.54663e-7),
    "upper_arm": (4.08002e-5, 1.47318e-4, 1.42487e-4, -1.97819e-5, -4.03016e-8, 8.97326e-9),
    "lower_arm": (2.87438e-5, 1.59844e-4, 1.4529e-4, 7.41152e-6, 1.26409e-6, -4.90188e-8),
    "wrist": (3.68263e-5, 2.5391e-5, 2.1e-5, 1.7893e-8, -5.28128e-8, 3.6412e-6),
    "gripper": (2.75087e-5, 4.33657e-5, 3.45059e-5, -3.35241e-7, -5.7352e-6, -5.17847e-8),
    "moving_jaw": (6.61427e-6, 1.89032e-6, 5.28738e-6, -3.19807e-7, -5.90717e-9, -1.09945e-7),
}
KP, KV, FORCE_LIMIT = 998.22, 2.731, 2.94
DAMPING, ARMATURE = 0.60, 0.028

# Arm poses (shoulder_pan .. gripper) with the tool-tip capsule vertical at x ~ 0.2 m, y ~ -0.001 m:
# capsule bottom ~1 mm above the table, and ~4 mm below it.
TIP_1MM_ABOVE_TABLE = (0.0, -0.254, 0.769, 1.056, 0.0, 0.0)
TIP_4MM_BELOW_TABLE = (0.0, -0.231, 0.788, 1.014, 0.0, 0.0)


@pytest.fixture(scope="module")
def arm() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(ARM_XML)


@pytest.fixture(scope="module")
def scene() -> mujoco.MjModel:
    return load_model(PaperCardConfig())


def _tool_pos(m: mujoco.MjModel, q) -> np.ndarray:
    d = mujoco.MjData(m)
    d.qpos[:6] = q
    mujoco.mj_kinematics(m, d)
    return d.site("tool").xpos.copy()


@pytest.mark.parametrize(
    "q, expected",
    [
        ((0, 0, 0, 0, 0, 0), (0.391, -0.001, 0.246)),
        ((0, -np.pi / 2, np.pi / 2, 0.66, 0, 0), (0.225, -0.001, 0.062)),
    ],
    ids=["zero", "folded"],
)
def test_tool_point_forward_kinematics_matches_reference(arm, q, expected):
    np.testing.assert_allclose(_tool_pos(arm, q), expected, rtol=0, atol=FK_TOL_M)


def test_gripper_joint_does_not_move_the_tool_point(arm):
    # The tool site is on the fixed jaw: the chain the env's kinematics uses is the first 5 joints.
    np.testing.assert_array_equal(_tool_pos(arm, (0.1, 0.2, 0.3, 0.4, 0.5, 0.0)),
                                  _tool_pos(arm, (0.1, 0.2, 0.3, 0.4, 0.5, 1.2)))


def test_joints_names_order_ranges_and_dynamics(arm):
    assert arm.njnt == len(REF_JOINTS) and arm.nq == len(REF_JOINTS)
    assert tuple(ARM_JOINTS) == tuple(name for name, _ in REF_JOINTS)
    for i, (name, rng) in enumerate(REF_JOINTS):
        j = arm.joint(name)
        assert j.id == i and int(arm.jnt_qposadr[j.id]) == i, name
        assert arm.jnt_type[j.id] == mujoco.mjtJoint.mjJNT_HINGE, name
        np.testing.assert_array_equal(arm.jnt_axis[j.id], (0, 0, 1), err_msg=name)
        assert arm.jnt_limited[j.id], name
        np.testing.assert_allclose(arm.jnt_range[j.id], rng, rtol=0, atol=EXACT_TOL, err_msg=name)
        np.testing.assert_allclose(arm.dof_damping[j.id], DAMPING, rtol=0, atol=EXACT_TOL)
        np.testing.assert_allclose(arm.dof_armature[j.id], ARMATURE, rtol=0, atol=EXACT_TOL)


def test_six_position_servos_match_the_sts3215(arm):
    assert arm.nu == 6
    for i, (name, rng) in enumerate(REF_JOINTS):
        a = arm.actuator(name)
        assert a.id == i, name
        assert arm.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_JOINT
        assert arm.actuator_trnid[i, 0] == arm.joint(name).id, name
        assert arm.actuator_gaintype[i] == mujoco.mjtGain.mjGAIN_FIXED
        assert arm.actuator_biastype[i] == mujoco.mjtBias.mjBIAS_AFFINE
        assert arm.actuator_dyntype[i] == mujoco.mjtDyn.mjDYN_NONE
        np.testing.assert_allclose(arm.actuator_gainprm[i, 0], KP, rtol=0, atol=EXACT_TOL)
        np.testing.assert_allclose(arm.actuator_biasprm[i, :3], (0.0, -KP, -KV), rtol=0, atol=EXACT_TOL)
        assert arm.actuator_forcelimited[i], name
        np.testing.assert_allclose(arm.actuator_forcerange[i], (-FORCE_LIMIT, FORCE_LIMIT), rtol=0,
                                   atol=EXACT_TOL)
        assert arm.actuator_ctrllimited[i], name
        expected = REF_CTRLRANGE_WRIST_ROLL if name == "wrist_roll" else rng
        np.testing.assert_allclose(arm.actuator_ctrlrange[i], expected, rtol=0, atol=EXACT_TOL)


@pytest.mark.parametrize("body", sorted(REF_MASS))
def test_body_inertial_properties_match_reference(arm, body):
    b = arm.body(body).id
    np.testing.assert_allclose(arm.body_mass[b], REF_MASS[body], rtol=0, atol=EXACT_TOL)
    np.testing.assert_allclose(arm.body_ipos[b], REF_COM[body], rtol=0, atol=EXACT_TOL)
    # Rebuild the full inertia from MuJoCo's principal frame: R diag(I) R^T.
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, arm.body_iquat[b])
    rot = rot.reshape(3, 3)
    full = rot @ np.diag(arm.body_inertia[b]) @ rot.T
    ixx, iyy, izz, ixy, ixz, iyz = REF_INERTIA[body]
    ref = np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]])
    np.testing.assert_allclose(full, ref, rtol=0, atol=INERTIA_RTOL * np.abs(ref).max())


def test_total_arm_mass(arm):
    np.testing.assert_allclose(arm.body_mass.sum(), sum(REF_MASS.values()), rtol=0, atol=EXACT_TOL)


def test_wrist_camera(arm):
    cam = arm.cam("wrist")
    assert arm.cam_bodyid[cam.id] == arm.body("gripper").id
    np.testing.assert_allclose(cam.pos, (0.0, 0.055, -0.045), rtol=0, atol=EXACT_TOL)
    expected = np.zeros(4)
    mujoco.mju_euler2Quat(expected, np.array([-0.57, 0.0, 0.0]), "xyz")
    np.testing.assert_allclose(cam.quat, expected, rtol=0, atol=1e-12)
    # "about 75 degrees" in the reference.
    np.testing.assert_allclose(cam.fovy, 75.0, rtol=0, atol=EXACT_TOL)


def test_scene_top_camera_front(scene):
    cam = scene.cam("front")
    assert scene.cam_bodyid[cam.id] == 0  # fixed in the world
    np.testing.assert_allclose(cam.pos, (0.275, 0.175, 0.4), rtol=0, atol=EXACT_TOL)
    np.testing.assert_allclose(cam.fovy, 90.0, rtol=0, atol=EXACT_TOL)
    d = mujoco.MjData(scene)
    mujoco.mj_forward(scene, d)  # camera poses come from mj_camlight, not mj_kinematics
    rot = d.cam("front").xmat.reshape(3, 3)  # columns: camera x, y, z in the world
    # Looking straight down (MuJoCo cameras look along -z), rotated 90 degrees clockwise about the
    # optical axis seen from above: image right is world -y, image up is world +x.
    np.testing.assert_allclose(rot[:, 2], (0, 0, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(rot[:, 0], (0, -1, 0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(rot[:, 1], (1, 0, 0), rtol=0, atol=1e-12)
    # The scene keeps the arm's wrist camera.
    assert scene.cam_bodyid[scene.cam("wrist").id] == scene.body("gripper").id


# ----- collision bits in the paper scene -----

def _contact_pairs(m: mujoco.MjModel, d: mujoco.MjData) -> set[frozenset[str]]:
    return {frozenset((m.geom(c.geom1).name, m.geom(c.geom2).name)) for c in d.contact[:d.ncon]}


def _tip_lowest_z(m: mujoco.MjModel, d: mujoco.MjData) -> float:
    g = m.geom("tool_tip").id
    axis = d.geom_xmat[g].reshape(3, 3)[:, 2]
    radius, half_length = m.geom_size[g][:2]
    return float(d.geom_xpos[g][2] - abs(axis[2]) * half_length - radius)


def _scene_data(m: mujoco.MjModel, arm_q, paper_xyz) -> mujoco.MjData:
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    d.qpos[:6] = arm_q
    d.ctrl[:] = arm_q
    paper = int(m.jnt_qposadr[m.joint("paper").id])
    d.qpos[paper:paper + 3] = paper_xyz
    mujoco.mj_forward(m, d)
    return d


def test_tool_tip_contacts_the_paper(scene):
    m = scene
    d = _scene_data(m, TIP_1MM_ABOVE_TABLE, (0.0, 0.0, 0.0))
    tip_xy = d.geom("tool_tip").xpos[:2].copy()
    d = _scene_data(m, TIP_1MM_ABOVE_TABLE, (*tip_xy, m.geom("paper").size[2]))
    paper_top = 2 * m.geom("paper").size[2]
    assert 0 < _tip_lowest_z(m, d) < paper_top  # precondition: the pad dips into the sheet
    for _ in range(3):  # simulate a few steps: the contact persists
        assert frozenset(("tool_tip", "paper")) in _contact_pairs(m, d)
        mujoco.mj_step(m, d)
    mujoco.mj_forward(m, d)
    assert frozenset(("tool_tip", "paper")) in _contact_pairs(m, d)


def test_fingers_and_links_never_touch_the_paper(scene):
    m = scene
    paper = m.geom("paper").id
    for g in range(m.ngeom):
        if g == paper or m.geom_bodyid[g] == m.body("paper").id:
            continue
        body = m.body(m.geom_bodyid[g]).name
        if body in REF_MASS and m.geom(g).name != "tool_tip":
            touches = (m.geom_contype[g] & m.geom_conaffinity[paper]) or (
                m.geom_contype[paper] & m.geom_conaffinity[g])
            assert not touches, f"arm geom {g} ({m.geom(g).name!r} on {body}) collides with the paper"


def test_tool_tip_never_contacts_the_table(scene):
    """The pad must sweep along the table (see the comments in so101.xml and the scene)."""
    m = scene
    d = _scene_data(m, TIP_4MM_BELOW_TABLE, (0.45, 0.4, m.geom("paper").size[2]))  # paper out of reach
    assert _tip_lowest_z(m, d) < -0.003  # precondition: the pad is well below the table plane
    for _ in range(5):
        assert frozenset(("tool_tip", "table")) not in _contact_pairs(m, d)
        mujoco.mj_step(m, d)


def test_paper_rests_on_the_table(scene):
    m = scene
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    paper = int(m.jnt_qposadr[m.joint("paper").id])
    half_thickness = m.geom("paper").size[2]
    steps = round(0.5 / m.opt.timestep)
    z = np.empty(steps)
    for i in range(steps):
        mujoco.mj_step(m, d)
        z[i] = d.qpos[paper + 2]
    assert np.all(np.isfinite(z))
    # Settled for the second half of the 0.5 s.
    np.testing.assert_allclose(z[steps // 2:], half_thickness, rtol=0, atol=PAPER_REST_TOL_M)
    # It did not drift or tip over on the way.
    np.testing.assert_allclose(d.qpos[paper:paper + 2], m.key("home").qpos[paper:paper + 2], atol=1e-4)
    np.testing.assert_allclose(np.abs(d.qpos[paper + 3]), 1.0, atol=1e-6)
    assert frozenset(("table", "paper")) in _contact_pairs(m, d)
