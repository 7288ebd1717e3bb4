"""One episode per env of the twin, recorded for a dataset: what the servos read, the goals sent,
and the states to render the cameras from.

    run = make_rollout(env, act)                       # jitted, compiled once per (env, act)
    traj = run(params, keys, key)                      # keys (B, 2): one episode each -> Trajectories

`act(params, states, key) -> residuals (B, A)` (as `runner.finish.residual_act` gives, already
scaled) is added to the env's base; a zero residual gives the base alone. Frame t holds the state before step t: its servo reading and its physics (the cameras are
rendered from it), with the goal that step t sent; the episode ends at the first done.
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.residual import CarryInfo, combine

Act = Callable[[Any, State, jax.Array], jax.Array]


@struct.dataclass
class Trajectories:
    """B episodes of up to T = episode_length steps (frames past `length` belong to no episode)."""

    qpos: jax.Array  # (B, T, nq) physics before each step (render the cameras from it)
    image_dr: jax.Array  # (B, 8) each episode's camera pose, fovy and light draw
    readings: jax.Array  # (B, T, 6) the servos' quantised joint reading before each step, rad
    goals: jax.Array  # (B, T, 6) the absolute joint goal each step sent the servos, rad (whole ticks)
    success: jax.Array  # (B, T) 1 where the step ended with the sheet in the frame
    length: jax.Array  # (B,) int32 steps to the first done (T if none)

    def episode(self, b: int) -> dict[str, Any]:
        """Episode b's frames as numpy: qpos (L, nq), image_dr (8,), readings, goals (L, 6), success (L,)."""
        n = int(self.length[b])
        return {"qpos": self.qpos[b, :n], "image_dr": self.image_dr[b], "readings": self.readings[b, :n],
                "goals": self.goals[b, :n], "success": self.success[b, :n]}


def _task_info(state: State) -> Any:
    """The twin's own info: the state's, or inside a chunked base's CarryInfo."""
    return state.info.task if isinstance(state.info, CarryInfo) else state.info


def make_rollout(env: EpisodeEnv, act: Act) -> Callable[[Any, jax.Array, jax.Array], Trajectories]:
    """A jitted `(params, keys (B, 2), key) -> Trajectories`: one episode from each of `keys`' resets,
    the policy's noise (if any) from `key`."""

    wrapper = env.task  # the ResidualTask: its base action rides in the observation
    task = wrapper.task

    def run(params: Any, keys: jax.Array, key: jax.Array) -> Trajectories:
        state = jax.vmap(env.reset)(keys)
        n = keys.shape[0]

        def body(carry, step_key):
            s, ended, length, t = carry
            residual = act(params, s, step_key)
            # The goal this step sends, from the state before it (after the step, an ended episode's
            # state is already the next one's reset).
            total = combine(jax.vmap(wrapper.base_action)(s), residual)
            info = _task_info(s)
            goal = jax.vmap(task.sent_goal)(info, total)
            nxt = jax.vmap(env.step)(s, residual)
            frame = (s.physics.qpos, info.joints_seen, goal, nxt.success)
            ends = (nxt.done > 0.5) & ~ended
            length = jnp.where(ends, t + 1, length)
            return (nxt, ended | ends, length, t + 1), frame

        init = (state, jnp.zeros(n, bool), jnp.full(n, env.episode_length, jnp.int32), jnp.int32(0))
        (_, _, length, _), (qpos, readings, goals, success) = jax.lax.scan(
            body, init, jax.random.split(key, env.episode_length))
        move = lambda x: jnp.moveaxis(x, 0, 1)  # noqa: E731  (T, B, ...) -> (B, T, ...)
        return Trajectories(qpos=move(qpos), image_dr=_task_info(state).image_dr, readings=move(readings),
                            goals=move(goals), success=move(success), length=length)

    return jax.jit(run)
