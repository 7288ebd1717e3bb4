"""Our tasks as brax envs, so brax's own trainers (e.g. `brax.training.agents.ppo.train`) run them.

    from brax.training.agents.ppo import train as ppo
    env = to_brax(registry.make("paper_square", PaperCardConfig(engine="c")))
    make_policy, params, metrics = ppo.train(env, num_timesteps=..., episode_length=150, ...)

`BraxAdapter` wraps a bare `Task` (one env, no time limit, no auto-reset): brax's `training.wrap`
(applied by its trainers) adds vmap, its `EpisodeWrapper` (time limit, `info['truncation']`) and
its `AutoResetWrapper`. Note that brax's auto-reset restarts an ended env from the state its slot
was first reset to, not from a freshly drawn one; use `EpisodeEnv` for fresh draws per episode.

Mapping: `pipeline_state` is our `State`; `obs`, `reward` and `metrics` are copied from it;
`done` is our success (termination); `info` starts empty (brax's wrappers add their own keys).

NaN guard: when the physics, observation or reward of a step is non-finite, the reward and
metrics are set to 0, the observation and physics to their finite parts (non-finite entries
become 0), and `done` to 1, so that brax's auto-reset replaces that env and no NaN reaches the
learner. Unlike `EpisodeEnv`, no counter is kept.
"""

from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
from brax.envs import base as brax_base

from mjx_gr00t.envs.base import EpisodeEnv, State, Task, _all_finite, _sanitised


class BraxAdapter(brax_base.Env):
    """A `Task` as a brax `Env`, for one env (brax's wrappers vmap it)."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def reset(self, rng: jax.Array) -> brax_base.State:
        """A fresh episode from the task's configured DR ranges. rng: a PRNG key."""
        state = self.task.reset(rng)
        return brax_base.State(
            pipeline_state=state, obs=state.obs, reward=jnp.zeros(()), done=jnp.zeros(()),
            metrics=dict(state.metrics), info={},
        )

    def step(self, state: brax_base.State, action: jax.Array) -> brax_base.State:
        """One policy step. action: (action_size,); the task clips it to [-1, 1]."""
        nxt: State = self.task.step(state.pipeline_state, action)
        finite = _all_finite(nxt.physics) & jnp.all(jnp.isfinite(nxt.obs)) & jnp.isfinite(nxt.reward)
        reward = jnp.where(finite, nxt.reward, 0.0)
        done = jnp.where(finite, nxt.done, 1.0).astype(jnp.float32)
        obs = jnp.where(finite, nxt.obs, 0.0)
        metrics = {k: jnp.where(finite, v, 0.0) for k, v in nxt.metrics.items()}
        ours = nxt.replace(
            physics=_sanitised(nxt.physics), obs=obs, reward=reward, done=done, metrics=metrics,
        )
        return state.replace(
            pipeline_state=ours, obs=obs, reward=reward, done=done,
            metrics={**state.metrics, **metrics},
        )

    @property
    def observation_size(self) -> int:
        """Length of the observation vector."""
        return int(self.task.observation_size)

    @property
    def action_size(self) -> int:
        """Length of the action vector."""
        return int(self.task.action_size)

    @property
    def backend(self) -> str:
        """The physics engine's name (e.g. 'c', 'mjx'); informational, brax's trainers ignore it."""
        return self.task.engine_name


def to_brax(env_or_task: Any) -> BraxAdapter:
    """A brax env from an `EpisodeEnv` (its task is used; brax adds its own time limit) or a `Task`."""
    task = env_or_task.task if isinstance(env_or_task, EpisodeEnv) else env_or_task
    return BraxAdapter(task)
