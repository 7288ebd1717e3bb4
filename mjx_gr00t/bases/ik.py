"""The card scene's (`paper_card`) scripted push with a damped-least-squares (Jacobian) IK controller,
in JAX. The paper task itself, the rig's twin, has a fingertip drag instead (bases/rig_drag.py).

The script, from the env state alone (no hidden phase, so it is pure and vmappable):
- the contact point sits just behind the sheet's trailing edge (seen from the square), found
  from the sheet's pose;
- high up, the tool hovers over the contact point, and descends onto it once within
  `align_radius` (horizontally);
- low down, its tip pad pushes the edge towards the square's centre, aiming `lead` ahead of the
  contact point; if the contact point falls out of reach (the sheet slid or turned), it lifts
  off and starts over.
Orientation: the tool's approach axis is kept pointing down (weight `tilt_weight`).

DLS step: dq = J^T (J J^T + damping^2 I)^-1 e, linearised at the current joint *targets*, so
pressing does not wind up; the whole step is shrunk to the action limit, keeping its direction. It returns the same normalised joint deltas the residual uses
((6,) in [-1, 1], 1 = act_scale rad); the gripper is held at its home position.

It is a decent but imperfect base: it pushes through the edge's midpoint without steering the
sheet's yaw, and it stops cautiously, `stop_radius` (4 cm) short of the square's centre, where
a turned sheet often still has a corner outside. Measured with DR on (2-core AMD EPYC, `c` engine):
40.6 % on the 256 held-out episodes (seed 1000000) that `train.residual_ppo` evaluates on
(`python -m benchmarks.ik_base`, benchmarks/results/ik_base_paper_square_cpu2.json), where its
residual reaches 85.5 %. A residual has room to finish the push.
"""

import dataclasses

import jax
import jax.numpy as jnp

from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.paper_card import PaperCardTask
from mjx_gr00t.kinematics import quat_to_mat


@dataclasses.dataclass(frozen=True)
class IKPushConfig:
    """Parameters of the scripted push."""

    hover_height: float = 0.04
    """Tool height above the table while approaching, m."""
    push_height: float = 0.007
    """Tool-point height while pushing, m: the fingers just clear the table and the tip pad,
    which reaches 1 cm lower, meets the sheet's edge."""
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

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"IKPushConfig.{f.name} must be >= 0, got {getattr(self, f.name)}")


class IKPushBase:
    """The scripted IK push for `PaperCardTask`; call it on one env's state."""

    name = "ik"

    def __init__(self, task: PaperCardTask, config: IKPushConfig = IKPushConfig()) -> None:
        self.task = task
        self.config = config

    def tool_target(self, state: State) -> jax.Array:
        """The tool's position target (3,), world frame, from the scripted push."""
        c, task = self.config, self.task
        qpos = state.physics.qpos
        tool, _ = task.tool_pose(qpos)
        paper, quat, _ = task.paper_pose(qpos)
        to_goal = task.square - paper[:2]
        dist = jnp.linalg.norm(to_goal)
        direction = to_goal / jnp.maximum(dist, 1e-6)
        # The sheet's half-extent along the push direction, from its yaw.
        axes = quat_to_mat(quat)[:2, :2]  # columns: the sheet's x and y axes in the table plane
        extent = jnp.sum(jnp.abs(direction @ axes) * task.paper_half)
        contact = paper[:2] - (extent + task.tip_radius + c.standoff) * direction
        gap = jnp.linalg.norm(tool[:2] - contact)
        low = tool[2] < c.push_height + 0.004
        # High: hover over the contact point, then descend onto it once aligned.
        # Low: push while the contact point stays within reach, else lift off and start over.
        descend = (~low) & (gap < c.align_radius)
        push = low & (gap < c.align_radius + c.lead) & (dist > c.stop_radius)
        lift = low & ~push
        push_xy = contact + jnp.minimum(c.lead, dist) * direction
        xy = jnp.where(push, push_xy, jnp.where(lift, tool[:2], contact))
        z = jnp.where(push | descend, c.push_height, c.hover_height)
        return jnp.concatenate([xy, z[None]])

    def __call__(self, state: State) -> jax.Array:
        """state: one env -> (6,) normalised joint deltas in [-1, 1]."""
        c, task = self.config, self.task
        q_target = state.info.ctrl_target
        goal = self.tool_target(state)

        def features(q5: jax.Array) -> jax.Array:
            pos, rot = task.chain.site_pose(q5)
            return jnp.concatenate([pos, c.tilt_weight * rot[:, 0]])  # site x = approach axis

        q5 = q_target[:5]
        current = features(q5)
        wanted = jnp.concatenate([goal, c.tilt_weight * jnp.array([0.0, 0.0, -1.0])])
        error = wanted - current
        jac = jax.jacfwd(features)(q5)  # (6, 5)
        lhs = jac @ jac.T + (c.damping ** 2) * jnp.eye(6)
        dq = jac.T @ jnp.linalg.solve(lhs, error)
        scale = task.spec.action_scale
        # Shrink the whole step (not each joint) to the action limit, keeping its direction.
        arm = dq / scale / jnp.maximum(1.0, jnp.max(jnp.abs(dq)) / scale)
        grip = jnp.clip((task.config.home_qpos[5] - q_target[5]) / scale, -1.0, 1.0)
        return jnp.concatenate([arm, grip[None]]).astype(jnp.float32)
