"""A 2-D goal-reaching task small enough to train off-policy learners in a test, and a weak base for it
(shared by test_sac and test_off_policy_hyper)."""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.spec import EnvSpec, GoalSpec
from mjx_gr00t.physics import PhysicsState


@struct.dataclass
class GoalInfo:
    """goal: (2,) target position. dr_ranges: the (absent) domain-randomisation ranges."""

    goal: jax.Array
    dr_ranges: Any = None


class ReachGoalTask:
    """A 2-D point moved by `speed * action` (kept in [-1.2, 1.2]^2) towards a random goal.

    obs = (position, goal): achieved goal obs[0:2], desired goal obs[2:4]. Sparse reward: 0 within
    `tolerance` of the goal (success, which ends the episode), else -1. `trace_count` counts traces
    of `step`.
    """

    observation_size: int = 4
    action_size: int = 2

    def __init__(self, speed: float = 0.15, tolerance: float = 0.1) -> None:
        self.speed = speed
        self.tolerance = tolerance
        self.trace_count = 0
        self.spec = EnvSpec(
            obs_layout=(("position", 2), ("goal", 2)), action_names=("dx", "dy"),
            action_ranges=((-1.0, 1.0),) * 2, action_scale=speed, policy_dt=1.0,
            goal=GoalSpec(achieved=(0, 2), desired=(2, 4), compute_reward=self.compute_reward))

    def compute_reward(self, achieved: jax.Array, desired: jax.Array) -> jax.Array:
        """achieved, desired [..., 2] -> [...]: 0 if within tolerance, else -1."""
        return -(jnp.linalg.norm(achieved - desired, axis=-1) > self.tolerance).astype(jnp.float32)

    def reset(self, key: jax.Array, dr_ranges: Any = None) -> State:
        k_pos, k_goal = jax.random.split(key)
        pos = jax.random.uniform(k_pos, (2,), minval=-1.0, maxval=1.0)
        goal = jax.random.uniform(k_goal, (2,), minval=-1.0, maxval=1.0)
        zero = jnp.zeros((), jnp.float32)
        return State(
            physics=PhysicsState(qpos=pos, qvel=jnp.zeros(2)), obs=jnp.concatenate([pos, goal]),
            reward=zero, done=zero, truncation=zero, success=zero,
            metrics={"task/dist_to_goal": jnp.linalg.norm(goal - pos)}, info=GoalInfo(goal=goal),
            episode=None,
        )

    def step(self, state: State, action: jax.Array) -> State:
        self.trace_count += 1
        pos = jnp.clip(state.physics.qpos + self.speed * jnp.clip(action, -1.0, 1.0), -1.2, 1.2)
        goal = state.info.goal
        success = (jnp.linalg.norm(goal - pos) < self.tolerance).astype(jnp.float32)
        return state.replace(
            physics=PhysicsState(qpos=pos, qvel=action), obs=jnp.concatenate([pos, goal]),
            reward=self.compute_reward(pos, goal), done=success, success=success,
            metrics={"task/dist_to_goal": jnp.linalg.norm(goal - pos)},
        )


def steer_base(state: State) -> jax.Array:
    """A weak base: half-speed towards the goal."""
    return 0.5 * jnp.clip((state.info.goal - state.physics.qpos) / 0.15, -1.0, 1.0)
