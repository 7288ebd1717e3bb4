"""A scripted Cartesian controller for the Fetch-like tasks, in JAX.

A pure function of one env's state (no hidden phase, so it is vmappable and a residual can build
on it). It picks a Cartesian way-point for the grip site, and returns the normalised action that
moves the gripper's position target towards it (at most `action_scale` a step) plus a gripper
command.

- Reach: go to the goal.
- Push: the contact point sits behind the cube, seen from the goal. Away from it, rise to
  `hover` above the cube, fly over the contact point and descend onto it; once low and aligned,
  push along the cube-to-goal line, aiming `push_lead` past the contact point but never more
  than `push_press` ahead of the gripper (so the stiff servo cannot wind up behind the cube and
  fling it); when the cube slides out of line, lift off and start over. The contact distance
  follows the cube's yaw, but the script never turns the cube.
- PickAndPlace: open the fingers and fly `hover` above the cube; descend once aligned over it and
  open; close once the fingers straddle it; once the fingers have closed on the cube (their
  opening near the cube's half-edge), carry it to the goal. A dropped cube starts it over.

The action depends on the goal only through `for_goal(goal_context(state), goal)`: the
context (`GOAL_CONTEXT_SIZE` floats of one env's state) holds everything else the script reads, so
hindsight relabelling can recompute the base action for a new goal (`mjx_gr00t.rl.her`).

It is strong with DR off and loses some episodes under DR (a light, slippery or small cube slides
out of line; a grasp slips). Success at the last of 50 steps over 64 episodes (seed 7): reach 64/64,
push 63/64, pick-and-place 64/64 with DR off; 64/64, 57/64, 61/64 with the default DR.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.fetch.task import FetchTask
from mjx_gr00t.envs.so101_goal.task import So101GoalTask
from mjx_gr00t.kinematics import quat_to_mat


GOAL_CONTEXT_SIZE: int = 16
"""Floats of an env's state the script reads besides the goal (see `FetchScriptBase.goal_context`)."""


@dataclasses.dataclass(frozen=True)
class FetchScriptConfig:
    """Parameters of the scripted controller."""

    hover: float = 0.06
    """Height of the approach above the cube's top, m."""
    align_radius: float = 0.01
    """Horizontal distance below which the gripper descends, m."""
    grasp_height: float = 0.005
    """Grip-site height error at which the fingers close, m."""
    grasp_margin: float = 0.006
    """The fingers hold the cube when their opening is within this of its half-edge, m."""
    hold_margin: float = 0.0
    """The cube counts as held when its centre is within its half-edge plus this of the grip site, m."""
    open_margin: float = 0.015
    """The fingers must be this much wider than the cube before descending, m."""
    contact_gap: float = 0.01
    """Gap left behind the cube's face before a push, m."""
    push_lead: float = 0.03
    """How far the push target leads the contact point, m."""
    push_press: float = 0.015
    """Largest distance the push target leads the gripper, m (bounds the servo's push force)."""
    push_stray: float = 0.02
    """Distance from the contact point beyond which a push is abandoned, m."""
    finger_half_extents: tuple[float, float] = (0.02, 0.01)
    """Half-extents (x, y) of the closed finger pair's footprint, m (the pushing face)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if np.min(getattr(self, f.name)) < 0:
                raise ValueError(f"FetchScriptConfig.{f.name} must be >= 0, got {getattr(self, f.name)}")


class FetchScriptBase:
    """The scripted Cartesian controller for a `FetchTask`; call it on one env's state."""

    name = "fetch_script"
    goal_context_size = GOAL_CONTEXT_SIZE

    def __init__(self, task: FetchTask | So101GoalTask, config: FetchScriptConfig = FetchScriptConfig()) -> None:
        if not isinstance(task, (FetchTask, So101GoalTask)):
            raise ValueError(
                f"the fetch_script base drives the Fetch-like tasks; got {type(task).__name__} "
                "(use --base zero)")
        self.task = task
        self.config = config

    def goal_context(self, state: State) -> jax.Array:
        """One env's state -> (GOAL_CONTEXT_SIZE,) float32: grip site (3), finger openings (2),
        cube position (3) and quaternion (4, zeros for Reach), cube half-edge (1), the servos'
        position target (3)."""
        task = self.task
        grip, fingers, obj = task.positions(state.physics.qpos)
        quat = (state.physics.qpos[task.object_q + 3:task.object_q + 7] if task.has_object
                else jnp.zeros(4, jnp.float32))
        half = task.object_half_size(state)
        parts = [grip, fingers, obj, quat, half[None], state.info.grip_target]
        return jnp.concatenate([jnp.asarray(p, jnp.float32) for p in parts])

    def waypoint(self, state: State) -> tuple[jax.Array, jax.Array]:
        """The grip site's way-point (3,) and the gripper command () in [-1, 1]."""
        return self._waypoint(self.goal_context(state), state.info.goal)

    def _waypoint(self, context: jax.Array, goal: jax.Array) -> tuple[jax.Array, jax.Array]:
        task = self.task
        grip, fingers, obj, quat, half = (context[0:3], context[3:5], context[5:8], context[8:12],
                                          context[12])
        if not task.has_object:
            return goal, jnp.asarray(-1.0)
        if task.block_gripper:
            return self._push(grip, obj, quat, goal, half), jnp.asarray(-1.0)
        return self._pick(grip, jnp.mean(fingers), obj, goal, half)

    def _push(self, grip: jax.Array, obj: jax.Array, quat: jax.Array, goal: jax.Array, half: jax.Array
              ) -> jax.Array:
        c = self.config
        to_goal = goal[:2] - obj[:2]
        dist = jnp.linalg.norm(to_goal)
        direction = to_goal / jnp.maximum(dist, 1e-6)
        # Centre-to-centre distance at contact along the push: the (turned) cube's extent plus the
        # finger pair's.
        axes = quat_to_mat(quat)[:2, :2]  # columns: the cube's x and y axes in the table plane
        fingers = jnp.asarray(c.finger_half_extents)
        reach = half * jnp.sum(jnp.abs(direction @ axes)) + jnp.sum(fingers * jnp.abs(direction))
        contact = obj[:2] - (reach + c.contact_gap) * direction
        gap = jnp.linalg.norm(grip[:2] - contact)
        push_z = obj[2]
        low = grip[2] < push_z + 0.01
        hover_z = obj[2] + half + c.hover
        pushing = low & (gap < c.push_stray + c.contact_gap)
        descend = (~low) & (gap < c.align_radius)
        rise = low & ~pushing  # too low and out of line: rise straight up before flying over
        # Press at most `push_press` past the gripper, so the servo never winds up behind the cube.
        press = contact + jnp.minimum(c.push_lead, dist + c.contact_gap) * direction - grip[:2]
        push_xy = grip[:2] + press / jnp.maximum(1.0, jnp.linalg.norm(press) / c.push_press)
        xy = jnp.where(pushing, push_xy, jnp.where(rise, grip[:2], contact))
        z = jnp.where(pushing | descend, push_z, hover_z)
        return jnp.concatenate([xy, z[None]])

    def _pick(self, grip: jax.Array, opening: jax.Array, obj: jax.Array, goal: jax.Array, half: jax.Array
              ) -> tuple[jax.Array, jax.Array]:
        c = self.config
        rel = obj - grip
        aligned = jnp.linalg.norm(rel[:2]) < c.align_radius
        at_height = jnp.abs(rel[2]) < c.grasp_height
        holding = (jnp.abs(opening - half) < c.grasp_margin) & (jnp.linalg.norm(rel) < half + c.hold_margin)
        wide = opening > half + c.open_margin
        above = obj + jnp.array([0.0, 0.0, half + c.hover])
        # Descend only when aligned and open (or already around the cube).
        descend = aligned & (wide | (rel[2] > -half))
        target = jnp.where(holding, goal, jnp.where(descend, obj, above))
        close = holding | (aligned & at_height)
        grip_cmd = jnp.where(close, -1.0, 1.0)
        return target, grip_cmd

    def for_goal(self, context: jax.Array, goal: jax.Array) -> jax.Array:
        """(GOAL_CONTEXT_SIZE,) context of one env's state and a goal (3,) -> (4,) normalised
        action in [-1, 1]: the action at that state if its goal were `goal`."""
        target, grip_cmd = self._waypoint(context, goal)
        move = (target - context[13:16]) / self.task.spec.action_scale
        # Shrink the whole move (not each axis) to the action limit, keeping its direction.
        move = move / jnp.maximum(1.0, jnp.max(jnp.abs(move)))
        return jnp.concatenate([move, grip_cmd[None]]).astype(jnp.float32)

    def __call__(self, state: State) -> jax.Array:
        """state: one env -> (4,) normalised action in [-1, 1]."""
        return self.for_goal(self.goal_context(state), state.info.goal)
