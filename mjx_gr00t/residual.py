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
- A goal-conditioned base (`GoalBase`, e.g. `bases.fetch_script`) also splits into
  `goal_context(state)` and `for_goal(context, goal)`, so hindsight relabelling can recompute the
  observed base action for a new goal (`spec.goal.rebase`); `EpisodeEnv` keeps an ended episode's
  final context beside its final observation.
- `ResidualTask.spec` is the inner task's with ("base_action", A) appended to the layout; its goal
  (if any) gains the rebase when the base reads the goal.
- A base is either a pure function `State -> (A,)` of one env's task state (`bases.ik`,
  `bases.zero`), or a `CarryBase` that keeps a per-env carry in the env state (`bases.chunked`:
  GR00T's action chunks). A carry base plans after the episode wrapper's auto-reset, so a
  `ResidualTask` with one must be wrapped in `ResidualEpisodeEnv` (not a plain `EpisodeEnv`):
  after every reset and step it calls `ResidualTask.plan`, once per (vmapped) batch.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import mujoco
from flax import struct

from mjx_gr00t.envs.base import EpisodeEnv, State, Task, TaskInfo
from mjx_gr00t.envs.spec import BaseRebase, EnvSpec

Base = Callable[[State], jax.Array]
BASE_KEY_SALT: int = 0x6A5E
"""A carry base's key at reset is `fold_in(reset key, BASE_KEY_SALT)`; the task gets the reset key itself."""


@runtime_checkable
class CarryBase(Protocol):
    """A base with a per-env carry (e.g. an action chunk and the position in it), for one env.

    The task state it sees is the inner task's (its own `info`, obs without the base action).
    """

    def init_carry(self, state: State, key: jax.Array) -> Any:
        """The carry of a fresh episode at `state`."""
        ...

    def advance(self, carry: Any) -> Any:
        """The carry after one executed step."""
        ...

    def estimate(self, state: State, carry: Any) -> jax.Array:
        """The base action (A,) at `state` without planning (for an ended episode's final obs)."""
        ...

    def __call__(self, state: State, carry: Any) -> tuple[jax.Array, Any]:
        """(base action (A,), carry), planning where the carry asks for it."""
        ...


@runtime_checkable
class GoalBase(Protocol):
    """A plain base that reads the goal, split so that it can be recomputed for another goal."""

    goal_context_size: int
    """C, the length of `goal_context`."""

    def goal_context(self, state: State) -> jax.Array:
        """(C,) what the base reads of one env's `state` besides the goal."""
        ...

    def for_goal(self, context: jax.Array, goal: jax.Array) -> jax.Array:
        """(C,) context, (G,) goal -> the base action (A,) at that state for that goal."""
        ...

    def __call__(self, state: State) -> jax.Array:
        """One env's state -> base action (A,)."""
        ...


@struct.dataclass
class CarryInfo:
    """`State.info` of a `ResidualTask` with a carry base: the inner task's info and the base's carry."""

    task: TaskInfo
    base: Any

    @property
    def dr_ranges(self) -> object:
        """The inner task's DR ranges (`EpisodeEnv` draws auto-resets from them)."""
        return self.task.dr_ranges

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

    def __init__(self, task: Task, base: Base | CarryBase, penalty_weight: float = 0.001) -> None:
        if not penalty_weight >= 0:
            raise ValueError(f"penalty_weight must be >= 0, got {penalty_weight}")
        self.task = task
        self.base = base
        self.has_carry = isinstance(base, CarryBase)
        self.penalty_weight = penalty_weight
        self.action_size = task.action_size
        self.observation_size = task.observation_size + task.action_size
        self.goal_base: GoalBase | None = (
            base if not self.has_carry and isinstance(base, GoalBase) and task.spec.goal is not None else None)
        self.spec = _residual_spec(self, task.spec)

    @property
    def mj_model(self) -> mujoco.MjModel:
        """The scene's compiled model (the inner task's)."""
        return self.task.mj_model

    @property
    def engine_name(self) -> str:
        """The physics engine of the inner task."""
        return self.task.engine_name

    def goal_context(self, state: State) -> jax.Array:
        """(C,) what a `GoalBase` reads of `state` besides the goal."""
        return _need_goal_base(self).goal_context(self._inner(state))

    def base_for_goal(self, context: jax.Array, goal: jax.Array) -> jax.Array:
        """(C,) context, (G,) goal -> the base action (A,) the observation would hold for that goal."""
        return jnp.clip(_need_goal_base(self).for_goal(context, goal), -1.0, 1.0).astype(jnp.float32)

    def base_action(self, state: State) -> jax.Array:
        """The base action (A,) this wrapper observed at `state` (the last A entries of obs)."""
        return state.obs[-self.action_size:]

    def _with_base(self, state: State) -> State:
        base = jnp.clip(self.base(state), -1.0, 1.0).astype(jnp.float32)
        return state.replace(obs=jnp.concatenate([state.obs, base]))

    def _inner(self, state: State) -> State:
        """The state as the inner task (and the base) see it: obs without the base action, and
        with a carry base the task's own info."""
        inner = state.replace(obs=state.obs[:self.task.observation_size])
        return inner.replace(info=state.info.task) if self.has_carry else inner

    def _with_carry(self, state: State, carry: Any) -> State:
        """An inner state with the base's estimate (no planning) and its carry attached."""
        base = jnp.clip(self.base.estimate(state, carry), -1.0, 1.0).astype(jnp.float32)
        return state.replace(obs=jnp.concatenate([state.obs, base]), info=CarryInfo(task=state.info, base=carry))

    def reset(self, key: jax.Array, dr_ranges: object = None) -> State:
        """The inner task's reset, with the base action appended to the observation.

        With a carry base the appended action is a placeholder until `plan` (the fresh carry asks
        for a plan); `ResidualEpisodeEnv` calls it."""
        state = self.task.reset(key, dr_ranges)
        if self.has_carry:
            carry = self.base.init_carry(state, jax.random.fold_in(key, BASE_KEY_SALT))
            state = self._with_carry(state, carry)
        else:
            state = self._with_base(state)
        return state.replace(metrics={**state.metrics, **_residual_metrics(jnp.zeros(self.action_size), 0.0)})

    def step(self, state: State, action: jax.Array) -> State:
        """action: u (A,), the scaled residual. Steps the inner task with clip(base + u, -1, 1).

        With a carry base the carry advances one step and the next observation's base action is
        the base's `estimate` (the final observation if the episode ends here); `plan` replaces
        it where a new plan is due."""
        total = combine(self.base_action(state), action)
        nxt = self.task.step(self._inner(state), total)
        penalty = self.penalty_weight * jnp.sum(jnp.square(action))
        metrics = {**nxt.metrics, **_residual_metrics(action, penalty)}
        if self.has_carry:
            nxt = self._with_carry(nxt, self.base.advance(state.info.base))
        else:
            nxt = self._with_base(nxt)
        return nxt.replace(reward=nxt.reward - penalty, metrics=metrics)

    def plan(self, state: State) -> State:
        """A carry base plans where its carry asks (one host call for a vmapped batch) and its action
        goes into the observation. States of plain bases are returned unchanged."""
        if not self.has_carry:
            return state
        action, carry = self.base(self._inner(state), state.info.base)
        base = jnp.clip(action, -1.0, 1.0).astype(jnp.float32)
        obs = jnp.concatenate([state.obs[:self.task.observation_size], base])
        return state.replace(obs=obs, info=state.info.replace(base=carry))


class ResidualEpisodeEnv(EpisodeEnv):
    """`EpisodeEnv` around a `ResidualTask` whose base keeps a carry (a chunked base).

    After every reset and every step, auto-resets included, the base plans where its carry asks
    (just reset, or at a chunk boundary) and the observation gets its action. For plain bases it
    behaves exactly as `EpisodeEnv`.
    """

    task: ResidualTask

    def reset(self, key: jax.Array, dr_ranges: Any = None) -> State:
        """`EpisodeEnv.reset`, then the base's first plan."""
        return self.task.plan(super().reset(key, dr_ranges))

    def step(self, state: State, action: jax.Array) -> State:
        """`EpisodeEnv.step` (auto-reset included), then the base plans where due."""
        return self.task.plan(super().step(state, action))


def _residual_spec(task: ResidualTask, inner: EnvSpec) -> EnvSpec:
    """The inner spec with the base action appended to the layout; a goal gains the rebase of a
    `GoalBase` (the goal of a base that ignores it stays as it is)."""
    goal = inner.goal
    if goal is not None and task.goal_base is not None:
        rebase = BaseRebase(goal_context=task.goal_context, base_for_goal=task.base_for_goal,
                            context_size=int(task.goal_base.goal_context_size), action_size=task.action_size)
        goal = dataclasses.replace(goal, rebase=rebase)
    elif goal is not None:
        goal = dataclasses.replace(goal, rebase=None)
    return dataclasses.replace(inner, obs_layout=(*inner.obs_layout, ("base_action", task.action_size)), goal=goal)


def _need_goal_base(task: ResidualTask) -> GoalBase:
    if task.goal_base is None:
        raise ValueError(f"this residual task's base ({type(task.base).__name__}) does not read the goal "
                         "(no goal_context / for_goal), or its scene has no goal")
    return task.goal_base


def _residual_metrics(scaled_residual: jax.Array, penalty: jax.Array | float) -> dict[str, jax.Array]:
    return {
        "residual/penalty": jnp.asarray(penalty, jnp.float32),
        "residual/magnitude": jnp.linalg.norm(scaled_residual).astype(jnp.float32),
    }
