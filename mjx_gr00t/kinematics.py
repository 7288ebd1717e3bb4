"""Forward kinematics of a serial hinge chain in JAX, read from an MjModel.

Engine-independent: observations and the IK base compute the tool pose from `qpos` alone, so the
`c` engine needs to return nothing but positions and velocities.
"""

import dataclasses

import jax
import jax.numpy as jnp
import mujoco
import numpy as np


def quat_to_mat(q: jax.Array) -> jax.Array:
    """(4,) quaternion (w, x, y, z), any norm -> (3, 3) rotation matrix."""
    w, x, y, z = q / jnp.linalg.norm(q)
    return jnp.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def mat_to_quat(r: jax.Array) -> jax.Array:
    """(3, 3) rotation -> (4,) unit quaternion (w, x, y, z) with w >= 0 (robust branch choice)."""
    t = jnp.trace(r)
    candidates = jnp.stack([
        jnp.array([1 + t, r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]),
        jnp.array([r[2, 1] - r[1, 2], 1 + r[0, 0] - r[1, 1] - r[2, 2], r[0, 1] + r[1, 0], r[0, 2] + r[2, 0]]),
        jnp.array([r[0, 2] - r[2, 0], r[0, 1] + r[1, 0], 1 - r[0, 0] + r[1, 1] - r[2, 2], r[1, 2] + r[2, 1]]),
        jnp.array([r[1, 0] - r[0, 1], r[0, 2] + r[2, 0], r[1, 2] + r[2, 1], 1 - r[0, 0] - r[1, 1] + r[2, 2]]),
    ])
    best = jnp.argmax(jnp.array([1 + t, 1 + r[0, 0] - r[1, 1] - r[2, 2],
                                 1 - r[0, 0] + r[1, 1] - r[2, 2], 1 - r[0, 0] - r[1, 1] + r[2, 2]]))
    q = candidates[best]
    q = q / jnp.linalg.norm(q)
    return jnp.where(q[0] < 0, -q, q)


def _axis_angle(axis: jax.Array, angle: jax.Array) -> jax.Array:
    half = 0.5 * angle
    return quat_to_mat(jnp.concatenate([jnp.cos(half)[None], jnp.sin(half) * axis]))


@dataclasses.dataclass(frozen=True)
class SerialChain:
    """Hinge chain from the world to a site, with numpy constants from the MjModel.

    Bodies are listed root first; body i carries hinge joint i (qpos address `qpos_adr[i]`).
    """

    fixed_pos: np.ndarray  # (n_fixed, 3): world -> first jointed body, composed offline
    fixed_rot: np.ndarray  # (3, 3)
    body_pos: np.ndarray  # (n, 3) each jointed body in its parent
    body_rot: np.ndarray  # (n, 3, 3)
    joint_axis: np.ndarray  # (n, 3) in the body frame
    joint_pos: np.ndarray  # (n, 3) in the body frame
    qpos_adr: np.ndarray  # (n,) int
    site_pos: np.ndarray  # (3,) in the last body
    site_rot: np.ndarray  # (3, 3)

    @classmethod
    def from_model(cls, m: mujoco.MjModel, joints: list[str], site: str) -> "SerialChain":
        """The chain of `joints` (root first, one hinge per body) ending at `site`."""
        bodies = [int(m.jnt_bodyid[m.joint(j).id]) for j in joints]
        for j in joints:
            if m.jnt_type[m.joint(j).id] != mujoco.mjtJoint.mjJNT_HINGE:
                raise ValueError(f"joint {j!r} is not a hinge")
        # Compose the fixed bodies above the first jointed body.
        pos, rot = np.zeros(3), np.eye(3)
        chain, b = [], int(m.body_parentid[bodies[0]])
        while b != 0:
            chain.append(b)
            b = int(m.body_parentid[b])
        for b in reversed(chain):
            pos = pos + rot @ m.body_pos[b]
            rot = rot @ _np_quat_to_mat(m.body_quat[b])
        site_id = m.site(site).id
        if int(m.site_bodyid[site_id]) != bodies[-1]:
            raise ValueError(f"site {site!r} is not on the last body of the chain")
        return cls(
            fixed_pos=pos, fixed_rot=rot,
            body_pos=np.array([m.body_pos[b] for b in bodies]),
            body_rot=np.array([_np_quat_to_mat(m.body_quat[b]) for b in bodies]),
            joint_axis=np.array([m.jnt_axis[m.joint(j).id] for j in joints]),
            joint_pos=np.array([m.jnt_pos[m.joint(j).id] for j in joints]),
            qpos_adr=np.array([m.jnt_qposadr[m.joint(j).id] for j in joints]),
            site_pos=np.array(m.site_pos[site_id]),
            site_rot=_np_quat_to_mat(m.site_quat[site_id]),
        )

    def site_pose(self, q: jax.Array) -> tuple[jax.Array, jax.Array]:
        """q: (n,) joint angles -> site position (3,) and rotation (3, 3) in the world frame."""
        pos = jnp.asarray(self.fixed_pos, jnp.float32)
        rot = jnp.asarray(self.fixed_rot, jnp.float32)
        for i in range(len(self.qpos_adr)):
            pos = pos + rot @ self.body_pos[i]
            rot = rot @ self.body_rot[i]
            joint_rot = _axis_angle(jnp.asarray(self.joint_axis[i], jnp.float32), q[i])
            anchor = jnp.asarray(self.joint_pos[i], jnp.float32)
            pos = pos + rot @ (anchor - joint_rot @ anchor)
            rot = rot @ joint_rot
        return pos + rot @ self.site_pos, rot @ self.site_rot


def _np_quat_to_mat(q: np.ndarray) -> np.ndarray:
    out = np.zeros(9)
    mujoco.mju_quat2Mat(out, np.asarray(q, np.float64) / np.linalg.norm(q))
    return out.reshape(3, 3)
