"""Residual RL on top of a base policy: the residual task wrapper and the alpha schedule.

The exact form used everywhere (training, evaluation, export, the real robot):

    u     = alpha * clip(r, -1, 1)            r: the residual policy's output, (A,)
    total = clip(base + u, -1, 1)             base: the base policy's normalised action, (A,)
    joint-target delta = act_scale * total    (act_scale = 0.02 rad on the paper task)

so in radians `total = clip(base + alpha * residual * act_scale)`, clipped to +-act_scale.
The trainer computes `u` (alpha is scheduled by training progress, see `AlphaSchedule`) and
steps a `ResidualTask` with it; the task adds the base action it observed and the penalty.

- The residual policy and the critic both see the base action: a `ResidualTask`'s observation is
  the inner observation followed by the base action at that state, (obs_dim + A,). So does the
  final observation of a truncated episode, which trainers bootstrap from.
- Penalty: `penalty_weight * ||u||^2` on the *applied* residual is subtracted from the reward and
  logged as `residual/penalty` (its positive size); `residual/magnitude` logs `||u||`.
- A base is any pure function `State -> (A,)` of one env's task state (`bases.ik`,
  `bases.zero`). Non-JAX bases (GR00T) feed their actions in from outside; see `bridge/`.
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from mjx_gr00t.envs.base import State, Task

Base = Callable[[State], jax.Array]

ALPHA_SCHEDULES: tuple[str, ...] = ("constant", "linear")


@dataclasses.dataclass(frozen=True)
class AlphaSchedule:
    """The residual's scale alpha as a function of env steps taken so far.

    'constant': always `alpha`. 'linear': from `alpha_start` to `alpha` over `warmup_steps`
    env steps, then `alpha`.
    """

    alpha: float = 0.5
    """Residual scale after warm-up, in units of the action limit (1 = a full act_scale step)."""
    schedule: str = "constant"
    """'constant' or 'linear' (warm-up)."""
    alpha_start: float = 0.0
    """Alpha at step 0 under the 'linear' schedule."""
    warmup_steps: int = 1_000_000
    """Env steps over which the 'linear' schedule ramps alpha."""

    def __post_init__(self) -> None:
        if not self.alpha >= 0 or not self.alpha_start >= 0:
            raise ValueError(f"alpha must be >= 0, got alpha={self.alpha}, alpha_start={self.alpha_start}")
        if self.schedule not in ALPHA_SCHEDULES:
            raise ValueError(f"alpha schedule must be one of {list(ALPHA_SCHEDULES)}, got {self.schedule!r}")
        if self.schedule == "linear" and self.warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, got {self.warmup_steps}")

    def __call__(self, env_steps: jax.Array | float) -> jax.Array:
        """env_steps: () number of env steps taken so far -> () float32 alpha."""
        if self.schedule == "constant":
            return jnp.asarray(self.alpha, jnp.float32)
        frac = jnp.clip(jnp.asarray(env_steps, jnp.float32) / self.warmup_steps, 0.0, 1.0)
        return jnp.asarray(self.alpha_start + frac * (self.alpha - self.alpha_start), jnp.float32)

    @property
    def final(self) -> float:
        """Alpha once warm-up is over: the value used for evaluation and export."""
        return float(self.alpha)


def scale_residual(residual: jax.Array, alpha: jax.Array | float) -> jax.Array:
    """u = alpha * clip(r, -1, 1); residual [..., A] -> [..., A]."""
    return alpha * jnp.clip(residual, -1.0, 1.0)


def combine(base: jax.Array, scaled_residual: jax.Array) -> jax.Array:
    """total = clip(base + u, -1, 1); base, u: [..., A] normalised actions -> [..., A]."""
    return jnp.clip(base + scaled_residual, -1.0, 1.0)


class ResidualTask:
    """A task whose action is the scaled residual u, added to a base policy's action.

    Observation: (inner obs_dim + A,), the inner observation then the base action at that state.
    Action: u, (A,) in [-alpha, alpha] (see `scale_residual`). Reward: the inner reward minus
    `penalty_weight * ||u||^2`. Wrap it in `EpisodeEnv` for time limits and auto-reset.
    """

    def __init__(self, task: Task, base: Base, penalty_weight: float = 0.001) -> None:
        if not penalty_weight >= 0:
            raise ValueError(f"penalty_weight must be >= 0, got {penalty_weight}")
        self.task = task
        self.base = base
        self.penalty_weight = penalty_weight
        self.action_size = task.action_size
        self.observation_size = task.observation_size + task.action_size
        layout = getattr(task, "observation_layout", (("task_obs", task.observation_size),))
        self.observation_layout = (*layout, ("base_action", task.action_size))

    def base_action(self, state: State) -> jax.Array:
        """The base action (A,) this wrapper observed at `state` (the last A entries of obs)."""
        return state.obs[-self.action_size:]

    def _with_base(self, state: State) -> State:
        base = jnp.clip(self.base(state), -1.0, 1.0).astype(jnp.float32)
        return state.replace(obs=jnp.concatenate([state.obs, base]))

    def _inner(self, state: State) -> State:
        return state.replace(obs=state.obs[:self.task.observation_size])

    def reset(self, key: jax.Array, dr_ranges: object = None) -> State:
        """The inner task's reset, with the base action appended to the observation."""
        state = self.task.reset(key, dr_ranges)
        state = self._with_base(state)
        return state.replace(metrics={**state.metrics, **_residual_metrics(jnp.zeros(self.action_size), 0.0)})

    def step(self, state: State, action: jax.Array) -> State:
        """action: u (A,), the scaled residual. Steps the inner task with clip(base + u, -1, 1)."""
        total = combine(self.base_action(state), action)
        nxt = self.task.step(self._inner(state), total)
        penalty = self.penalty_weight * jnp.sum(jnp.square(action))
        metrics = {**nxt.metrics, **_residual_metrics(action, penalty)}
        return self._with_base(nxt).replace(reward=nxt.reward - penalty, metrics=metrics)


def _residual_metrics(scaled_residual: jax.Array, penalty: jax.Array | float) -> dict[str, jax.Array]:
    return {
        "residual/penalty": jnp.asarray(penalty, jnp.float32),
        "residual/magnitude": jnp.linalg.norm(scaled_residual).astype(jnp.float32),
    }
