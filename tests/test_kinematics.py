"""mjx_gr00t.kinematics: the JAX serial-chain FK against MuJoCo's, and the quaternion helpers."""

import os

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mjx_gr00t.envs.paper_card import PaperCardConfig, load_model
from mjx_gr00t.envs.paper_rig_config import ARM_JOINTS
from mjx_gr00t.kinematics import SerialChain, mat_to_quat, quat_to_mat

ARM_XML = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "envs_xml", "so101.xml")
N_CONFIGS = 50
# site_pose runs in float32: ~6e-8 relative rounding per operation, accumulated over five joint
# transforms on a 0.4 m arm, lands near 1e-7..1e-6; 1e-5 (m, and unitless for rotation entries)
# leaves headroom while any modelling mistake (a wrong offset, axis or order) is >= 1e-3.
FK_TOL = 1e-5
# float32 quaternion <-> matrix conversions: a few ulps of 1.0, with headroom.
QUAT_TOL = 2e-6
# jit/vmap may fuse and reorder float32 arithmetic, so allow a few ulps against eager execution.
JIT_TOL = 1e-6


def _random_arm_q(m: mujoco.MjModel, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low, high = m.jnt_range[:6, 0], m.jnt_range[:6, 1]
    return rng.uniform(low, high, size=(n, 6))


def _mujoco_site_pose(m: mujoco.MjModel, q: np.ndarray, site: str = "tool"):
    d = mujoco.MjData(m)
    d.qpos[:6] = q
    mujoco.mj_kinematics(m, d)
    return d.site(site).xpos.copy(), d.site(site).xmat.reshape(3, 3).copy()


def _moved_arm_model() -> mujoco.MjModel:
    """so101.xml with the base shifted and rotated, so the chain's fixed prefix is not identity."""
    spec = mujoco.MjSpec.from_file(ARM_XML)
    base = spec.body("base")
    base.pos = [0.3, -0.2, 0.75]
    quat = np.zeros(4)
    mujoco.mju_euler2Quat(quat, np.array([0.2, -0.3, 1.1]), "xyz")
    base.quat = quat
    return spec.compile()


MODELS = {
    "arm": lambda: mujoco.MjModel.from_xml_path(ARM_XML),
    "moved_base": _moved_arm_model,
    "paper_scene": lambda: load_model(PaperCardConfig()),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model_and_chain(request):
    m = MODELS[request.param]()
    return m, SerialChain.from_model(m, list(ARM_JOINTS[:5]), "tool")


def test_site_pose_matches_mujoco_at_random_configurations(model_and_chain):
    m, chain = model_and_chain
    qs = _random_arm_q(m, N_CONFIGS, seed=1)
    pose = jax.jit(chain.site_pose)
    for q in qs:
        pos, rot = pose(jnp.asarray(q[:5], jnp.float32))
        ref_pos, ref_rot = _mujoco_site_pose(m, q)
        assert pos.dtype == jnp.float32 and rot.dtype == jnp.float32
        np.testing.assert_allclose(pos, ref_pos, rtol=0, atol=FK_TOL, err_msg=f"q={q}")
        np.testing.assert_allclose(rot, ref_rot, rtol=0, atol=FK_TOL, err_msg=f"q={q}")


def test_site_pose_under_vmap_and_jit_equals_eager(model_and_chain):
    m, chain = model_and_chain
    qs = jnp.asarray(_random_arm_q(m, N_CONFIGS, seed=2)[:, :5], jnp.float32)
    pos_b, rot_b = jax.jit(jax.vmap(chain.site_pose))(qs)
    assert pos_b.shape == (N_CONFIGS, 3) and rot_b.shape == (N_CONFIGS, 3, 3)
    for i in (0, 17, N_CONFIGS - 1):
        pos, rot = chain.site_pose(qs[i])
        np.testing.assert_allclose(pos_b[i], pos, rtol=0, atol=JIT_TOL)
        np.testing.assert_allclose(rot_b[i], rot, rtol=0, atol=JIT_TOL)


def test_site_pose_is_a_rotation(model_and_chain):
    m, chain = model_and_chain
    qs = jnp.asarray(_random_arm_q(m, N_CONFIGS, seed=3)[:, :5], jnp.float32)
    _, rot = jax.vmap(chain.site_pose)(qs)
    eye = np.broadcast_to(np.eye(3), rot.shape)
    np.testing.assert_allclose(np.einsum("nij,nkj->nik", rot, rot), eye, rtol=0, atol=QUAT_TOL)
    np.testing.assert_allclose(np.linalg.det(np.asarray(rot, np.float64)), 1.0, rtol=0, atol=QUAT_TOL)


def test_from_model_rejects_bad_chains():
    m = load_model(PaperCardConfig())
    with pytest.raises(ValueError, match="not a hinge"):
        SerialChain.from_model(m, ["paper"], "tool")
    with pytest.raises(ValueError, match="not on the last body"):
        SerialChain.from_model(m, list(ARM_JOINTS[:4]), "tool")


# ----- quaternion helpers -----

def _special_quats() -> np.ndarray:
    """Identity, half-turns (w = 0) and near-half-turns about axes and diagonals: every branch."""
    s = np.sqrt(0.5)
    qs = [
        (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1),
        (0, s, s, 0), (0, s, 0, -s), (0, 0, s, s), (0, 0.6, -0.8, 0),
        (1e-4, 1, 0, 0), (-1e-4, 0, 1, 0), (1e-4, 0, 0, -1), (0.5, 0.5, 0.5, 0.5),
        (-0.5, 0.5, -0.5, 0.5), (-1, 0, 0, 0), (s, 0, s, 0), (0.2, -0.1, 0.9, 0.3),
    ]
    return np.array(qs, np.float64)


def _quats(seed: int = 0, n: int = 500) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    q = np.concatenate([q, _special_quats()])
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _mujoco_mat(q: np.ndarray) -> np.ndarray:
    out = np.zeros(9)
    mujoco.mju_quat2Mat(out, q / np.linalg.norm(q))
    return out.reshape(3, 3)


def test_quat_to_mat_matches_mujoco_and_ignores_norm():
    qs = _quats(seed=4)
    mats = jax.jit(jax.vmap(quat_to_mat))(jnp.asarray(qs * 3.7, jnp.float32))  # not unit norm
    ref = np.stack([_mujoco_mat(q) for q in qs])
    np.testing.assert_allclose(mats, ref, rtol=0, atol=QUAT_TOL)


def test_mat_to_quat_round_trip_and_sign():
    qs = _quats(seed=5)
    mats = np.stack([_mujoco_mat(q) for q in qs])
    out = np.asarray(jax.jit(jax.vmap(mat_to_quat))(jnp.asarray(mats, jnp.float32)), np.float64)
    assert out.shape == qs.shape
    assert np.all(out[:, 0] >= 0), "w must be >= 0"
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=0, atol=QUAT_TOL)
    # The same rotation: q and -q are equal rotations, so compare with the w >= 0 representative,
    # and where w is ~0 (both signs valid) up to sign.
    expected = np.where(qs[:, :1] < 0, -qs, qs)
    err = np.minimum(np.abs(out - expected).max(1), np.abs(out + expected).max(1))
    ambiguous = np.abs(qs[:, 0]) < 1e-3
    np.testing.assert_array_less(err, QUAT_TOL * 10)
    np.testing.assert_allclose(out[~ambiguous], expected[~ambiguous], rtol=0, atol=QUAT_TOL * 10)
    # Back to the matrix.
    back = jax.vmap(quat_to_mat)(jnp.asarray(out, jnp.float32))
    np.testing.assert_allclose(back, mats, rtol=0, atol=QUAT_TOL * 2)


def test_mat_to_quat_matches_mujoco():
    mats = np.stack([_mujoco_mat(q) for q in _quats(seed=6, n=100)])
    out = jax.vmap(mat_to_quat)(jnp.asarray(mats, jnp.float32))
    for r, q in zip(mats, np.asarray(out)):
        ref = np.zeros(4)
        mujoco.mju_mat2Quat(ref, r.reshape(-1))
        ref = -ref if ref[0] < 0 else ref
        if abs(ref[0]) < 1e-3:  # sign ambiguous at w ~ 0
            ref = ref * np.sign(ref @ q)
        np.testing.assert_allclose(q, ref, rtol=0, atol=QUAT_TOL * 10)


def test_quaternion_helpers_jit_eager_agree():
    q = jnp.asarray(_quats(seed=7, n=8), jnp.float32)
    for i in range(q.shape[0]):
        m_eager = quat_to_mat(q[i])
        np.testing.assert_allclose(jax.jit(quat_to_mat)(q[i]), m_eager, rtol=0, atol=JIT_TOL)
        np.testing.assert_allclose(jax.jit(mat_to_quat)(m_eager), mat_to_quat(m_eager), rtol=0, atol=JIT_TOL)
