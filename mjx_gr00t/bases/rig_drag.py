"""A scripted drag of the sheet with a damped-least-squares (Jacobian) IK controller, in JAX.

It reads only what the actor reads (`PaperRigTask.base_inputs`: joint readings, and the sheet's
centre and yaw modulo 180 degrees, estimated in `robot` mode), plus the commands it sent itself,
and it keeps no hidden phase, so it is pure and vmappable:
- the drag point sits on the sheet's long axis, `grip_offset` ahead of its centre towards the frame;
- high up, the tool hovers over the drag point, and descends once within `align_radius`;
- low down, the fixed jaw's rubber fingertip presses the sheet `press_depth` into the table (by its
  command; the servo's stiffness sets the force) and drags it: the pressed fingertip carries the
  sheet, so it aims to move by the sheet centre's remaining error (at most `lead` ahead); should it
  come within `edge_margin` of the sheet's edge, it lifts and starts over;
- once the sheet's centre is within `stop_radius` of the frame's it lifts off.
Orientation: the tool's approach axis is kept pointing down (weight `tilt_weight`).

DLS step: dq = J^T (J J^T + damping^2 I)^-1 e, linearised at the joint *commands*, so pressing
does not wind up; the step is shrunk to the action limit, keeping its direction. It returns the
normalised joint deltas the residual uses ((6,) in [-1, 1], 1 = act_scale rad); the gripper is held
closed at its home position.

It is a decent but imperfect base: it translates the sheet and leaves its yaw to the trailing drag,
stopping `stop_radius` short; measured success: `python -m benchmarks.ik_base`.
"""

import dataclasses

import jax
import jax.numpy as jnp

from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.paper_rig import PaperRigTask

FINGERTIP_BELOW_TOOL: float = 0.0069
"""How far the fixed jaw's fingertip centre sits below the tool point along the approach axis, m
(so101.xml: -0.1050 vs -0.0981 in the gripper body)."""


@dataclasses.dataclass(frozen=True)
class RigDragConfig:
    """Parameters of the scripted drag."""

    hover_height: float = 0.04
    """Tool-point height over the table while moving to the drag point, m."""
    press_depth: float = 0.005
    """How far below the sheet's top the fingertip is commanded while dragging, m. The servos are
    soft (kp 17.8 N m/rad), so the fingertip stops near the sheet and this sets the press force:
    at 4 mm the sheet slipped under the fingertip and turned ~0.1 rad on the way, and 1 to 3 of 64
    nominal drags ran out of time; at 5 mm 192 of 192 landed (tests/test_evaluation.py). (6 mm
    landed too, faster, but the residual trained on it reached 73.8 % rather than 85 %+.)"""
    grip_offset: float = 0.05
    """Drag point: this far from the sheet's centre along its long axis, towards the frame, m."""
    lead: float = 0.03
    """How far ahead of the drag point the target sits, m."""
    align_radius: float = 0.01
    """Horizontal distance to the drag point below which the tool descends, m."""
    edge_margin: float = 0.01
    """The drag goes on while the fingertip is this far inside the sheet's edges, m."""
    stop_radius: float = 0.01
    """Sheet-to-frame-centre distance at which the drag stops, m."""
    damping: float = 0.01
    """DLS damping."""
    tilt_weight: float = 0.1
    """Weight of keeping the approach axis vertical, m per unit axis error."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"RigDragConfig.{f.name} must be >= 0, got {getattr(self, f.name)}")


class RigDragBase:
    """The scripted IK drag for `PaperRigTask`; call it on one env's state."""

    name = "ik"

    def __init__(self, task: PaperRigTask, config: RigDragConfig = RigDragConfig()) -> None:
        self.task = task
        self.config = config
        sheet_top = 2.0 * task.paper_z
        self.press_z = sheet_top + task.tip_radius + FINGERTIP_BELOW_TOOL - config.press_depth

    def tool_target(self, state: State) -> jax.Array:
        """The tool's position target (3,), table frame, from the script."""
        c, task = self.config, self.task
        joints, centre, yaw = task.base_inputs(state)
        tool, _ = task.tool_pose(joints)
        to_goal = task.frame - centre
        dist = jnp.linalg.norm(to_goal)
        direction = to_goal / jnp.maximum(dist, 1e-6)
        axis = jnp.stack([jnp.cos(yaw), jnp.sin(yaw)])
        axis = jnp.where(axis @ direction < 0, -axis, axis)
        grip = centre + c.grip_offset * axis
        # Where the fingertip is on the sheet, in the sheet's frame: dragging only while it is well inside.
        local = jnp.array([[axis[0], axis[1]], [-axis[1], axis[0]]]) @ (tool[:2] - centre)
        on_sheet = jnp.all(jnp.abs(local) < jnp.asarray(task.paper_half) - c.edge_margin)
        low = tool[2] < self.press_z + 0.008
        working = dist > c.stop_radius
        descend = (~low) & (jnp.linalg.norm(tool[:2] - grip) < c.align_radius) & working
        drag = low & on_sheet & working
        lift = low & ~drag
        # Dragging: the pressed fingertip carries the sheet, so it moves by the sheet's remaining error.
        drag_xy = tool[:2] + jnp.minimum(c.lead, dist) * direction
        xy = jnp.where(drag, drag_xy, jnp.where(lift, tool[:2], grip))
        z = jnp.where(drag | descend, self.press_z, c.hover_height)
        return jnp.concatenate([xy, z[None]])

    def __call__(self, state: State) -> jax.Array:
        """state: one env -> (6,) normalised joint deltas in [-1, 1]."""
        return self.joint_step(state, self.tool_target(state))

    def joint_step(self, state: State, goal: jax.Array) -> jax.Array:
        """The DLS step towards tool position `goal` (3,), approach axis down, gripper held at home:
        (6,) normalised joint deltas in [-1, 1]."""
        c, task = self.config, self.task
        q_target = state.info.ctrl_target

        def features(q5: jax.Array) -> jax.Array:
            pos, rot = task.chain.site_pose(q5)
            return jnp.concatenate([pos, c.tilt_weight * rot[:, 0]])  # site x = approach axis

        q5 = q_target[:5]
        error = jnp.concatenate([goal, c.tilt_weight * jnp.array([0.0, 0.0, -1.0])]) - features(q5)
        jac = jax.jacfwd(features)(q5)  # (6, 5)
        dq = jac.T @ jnp.linalg.solve(jac @ jac.T + (c.damping ** 2) * jnp.eye(6), error)
        scale = task.spec.action_scale
        arm = dq / scale / jnp.maximum(1.0, jnp.max(jnp.abs(dq)) / scale)
        grip = jnp.clip((task.config.home_qpos[5] - q_target[5]) / scale, -1.0, 1.0)
        return jnp.concatenate([arm, grip[None]]).astype(jnp.float32)
