"""Hindsight experience replay (Andrychowicz et al. 2017), `future` strategy, inside jit.

Goals live in the flat observation vector. A goal-conditioned env says where in its spec
(`env.spec.goal`, an `envs.spec.GoalSpec`): the achieved and desired goal slices and a vectorised
`compute_reward(achieved [..., G], desired [..., G]) -> reward [...]`. A wrapper keeps its task's goal
(e.g. `EpisodeEnv` around `ResidualTask` around a Fetch task: the residual wrapper appends the base
action at the end of the observation, so the inner task's slices stay valid).

`relabel` replaces, with probability k / (k + 1), a sampled transition's desired goal by the
achieved goal of the same episode at a uniformly drawn step t' >= t (the achieved goal in
next_obs of step t', as in the original HER: reaching it at step t itself counts), writes that goal
into the desired-goal slices of obs and next_obs, and recomputes the reward as
`compute_reward(achieved goal of next_obs, new goal)`.

Caveats, by design:
- a relabelled transition's reward is `compute_reward` alone: any other reward term of the env
  (e.g. `ResidualTask`'s residual penalty) is dropped for it;
- a relabelled transition is treated as not terminated (`done` keeps the episode structure,
  but `truncation` is set to 1 where `done` is 1, so learners bootstrap): reaching a hindsight goal
  does not end anything, matching Fetch's time-limit-only episodes;
- with a goal-conditioned residual base (`spec.goal.rebase`: the scripted Fetch controller reads
  the goal), the base action at the end of obs and next_obs is recomputed for the new goal from the
  stored goal contexts, and the stored residual u is re-expressed against it
  (u' = clip(base + u, -1, 1) - base'), so the critic's summed action clip(base' + u', -1, 1) is
  still the action the env executed. Bases that ignore the goal (zero, IK) need nothing.
"""

import jax
import jax.numpy as jnp
from flax import struct

from mjx_gr00t.envs.spec import BaseRebase, GoalSpec
from mjx_gr00t.residual import combine
from mjx_gr00t.rl import replay
from mjx_gr00t.rl.replay import ReplayBuffer, SampleIndex, Transition
from mjx_gr00t.rl.rollout import Env

STRATEGIES: tuple[str, ...] = ("future",)


def base_rebase(env: Env) -> BaseRebase | None:
    """How `env`'s observed base action follows a hindsight goal (`spec.goal.rebase`: a residual env
    whose base reads the goal); None when nothing needs recomputing."""
    goal = env.spec.goal
    return None if goal is None else goal.rebase


@struct.dataclass
class Relabelled:
    """batch: the transitions with hindsight goals, leaves [M, ...]. relabelled: [M] bool.

    future_time: [M] int32, the ring row the new goal came from (the sampled row where not relabelled).
    """

    batch: Transition
    relabelled: jax.Array
    future_time: jax.Array


def goal_spec(env: Env) -> GoalSpec:
    """`env.spec.goal`; ValueError saying what HER needs when the env has no goal."""
    goal = env.spec.goal
    if goal is None:
        raise ValueError(
            "HER needs a goal-conditioned scene (one whose spec has a goal: achieved and desired "
            "observation slices and a vectorised compute_reward, e.g. fetch_reach, fetch_push or "
            f"fetch_pick_place); {type(env).__name__} has none. Train without HER (--no-her / "
            "her=False) on this scene."
        )
    return goal


def relabel_probability(k: int) -> float:
    """Fraction of sampled transitions that get a hindsight goal: k / (k + 1)."""
    return k / (k + 1)


def relabel(
    key: jax.Array,
    index: SampleIndex,
    batch: Transition,
    buffer: ReplayBuffer,
    goals: GoalSpec,
    k: int = 4,
    strategy: str = "future",
    rebase: BaseRebase | None = None,
) -> Relabelled:
    """Hindsight goals for a sampled batch. Traceable; shapes [M, ...] as `replay.gather` gives.

    index: where `batch` was sampled from `buffer` (its data must be `Transition`s).
    k: relabelled-to-original ratio (k = 4: 80 % relabelled). strategy: only 'future'.
    rebase: recompute the observed base action for the new goal (the batch must carry
    `obs_context` and `next_context`; see the module doc).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"HER strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"HER k must be an int >= 0, got {k!r}")
    k_mask, k_future = jax.random.split(key)
    m = index.time.shape[0]
    mask = jax.random.uniform(k_mask, (m,)) < relabel_probability(k)
    future = replay.future_time(buffer, k_future, index)
    (a0, a1), (d0, d1) = goals.achieved, goals.desired
    future_achieved = buffer.data.next_obs[future, index.env, a0:a1]
    new_goal = jnp.where(mask[:, None], future_achieved, batch.obs[:, d0:d1])
    achieved = batch.next_obs[:, a0:a1]
    new_reward = goals.compute_reward(achieved, new_goal).astype(batch.reward.dtype)
    relabelled = batch.replace(
        obs=batch.obs.at[:, d0:d1].set(new_goal),
        next_obs=batch.next_obs.at[:, d0:d1].set(new_goal),
        reward=jnp.where(mask, new_reward, batch.reward),
        truncation=jnp.where(mask, jnp.maximum(batch.truncation, batch.done), batch.truncation),
    )
    if rebase is not None:
        relabelled = _rebased(relabelled, mask, new_goal, rebase)
    return Relabelled(batch=relabelled, relabelled=mask, future_time=jnp.where(mask, future, index.time))


def _rebased(batch: Transition, mask: jax.Array, goal: jax.Array, rebase: BaseRebase) -> Transition:
    """Where `mask` [M]: the base action (last A obs entries) of obs and next_obs recomputed for
    `goal` [M, G], and the residual re-expressed so the summed action is the executed one."""
    if batch.obs_context is None or batch.next_context is None:
        raise ValueError("rebasing hindsight goals needs transitions stored with obs_context and "
                         "next_context (the base's goal context); this buffer has none")
    n = rebase.action_size
    recompute = jax.vmap(rebase.base_for_goal)
    base, next_base = recompute(batch.obs_context, goal), recompute(batch.next_context, goal)
    old_base = batch.obs[:, -n:]
    executed = combine(old_base, batch.action)
    keep = mask[:, None]
    return batch.replace(
        obs=batch.obs.at[:, -n:].set(jnp.where(keep, base, old_base)),
        next_obs=batch.next_obs.at[:, -n:].set(jnp.where(keep, next_base, batch.next_obs[:, -n:])),
        action=jnp.where(keep, executed - base, batch.action),
    )
