"""Soft actor-critic (Haarnoja et al. 2018) that runs entirely under `jax.jit`, with optional HER
and residual RL. Generic over envs that follow `envs.base` (see `rollout.Env`). The same train step
drives the fast TD3-family learner: a `FastTD3Config` in place of the `SACConfig` swaps the learner,
its exploration and its metrics (`off_policy_agent`); rollout, replay, HER and residual are shared.

    config = SACConfig(num_envs=64, steps_per_iteration=8, utd_ratio=0.25, ...)
    state = init(config, env, jax.random.PRNGKey(0))   # checks the replay buffer fits in memory
    train_step = make_train_step(config, env)           # already jitted; donates its input
    for _ in range(n):
        state, metrics = train_step(state)

One `train_step` call = `steps_per_iteration` env steps of all `num_envs` envs (each step written
to the replay buffer), an observation-normaliser update with those observations, then
`updates_per_iteration` gradient updates, each on `batch_size` transitions drawn uniformly from the
buffer (HER-relabelled when `her`). Every update trains the two critics, then the actor, then the
temperature, then moves the target critics by Polyak averaging.

Residual mode (`alpha_fn` given): the env must be a `residual.ResidualTask` (wrapped by
`EpisodeEnv`), whose observation ends with the base action (the last A entries). The actor's
tanh output a in [-1, 1] becomes u = `residual.scale_residual(a, alpha)`, the env action. The critic sees the
summed action Q(obs, clip(base + u, -1, 1)), so its inputs keep their meaning when alpha changes.
During exploration each env applies u at each step with probability `apply_prob_fn(env_steps)`
(else u = 0: the base alone); evaluation (`make_policy`) always applies it in full.

Several devices: `init` and `make_train_step` take `mesh` (None: all of `jax.devices()`, see
`mjx_gr00t.distributed`). The env axis of the env state and of the replay buffer is split over
it, each update's batch too; the learner and normaliser are replicated and XLA averages the
gradients across devices. On one device the programs are exactly the single-device ones.

The pieces live in `sac_config` (SACConfig, networks, `make_policy`), `sac_learner` (the gradient
updates), `sac_losses` (the pure loss pieces), `replay`, `her` and `rollout` (the env protocol and
episode metrics); import them from those modules.
"""

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from brax.training.acme import running_statistics
from brax.training.types import UInt64
from flax import struct
from jax.sharding import Mesh

from mjx_gr00t import distributed
from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.spec import BaseRebase
from mjx_gr00t.residual import combine
from mjx_gr00t.rl import replay
from mjx_gr00t.rl.networks import ActorIndices, actor_input_indices, actor_obs, normalize_obs
from mjx_gr00t.rl.replay import ReplayBuffer, Transition
from mjx_gr00t.rl.rollout import Env, NormalizerState, RolloutStats, env_steps_float, reset_envs
from mjx_gr00t.rl.rollout import rollout_metrics, strong, zero_env_steps
from mjx_gr00t.rl.off_policy_agent import OffPolicyConfig, agent_for
from mjx_gr00t.rl.sac_config import Schedule
from mjx_gr00t.rl.sac_learner import env_action, goal_rebase

TrainStep = Callable[["TrainState"], tuple["TrainState", dict[str, jax.Array]]]


@struct.dataclass
class TrainState:
    """Everything SAC carries from one iteration to the next (checkpoint all of it to resume).

    learner: the agent's (`sac_learner.Learner`, `td3_learner.Learner`). normalizer: brax running
    statistics of observations. buffer: the replay
    `ReplayBuffer` of `Transition`s. env_state: batched env `State`, leaves [N, ...]. key: raw uint32
    PRNG key. iteration: () int32 `train_step` calls. env_steps: brax `UInt64` env steps so far.
    grad_updates: () int32 gradient updates so far. actor_indices: static; the observation entries
    the actor reads (`networks.actor_input_indices` of the env's spec; None: all).
    """

    learner: Any
    normalizer: NormalizerState
    buffer: ReplayBuffer
    env_state: State
    key: jax.Array
    iteration: jax.Array
    env_steps: UInt64
    grad_updates: jax.Array
    actor_indices: ActorIndices = struct.field(pytree_node=False, default=None)


@struct.dataclass
class ResidualSums:
    """Sums over a rollout's steps of per-step batch means, () float32 each (zeros outside residual
    mode): the fraction of envs that applied the residual, |base|, |u| and |base + u|."""

    applied: jax.Array
    base_abs: jax.Array
    residual_abs: jax.Array
    total_abs: jax.Array

    @classmethod
    def zeros(cls) -> "ResidualSums":
        zero = jnp.zeros((), jnp.float32)
        return cls(applied=zero, base_abs=zero, residual_abs=zero, total_abs=zero)

    def plus(self, step: "ResidualSums") -> "ResidualSums":
        """Field-wise sum, done as one add of stacked vectors (XLA then fuses the rollout exactly as it
        did when these sums were a [4] vector, so results stay bit-identical)."""
        total = jnp.stack(jax.tree.leaves(self)) + jnp.stack(jax.tree.leaves(step))
        return ResidualSums(*total)


@struct.dataclass
class RolloutCarry:
    """Scan carry of the rollout: env state, buffer, episode sums, residual action sums."""

    env_state: State
    buffer: ReplayBuffer
    stats: RolloutStats
    residual_sums: ResidualSums


def example_transition(env: Env, rebase: BaseRebase | None = None) -> Transition:
    """One unbatched float32 `Transition` of `env`'s sizes (zeros): the replay buffer's row shape;
    with `rebase`, the goal contexts too."""
    obs, zero = jnp.zeros((env.observation_size,), jnp.float32), jnp.zeros((), jnp.float32)
    context = None if rebase is None else jnp.zeros((rebase.context_size,), jnp.float32)
    return Transition(obs=obs, action=jnp.zeros((env.action_size,), jnp.float32), reward=zero,
                      done=zero, truncation=zero, next_obs=obs, obs_context=context, next_context=context)


def buffer_memory_bytes(config: OffPolicyConfig, env: Env) -> int:
    """Bytes the replay buffer of `config` takes on the device (report it at start-up)."""
    return replay.memory_bytes(config.buffer_capacity, example_transition(env, goal_rebase(config, env)))


def init(config: OffPolicyConfig, env: Env, key: jax.Array, available_bytes: int | None = None, *,
         mesh: Mesh | None = None) -> TrainState:
    """A fresh TrainState: networks, optimisers, normaliser, an empty buffer and reset envs.

    Raises ValueError when the buffer would not fit in `available_bytes` (None: the free memory
    of the first device, see `replay.available_memory_bytes`; with a mesh of accelerators each
    must hold its share, CPU devices share one memory), or when num_envs is not a multiple of the
    mesh's device count. key: raw uint32 PRNG key. mesh: devices to split the envs over (None:
    all; see `place_state`).
    """
    mesh = distributed.resolve_mesh(mesh)
    distributed.check_divisible(config.num_envs, mesh)
    own_memory = mesh is not None and mesh.devices.flat[0].platform != "cpu"
    per_device = config.buffer_capacity // (distributed.num_shards(mesh) if own_memory else 1)
    replay.check_memory(per_device, example_transition(env, goal_rebase(config, env)), available_bytes)
    return _jitted_init(config, env, mesh)(key)


def place_state(ts: TrainState, mesh: Mesh | None) -> TrainState:
    """Inside jit: env state and buffer split over the mesh on their env axes, the rest replicated."""
    if mesh is None:
        return ts
    placed = distributed.replicate(ts.replace(env_state=None, buffer=None), mesh)
    return placed.replace(env_state=distributed.shard_axis(ts.env_state, mesh),
                          buffer=replay.place(ts.buffer, mesh))


@functools.lru_cache(maxsize=16)
def _jitted_init(config: OffPolicyConfig, env: Env, mesh: Mesh | None) -> Callable[[jax.Array], TrainState]:
    return jax.jit(build_init(config, env, mesh))


def build_init(config: OffPolicyConfig, env: Env, mesh: Mesh | None) -> Callable[[jax.Array], TrainState]:
    """The unjitted `key -> TrainState` behind `init` (no memory check). `config` may hold traced
    hyperparameters (`off_policy_hyper.with_traced`), so nothing here is cached."""
    indices = actor_input_indices(env.spec)
    actor_size = None if indices is None else len(indices)

    def _init(key: jax.Array) -> TrainState:
        key, k_actor, k_critic, k_env = jax.random.split(key, 4)
        state = TrainState(
            learner=agent_for(config).init_learner(config, env.observation_size, env.action_size, k_actor, k_critic, actor_size),
            normalizer=running_statistics.init_state(jnp.zeros((env.observation_size,), jnp.float32)),
            buffer=replay.allocate(config.buffer_capacity, example_transition(env, goal_rebase(config, env)),
                                   config.num_envs),
            env_state=reset_envs(env, k_env, config.num_envs), key=key,
            iteration=jnp.zeros((), jnp.int32), env_steps=zero_env_steps(),
            grad_updates=jnp.zeros((), jnp.int32), actor_indices=indices,
        )
        return place_state(strong(state), mesh)

    return _init


def check_residual_env(env: Env) -> None:
    """ValueError when an env's observation layout shows it does not end with the base action."""
    last = env.spec.obs_layout[-1]
    if last != ("base_action", env.action_size):
        raise ValueError(
            "residual SAC needs an env whose observation ends with the base action (a "
            f"residual.ResidualTask in EpisodeEnv); this one's layout ends with {last!r}"
        )


def make_train_step(
    config: OffPolicyConfig, env: Env, alpha_fn: Schedule | None = None,
    apply_prob_fn: Schedule | None = None, donate: bool = True, *, mesh: Mesh | None = None,
) -> TrainStep:
    """The jitted `train_step(TrainState) -> (TrainState, metrics)`; one call = one SAC iteration.

    The same arguments give back the same function, compiled once (no recompiles afterwards).
    mesh: devices to split the envs over, as in `init` (None: all of `jax.devices()`).
    alpha_fn: residual mode (see the module doc): env steps so far -> residual scale alpha.
    apply_prob_fn: residual mode only; env steps so far -> probability in [0, 1] that an env
    applies its residual at an exploration step (None: always).
    donate: donate the input TrainState (the buffer is updated in place, not copied); do not use a
    state after passing it in.

    metrics, () float32 each: the `rollout_metrics` (rollout/{ep_rew_mean, ep_len_mean,
    success_rate} over episodes completed in this iteration, NaN if none; rollout/{episodes,
    nan_resets, reward_mean}; the batch mean of every env metric), loss/{actor, critic, alpha},
    train/{alpha (temperature), q_mean, entropy} (means over the updates; 0 while no updates run),
    train/updates (this call), train/random_actions (1 during warm-up), buffer/size (transitions
    held), and in residual mode residual/{alpha, apply_prob, applied_frac, base_abs, residual_abs,
    total_abs} (mean |action| entries of base, applied u and their sum) and residual/success_rate.
    """
    mesh = distributed.resolve_mesh(mesh)
    distributed.check_divisible(config.num_envs, mesh)
    return _make_train_step(config, env, alpha_fn, apply_prob_fn, donate, mesh)


@functools.lru_cache(maxsize=16)
def _make_train_step(
    config: OffPolicyConfig, env: Env, alpha_fn: Schedule | None, apply_prob_fn: Schedule | None,
    donate: bool, mesh: Mesh | None,
) -> TrainStep:
    train_step = build_train_step(config, env, alpha_fn, apply_prob_fn, mesh)
    return jax.jit(train_step, donate_argnums=(0,) if donate else ())


def build_train_step(config: OffPolicyConfig, env: Env, alpha_fn: Schedule | None, apply_prob_fn: Schedule | None,
                     mesh: Mesh | None) -> TrainStep:
    """The unjitted train step behind `make_train_step`. `config` may hold traced hyperparameters and
    `alpha_fn` return a traced alpha (`off_policy_hyper`), so nothing here is cached."""
    if apply_prob_fn is not None and alpha_fn is None:
        raise ValueError("apply_prob_fn is for residual training; give alpha_fn as well")
    residual = alpha_fn is not None
    if residual:
        check_residual_env(env)
    agent = agent_for(config)
    learner_step = agent.make_learner_step(config, env, residual, mesh)
    explore = agent.make_explore(config, env.action_size)
    indices = actor_input_indices(env.spec)
    a_size = env.action_size
    rebase = goal_rebase(config, env)
    goal_context = None if rebase is None else jax.vmap(rebase.goal_context)

    def rollout(ts: TrainState, key: jax.Array, res_alpha: jax.Array, apply_p: jax.Array
                ) -> tuple[RolloutCarry, jax.Array]:
        """steps_per_iteration steps of all envs, added to the buffer; also returns obs [T, N, D]."""
        random_phase = env_steps_float(ts.env_steps) < config.warmup_steps

        def env_step(carry: RolloutCarry, step_key: jax.Array) -> tuple[RolloutCarry, jax.Array]:
            state = carry.env_state
            k_pi, k_rand, k_apply = jax.random.split(step_key, 3)
            obs_n = normalize_obs(config, ts.normalizer, state.obs)
            a = explore(ts.learner, actor_obs(indices, obs_n), k_pi)
            a = jnp.where(random_phase, jax.random.uniform(k_rand, a.shape, a.dtype, -1.0, 1.0), a)
            applied = jax.random.bernoulli(k_apply, apply_p, (config.num_envs,)).astype(jnp.float32)
            u = env_action(a, res_alpha, residual) * (applied[:, None] if residual else 1.0)
            nxt = distributed.shard_axis(jax.vmap(env.step)(state, u), mesh)
            done = nxt.done
            next_obs = jnp.where(done[:, None] > 0.5, nxt.episode.final_obs, nxt.obs)
            transition = Transition(obs=state.obs, action=u, reward=nxt.reward, done=done,
                                    truncation=nxt.truncation, next_obs=next_obs)
            if goal_context is not None:
                transition = transition.replace(
                    obs_context=goal_context(state),
                    next_context=jnp.where(done[:, None] > 0.5, nxt.episode.final_context, goal_context(nxt)))
            sums = carry.residual_sums
            if residual:
                base = state.obs[:, -a_size:]
                sums = sums.plus(ResidualSums(
                    applied=jnp.mean(applied), base_abs=jnp.mean(jnp.abs(base)), residual_abs=jnp.mean(jnp.abs(u)),
                    total_abs=jnp.mean(jnp.abs(combine(base, u)))))
            buffer = replay.place(replay.add(carry.buffer, transition, done), mesh)
            return RolloutCarry(env_state=nxt, buffer=buffer,
                                stats=carry.stats.add(state, nxt), residual_sums=sums), state.obs

        carry0 = RolloutCarry(env_state=ts.env_state, buffer=ts.buffer, stats=RolloutStats.zeros(ts.env_state),
                              residual_sums=ResidualSums.zeros())
        return jax.lax.scan(env_step, carry0, jax.random.split(key, config.steps_per_iteration))

    def train_step(ts: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        if ts.actor_indices != indices:
            raise ValueError(f"this TrainState's actor reads observation entries {ts.actor_indices}, the "
                             f"env's spec says {indices}; build the state with `init` for this env")
        ts = place_state(ts, mesh)
        key, k_rollout, k_update = jax.random.split(ts.key, 3)
        steps = env_steps_float(ts.env_steps)
        res_alpha = jnp.asarray(alpha_fn(steps) if residual else 1.0, jnp.float32)
        apply_p = jnp.asarray(1.0 if apply_prob_fn is None else apply_prob_fn(steps), jnp.float32)
        carry, obs = rollout(ts, k_rollout, res_alpha, apply_p)
        normalizer = ts.normalizer
        if config.normalize_obs:
            normalizer = running_statistics.update(normalizer, obs)
        env_steps = ts.env_steps + config.env_steps_per_iteration
        learn = env_steps_float(env_steps) >= config.warmup_steps
        learner, update_stats = learner_step(
            ts.learner, k_update, carry.buffer, normalizer, res_alpha, learn)
        n_updates = learn.astype(jnp.int32) * config.updates_per_iteration
        new_ts = TrainState(
            learner=learner, normalizer=normalizer, buffer=carry.buffer, env_state=carry.env_state,
            key=key, iteration=ts.iteration + 1, env_steps=env_steps,
            grad_updates=ts.grad_updates + n_updates, actor_indices=indices,
        )
        new_ts = jax.tree.map(lambda new, old: new.astype(old.dtype), new_ts, ts)

        metrics = {
            **rollout_metrics(carry.stats, ts.env_state, carry.env_state, config.env_steps_per_iteration),
            **update_stats,
            **agent.learner_metrics(learner),
            "train/updates": n_updates.astype(jnp.float32),
            "train/random_actions": (steps < config.warmup_steps).astype(jnp.float32),
            "buffer/size": replay.num_transitions(carry.buffer).astype(jnp.float32),
        }
        if residual:
            sums = jax.tree.map(lambda x: x / config.steps_per_iteration, carry.residual_sums)
            metrics.update({
                "residual/alpha": res_alpha, "residual/apply_prob": apply_p,
                "residual/applied_frac": sums.applied, "residual/base_abs": sums.base_abs,
                "residual/residual_abs": sums.residual_abs, "residual/total_abs": sums.total_abs,
                "residual/success_rate": metrics["rollout/success_rate"],
            })
        metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
        return place_state(new_ts, mesh), distributed.replicate(metrics, mesh)

    return train_step
