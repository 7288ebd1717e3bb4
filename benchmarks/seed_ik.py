"""The paper task's geometry and scripted IK push in NumPy, for the seed-style env (`seed_env`).

A NumPy port of `mjx_gr00t.kinematics` (forward kinematics of the arm's hinge chain, quaternion
helpers) and `mjx_gr00t.bases.ik` (the scripted edge push with a damped-least-squares step), with
no JAX: what a single-process Gymnasium env computes on the host. Everything is float64; the JAX
versions are float32, so the two agree to float32 rounding, amplified by the DLS solve
(`tests/test_seed_env.py` holds them to a named tolerance). The Jacobian is the hinge chain's
analytic one (JAX differentiates the same features with `jacfwd`).
"""

import dataclasses
import math

import mujoco
import numpy as np

_EYE4 = np.eye(4)
_DOWN = np.array([0.0, 0.0, -1.0])
_LEVI_CIVITA = np.zeros((3, 3, 3))  # cross(a, b)_i = eps_ijk a_j b_k
_LEVI_CIVITA[0, 1, 2] = _LEVI_CIVITA[1, 2, 0] = _LEVI_CIVITA[2, 0, 1] = 1.0
_LEVI_CIVITA[0, 2, 1] = _LEVI_CIVITA[2, 1, 0] = _LEVI_CIVITA[1, 0, 2] = -1.0


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """(4,) quaternion (w, x, y, z), any norm -> (3, 3) rotation matrix."""
    w, x, y, z = (float(v) for v in q)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def mat_to_quat(r: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (4,) unit quaternion (w, x, y, z), w >= 0, with the JAX version's branch
    choice (the candidate with the largest leading term)."""
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = r.tolist()
    sizes = (1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22)
    best = sizes.index(max(sizes))
    if best == 0:
        q = (sizes[0], r21 - r12, r02 - r20, r10 - r01)
    elif best == 1:
        q = (r21 - r12, sizes[1], r01 + r10, r02 + r20)
    elif best == 2:
        q = (r02 - r20, r01 + r10, sizes[2], r12 + r21)
    else:
        q = (r10 - r01, r02 + r20, r12 + r21, sizes[3])
    out = np.array(q) / math.sqrt(sum(v * v for v in q))
    return -out if out[0] < 0 else out


def _skew(v: np.ndarray) -> np.ndarray:
    """(3,) -> (3, 3) with _skew(v) @ w = v x w."""
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def _model_quat_to_mat(q: np.ndarray) -> np.ndarray:
    out = np.zeros(9)
    mujoco.mju_quat2Mat(out, np.asarray(q, np.float64) / np.linalg.norm(q))
    return out.reshape(3, 3)


def _transform(pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """(4, 4) homogeneous transform of a position (3,) and rotation (3, 3)."""
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rot, pos
    return out


@dataclasses.dataclass(frozen=True)
class Chain:
    """Hinge chain from the world to a site, read from an MjModel (root body first), as (4, 4)
    homogeneous transforms. Joint i turns by q_i about its axis through its anchor (Rodrigues):
    J_i(q_i) = I + sin(q_i) K_i + (1 - cos(q_i)) K2_i, translation part included."""

    base: np.ndarray  # (4, 4) world -> parent of the first jointed body
    body: np.ndarray  # (n, 4, 4) each jointed body in its parent
    skew: np.ndarray  # (n, 4, 4) K_i: [axis_i]x, translation -[axis_i]x @ anchor_i
    skew2: np.ndarray  # (n, 4, 4) K2_i: [axis_i]x^2, translation -[axis_i]x^2 @ anchor_i
    joint_axis: np.ndarray  # (n, 3) unit, in the body frame
    joint_pos: np.ndarray  # (n, 3) anchors in the body frame
    site: np.ndarray  # (4, 4) the site in the last body

    @classmethod
    def from_model(cls, m: mujoco.MjModel, joints: tuple[str, ...], site: str) -> "Chain":
        """The chain of hinge `joints` (one per body, root first) ending at `site`."""
        bodies = [int(m.jnt_bodyid[m.joint(j).id]) for j in joints]
        if any(m.jnt_type[m.joint(j).id] != mujoco.mjtJoint.mjJNT_HINGE for j in joints):
            raise ValueError(f"every joint of {joints} must be a hinge")
        if int(m.site_bodyid[m.site(site).id]) != bodies[-1]:
            raise ValueError(f"site {site!r} is not on the last body of the chain")
        above, b = [], int(m.body_parentid[bodies[0]])
        while b != 0:
            above.append(b)
            b = int(m.body_parentid[b])
        base = np.eye(4)
        for b in reversed(above):
            base = base @ _transform(m.body_pos[b], _model_quat_to_mat(m.body_quat[b]))
        axes = np.array([m.jnt_axis[m.joint(j).id] for j in joints])
        axes = axes / np.linalg.norm(axes, axis=1, keepdims=True)
        anchors = np.array([m.jnt_pos[m.joint(j).id] for j in joints])
        skew, skew2 = np.zeros((len(joints), 4, 4)), np.zeros((len(joints), 4, 4))
        for i, (axis, anchor) in enumerate(zip(axes, anchors)):
            k = _skew(axis)
            skew[i, :3, :3], skew[i, :3, 3] = k, -k @ anchor
            skew2[i, :3, :3], skew2[i, :3, 3] = k @ k, -k @ k @ anchor
        sid = m.site(site).id
        return cls(
            base=base, body=np.array([_transform(m.body_pos[b], _model_quat_to_mat(m.body_quat[b])) for b in bodies]),
            skew=skew, skew2=skew2, joint_axis=axes, joint_pos=anchors,
            site=_transform(m.site_pos[sid], _model_quat_to_mat(m.site_quat[sid])),
        )

    def pose(self, q: np.ndarray, jacobian: bool = False
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """q: (n,) joint angles -> site position (3,), rotation (3, 3) and, with `jacobian`, each
        joint's world axis (n, 3) and anchor (n, 3) (else None, None)."""
        s, c = np.sin(q)[:, None, None], np.cos(q)[:, None, None]
        local = self.body @ (_EYE4 + s * self.skew + (1.0 - c) * self.skew2)  # (n, 4, 4) body, then joint
        frames = np.empty_like(local)  # each jointed body in the world, after its joint
        frame = self.base
        for i in range(len(local)):
            frame = frames[i] = frame @ local[i]
        tip = frame @ self.site
        if not jacobian:
            return tip[:3, 3], tip[:3, :3], None, None
        # A joint leaves its own axis and anchor in place, so the frames after it give both.
        rots = frames[:, :3, :3]
        axes = np.einsum("nij,nj->ni", rots, self.joint_axis)
        anchors = np.einsum("nij,nj->ni", rots, self.joint_pos) + frames[:, :3, 3]
        return tip[:3, 3], tip[:3, :3], axes, anchors


@dataclasses.dataclass(frozen=True)
class IKConfig:
    """The scripted push's parameters: the defaults of `mjx_gr00t.bases.ik.IKPushConfig` (a test
    holds every field to it)."""

    hover_height: float = 0.04
    """Tool height above the table while approaching, m."""
    push_height: float = 0.007
    """Tool-point height while pushing, m."""
    standoff: float = 0.01
    """Gap between the tip pad and the sheet's trailing edge before the push, m."""
    lead: float = 0.03
    """How far ahead of the contact point the push target sits, m."""
    align_radius: float = 0.01
    """Horizontal distance below which the tool descends and pushes, m."""
    stop_radius: float = 0.04
    """Paper-to-square distance at which the push stops, m."""
    damping: float = 0.01
    """DLS damping."""
    tilt_weight: float = 0.1
    """Weight of keeping the approach axis vertical, m per unit axis error."""


@dataclasses.dataclass(frozen=True)
class PushGeometry:
    """What the push reads of the scene: square centre (2,), paper half-extents (2,), tip radius
    (m), act_scale (rad) and the gripper's home angle (rad)."""

    square: np.ndarray
    paper_half: np.ndarray
    tip_radius: float
    act_scale: float
    home_gripper: float


class IKPush:
    """The scripted IK push (see `mjx_gr00t.bases.ik`), on host arrays for one env."""

    def __init__(self, chain: Chain, geometry: PushGeometry, config: IKConfig = IKConfig()) -> None:
        self.chain, self.geometry, self.config = chain, geometry, config
        self._damping = config.damping ** 2 * np.eye(6)

    def tool_target(self, tool_pos: np.ndarray, paper_pos: np.ndarray, paper_rot: np.ndarray) -> np.ndarray:
        """Tool position (3,), paper position (3,) and rotation (3, 3) -> the tool's target (3,)."""
        c, g = self.config, self.geometry
        to_goal = g.square - paper_pos[:2]
        dist = math.hypot(to_goal[0], to_goal[1])
        direction = to_goal / max(dist, 1e-6)
        extent = float(np.abs(direction @ paper_rot[:2, :2]) @ g.paper_half)
        contact = paper_pos[:2] - (extent + g.tip_radius + c.standoff) * direction
        gap = math.hypot(tool_pos[0] - contact[0], tool_pos[1] - contact[1])
        low = tool_pos[2] < c.push_height + 0.004
        descend = not low and gap < c.align_radius
        push = low and gap < c.align_radius + c.lead and dist > c.stop_radius
        if push:
            xy = contact + min(c.lead, dist) * direction
        elif low:  # lift off where it is, and start over
            xy = tool_pos[:2]
        else:
            xy = contact
        z = c.push_height if push or descend else c.hover_height
        return np.array([xy[0], xy[1], z])

    def __call__(self, target_q: np.ndarray, tool_pos: np.ndarray, paper_pos: np.ndarray,
                 paper_rot: np.ndarray) -> np.ndarray:
        """Joint targets (6,), tool position (3,) at the joint *positions*, paper pose -> the base
        action (6,) in [-1, 1] (normalised joint deltas; the gripper is driven home)."""
        c, g = self.config, self.geometry
        goal = self.tool_target(tool_pos, paper_pos, paper_rot)
        pos, rot, axes, anchors = self.chain.pose(target_q[:5], jacobian=True)
        approach = rot[:, 0]  # the site's x axis, kept pointing down
        error = np.concatenate([goal - pos, c.tilt_weight * (_DOWN - approach)])
        # (6, n) Jacobian: column i is axis_i x (pos - anchor_i) over tilt_weight * axis_i x approach.
        jac = np.concatenate([np.einsum("ijk,nj,nk->in", _LEVI_CIVITA, axes, pos - anchors),
                              c.tilt_weight * np.einsum("ijk,nj,k->in", _LEVI_CIVITA, axes, approach)])
        dq = jac.T @ np.linalg.solve(jac @ jac.T + self._damping, error)
        out = np.empty(len(dq) + 1)
        out[:-1] = dq / g.act_scale / max(1.0, float(np.abs(dq).max()) / g.act_scale)
        out[-1] = min(1.0, max(-1.0, (g.home_gripper - float(target_q[5])) / g.act_scale))
        return out
