"""The env state, the task protocol, and the episode wrapper (time limit, NaN guard, auto-reset).

Conventions follow brax / MuJoCo Playground: `reset(key) -> State`, `step(State, action) -> State`,
pure and written for one env; `jax.vmap` makes a batch. A *task* (e.g. `PaperCardTask`) knows
physics, observation and reward only. `EpisodeEnv` wraps a task with everything episodic:
- a time limit that *truncates* (bootstrap) rather than terminates;
- a NaN guard: non-finite or diverged physics (|qpos| >= `max_abs_qpos`, |qvel| >=
  `max_abs_qvel`: a solver blow-up) ends that env's episode with reward 0 and bumps a counter.
  The episode counts as *truncated* with `final_obs` = the last healthy observation, so learners
  bootstrap through it: a physics failure is neither a reward nor an exit the policy could seek;
- auto-reset: every ended episode restarts from a freshly drawn random state.

Every layer states its interface as data in `spec` (`envs.spec.EnvSpec`); `EpisodeEnv.spec` is its
task's.
"""

from typing import Any, Protocol

import jax
import jax.numpy as jnp
import mujoco
from flax import struct

from mjx_gr00t.envs.spec import BaseRebase, EnvSpec
from mjx_gr00t.physics import PhysicsState


@struct.dataclass
class EpisodeInfo:
    """Per-env episode bookkeeping, kept by `EpisodeEnv`.

    steps: () int32, policy steps taken in the current episode.
    rng: key for this slot's next auto-reset.
    final_obs: (obs_dim,) the last observation of the episode that ended at this step (where
        `State.done` is 1); trainers bootstrap truncated episodes from it. After non-finite or
        diverged physics: the observation before the failed step.
    nan_resets: () int32, how many times this slot was reset for non-finite or diverged physics.
    episode_return: () running return of the current episode.
    final_context: (C,) the goal context (`spec.goal.rebase.goal_context`) of the state `final_obs`
        was observed in, for tasks whose spec has a goal rebase with context_size C (a residual task
        over a goal-conditioned base); else None.
    """

    steps: jax.Array
    rng: jax.Array
    final_obs: jax.Array
    nan_resets: jax.Array
    episode_return: jax.Array
    final_context: jax.Array | None = None


class TaskInfo(Protocol):
    """What `EpisodeEnv` needs of a task's own `State.info` record (e.g. `PaperInfo`, a flax struct)."""

    @property
    def dr_ranges(self) -> object:
        """The DR ranges this episode was drawn from; auto-resets draw the next episode from them."""
        ...


@struct.dataclass
class State:
    """The state of one env (a batch of them under vmap).

    physics: positions and velocities. obs: (obs_dim,) float32. reward: () float32.
    done: () float32, 1 when the episode ended at this step for any reason (success, time limit or
        NaN physics); the returned `obs` then already belongs to the next episode.
    truncation: () float32, 1 when it ended by the time limit (or a physics failure): bootstrap
        from `final_obs`.
    success: () float32, 1 when the task was solved at this step.
    metrics: fixed-key dict of () float32 per-step values (reward terms etc.), for logging.
    info: the task's own typed record (e.g. `PaperInfo`).
    episode: `EpisodeInfo`, kept by `EpisodeEnv`; None in the states a bare task returns.
    """

    physics: PhysicsState
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    truncation: jax.Array
    success: jax.Array
    metrics: dict[str, jax.Array]
    info: TaskInfo
    episode: EpisodeInfo | None = None


class Task(Protocol):
    """One episode of a task, for one env, without time limit or auto-reset."""

    observation_size: int
    action_size: int
    spec: EnvSpec
    """Observation layout, actions, policy dt and goal; its sizes equal the two above."""
    engine_name: str
    """The physics engine that steps it: 'c', 'mjx' or 'warp' (a wrapper gives its inner task's)."""

    @property
    def mj_model(self) -> mujoco.MjModel:
        """The scene's compiled model (a wrapper gives its inner task's)."""
        ...

    def reset(self, key: jax.Array, dr_ranges: Any = None) -> State:
        """A fresh random initial state, DR drawn from `dr_ranges` (the config's when None).

        Its `episode` is None (`EpisodeEnv` fills it in). `info.dr_ranges` must hold the ranges
        used, so that auto-resets keep drawing from them.
        """
        ...

    def step(self, state: State, action: jax.Array) -> State:
        """action: (action_size,) in [-1, 1]. Sets reward, success and `done` = success."""
        ...


class EpisodeEnv:
    """A task with time limit, NaN guard and auto-reset. Per env; vmap for a batch."""

    def __init__(
        self, task: Task, episode_length: int, max_abs_qpos: float = 10.0, max_abs_qvel: float = 100.0,
        terminate_on_success: bool = True,
    ) -> None:
        """max_abs_qpos (m or rad), max_abs_qvel (m/s or rad/s): bounds beyond which physics has diverged.
        terminate_on_success: success ends the episode (paper task); False: only the time limit
        does, and `success` is reported every step (Fetch)."""
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        if not (max_abs_qpos > 0 and max_abs_qvel > 0):
            raise ValueError(f"max_abs_qpos and max_abs_qvel must be > 0, got {max_abs_qpos}, {max_abs_qvel}")
        self.task = task
        self.episode_length = episode_length
        self.max_abs_qpos = max_abs_qpos
        self.max_abs_qvel = max_abs_qvel
        self.terminate_on_success = terminate_on_success
        self.spec = task.spec
        if (self.spec.observation_size, self.spec.action_size) != (task.observation_size, task.action_size):
            raise ValueError(
                f"{type(task).__name__}.spec describes a {self.spec.observation_size}-entry observation and "
                f"{self.spec.action_size} actions, but the task has observation_size "
                f"{task.observation_size} and action_size {task.action_size}")
        self.observation_size = task.observation_size
        self.action_size = task.action_size
        self._rebase: BaseRebase | None = None if self.spec.goal is None else self.spec.goal.rebase
        self.goal_context_size = 0 if self._rebase is None else self._rebase.context_size

    @property
    def mj_model(self) -> mujoco.MjModel:
        """The scene's compiled model (its task's)."""
        return self.task.mj_model

    def reset(self, key: jax.Array, dr_ranges: Any = None) -> State:
        """A fresh episode. key: a PRNG key; dr_ranges: the task's DR ranges (config's when None)."""
        key, k_task = jax.random.split(key)
        state = self.task.reset(k_task, dr_ranges)
        context = None if self.goal_context_size == 0 else jnp.zeros(self.goal_context_size, jnp.float32)
        return state.replace(episode=_fresh_episode(key, state.obs, context))

    def step(self, state: State, action: jax.Array) -> State:
        """One policy step; an ended episode is replaced by a fresh one in the same call."""
        if state.episode is None:
            raise ValueError("EpisodeEnv.step takes a state from EpisodeEnv.reset or step (this one has no "
                             "episode record: a bare task's state?)")
        nxt = self.task.step(state, action)
        finite = (
            _all_finite(nxt.physics) & jnp.all(jnp.isfinite(nxt.obs)) & jnp.isfinite(nxt.reward)
            & jnp.all(jnp.abs(nxt.physics.qpos) < self.max_abs_qpos)
            & jnp.all(jnp.abs(nxt.physics.qvel) < self.max_abs_qvel)
        )
        steps = state.episode.steps + 1
        success = jnp.where(finite, nxt.success, 0.0)
        ends_on_success = (success > 0.5) & self.terminate_on_success
        truncated = (~finite) | ((steps >= self.episode_length) & ~ends_on_success)
        done = ends_on_success | truncated
        reward = jnp.where(finite, nxt.reward, 0.0)
        metrics = {k: jnp.where(finite, v, 0.0) for k, v in nxt.metrics.items()}
        final_obs = jnp.where(finite, nxt.obs, state.obs)
        final_context = None
        if self._rebase is not None:
            context = self._rebase.goal_context
            final_context = jnp.where(finite, context(nxt), context(state))

        rng, k_reset = jax.random.split(state.episode.rng)
        fresh = self.task.reset(k_reset, nxt.info.dr_ranges)
        keep = lambda new, old: jnp.where(done, new, old)  # noqa: E731
        physics = jax.tree.map(keep, fresh.physics, _sanitised(nxt.physics))
        info = jax.tree.map(keep, fresh.info, nxt.info)
        obs = keep(fresh.obs, final_obs)
        episode = EpisodeInfo(
            steps=jnp.where(done, 0, steps),
            rng=rng,
            final_obs=final_obs,
            nan_resets=state.episode.nan_resets + (~finite).astype(jnp.int32),
            episode_return=jnp.where(done, 0.0, state.episode.episode_return + reward),
            final_context=final_context,
        )
        return State(
            physics=physics, obs=obs, reward=reward, done=done.astype(jnp.float32),
            truncation=truncated.astype(jnp.float32), success=success, metrics=metrics,
            info=info, episode=episode,
        )


def _fresh_episode(key: jax.Array, obs: jax.Array, final_context: jax.Array | None) -> EpisodeInfo:
    return EpisodeInfo(
        steps=jnp.zeros((), jnp.int32), rng=key, final_obs=jnp.zeros_like(obs),
        nan_resets=jnp.zeros((), jnp.int32), episode_return=jnp.zeros(()), final_context=final_context,
    )


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves))


def _sanitised(tree: Any) -> Any:
    """Non-finite entries replaced by 0, so a discarded NaN state cannot leak through `where`."""
    return jax.tree.map(lambda x: jnp.where(jnp.isfinite(x), x, 0.0), tree)
