"""A PPO trainer that runs entirely under `jax.jit`, generic over envs that follow `envs.base`.

    config = PPOConfig(num_envs=1024, unroll_length=32, ...)
    state = init(config, env, jax.random.PRNGKey(0))
    train_step = make_train_step(config, env)        # already jitted
    for _ in range(n):
        state, metrics = train_step(state)           # one rollout + one PPO update

One `train_step` call = a rollout of `unroll_length` (T) steps on all `num_envs` (B) envs, an
observation-normaliser update with that rollout's observations, GAE over [T, B], and
`update_epochs` x `num_minibatches` minibatch updates. The env is used per env and vmapped here:
`env.reset(key) -> State`, `env.step(State, action) -> State` (see `mjx_gr00t.envs.base.State`).
Where `env.spec` has critic-only entries, the policy reads only the normalised observation's actor
entries (`networks.actor_obs`) and the value network all of it.

Several devices: `init` and `make_train_step` take `mesh` (None: all of `jax.devices()`, see
`mjx_gr00t.distributed`). The env axis B of the env state, the rollout and each minibatch is split
over the mesh, the rest is replicated, and XLA averages the gradients across devices. On one
device the programs are exactly the single-device ones.

The pieces live in `ppo_config` (PPOConfig, networks, optimiser, `make_policy`), `ppo_losses` (GAE,
the clipped loss), `networks` (the flax modules) and `rollout` (the env protocol and episode metrics);
import them from those modules.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from brax.training.acme import running_statistics
from brax.training.types import UInt64
from flax import struct
from jax.sharding import Mesh

from mjx_gr00t import distributed
from mjx_gr00t.envs.base import State
from mjx_gr00t.residual import scale_residual
from mjx_gr00t.rl.networks import ActorIndices, actor_input_indices, actor_obs, gaussian_log_prob, gaussian_sample
from mjx_gr00t.rl.networks import normalize_obs
from mjx_gr00t.rl.ppo_config import PPOConfig, PPOHyper, learning_rate_schedule, make_networks, make_optimizer
from mjx_gr00t.rl.ppo_losses import Minibatch, Params, PPOParams, compute_gae, ppo_loss
from mjx_gr00t.rl.rollout import (
    Env,
    NormalizerState,
    RolloutStats,
    env_steps_float,
    reset_envs,
    rollout_metrics,
    strong,
    zero_env_steps,
)

TrainStep = Callable[["TrainState"], tuple["TrainState", dict[str, jax.Array]]]
HyperTrainStep = Callable[["TrainState", PPOHyper], tuple["TrainState", dict[str, jax.Array]]]


@struct.dataclass
class TrainState:
    """Everything PPO carries from one iteration to the next.

    policy_params, value_params: flax variables of `GaussianPolicy` / `ValueNetwork`.
    opt_state: optax state over `PPOParams(policy_params, value_params)`.
    normalizer: brax running statistics of the observations.
    env_state: the batched env `State`, leaves [B, ...].
    key: raw uint32 PRNG key (2,). iteration: () int32, completed `train_step` calls.
    env_steps: env steps taken so far as brax's two-uint32 `UInt64` (exact beyond 2^32);
        `int(state.env_steps)` gives a Python int.
    actor_indices: static; the observation entries the policy reads (`networks.actor_input_indices`
        of the env's spec; None: all).
    """

    policy_params: Params
    value_params: Params
    opt_state: optax.OptState
    normalizer: NormalizerState
    env_state: State
    key: jax.Array
    iteration: jax.Array
    env_steps: UInt64
    actor_indices: ActorIndices = struct.field(pytree_node=False, default=None)


@struct.dataclass
class Transition:
    """One rollout step for all envs, stacked by `lax.scan` into [T, B, ...].

    obs: [B, obs_dim] raw observation the action was chosen from. actions: [B, A] unclipped sample.
    rewards, dones, truncations: [B]. final_obs: [B, obs_dim], last obs of an episode ended here.
    """

    obs: jax.Array
    actions: jax.Array
    rewards: jax.Array
    dones: jax.Array
    truncations: jax.Array
    final_obs: jax.Array


@struct.dataclass
class RolloutCarry:
    """Scan carry of the rollout: the batched env state and running sums."""

    env_state: State
    stats: RolloutStats


@struct.dataclass
class UpdateCarry:
    """Scan carry of the minibatch updates."""

    params: PPOParams
    opt_state: optax.OptState


def init(config: PPOConfig, env: Env, key: jax.Array, *, mesh: Mesh | None = None) -> TrainState:
    """A fresh TrainState: new networks, optimiser, normaliser and `num_envs` reset envs.

    key: raw uint32 PRNG key from `jax.random.PRNGKey`. Runs jitted (compiled once per config,
    env object and mesh). Every leaf is given the dtype `train_step` returns, so that the jitted
    step never sees a new input signature. mesh: devices to split the envs over (None: all; see
    `place_state`); ValueError when num_envs is not a multiple of their number.
    """
    mesh = distributed.resolve_mesh(mesh)
    distributed.check_divisible(config.num_envs, mesh)
    return _jitted_init(config, env, mesh)(key)


def place_state(ts: TrainState, mesh: Mesh | None) -> TrainState:
    """Inside jit: the env state split over the mesh on its env axis, everything else replicated."""
    if mesh is None:
        return ts
    placed = distributed.replicate(ts.replace(env_state=None), mesh)
    return placed.replace(env_state=distributed.shard_axis(ts.env_state, mesh))


@functools.lru_cache(maxsize=16)
def _jitted_init(config: PPOConfig, env: Env, mesh: Mesh | None) -> Callable[[jax.Array], TrainState]:
    policy, value = make_networks(config, env.action_size)
    optimizer = make_optimizer(config)
    indices = actor_input_indices(env.spec)

    def _init(key: jax.Array) -> TrainState:
        key, k_policy, k_value, k_env = jax.random.split(key, 4)
        dummy_obs = jnp.zeros((env.observation_size,), jnp.float32)
        policy_params = policy.init(k_policy, actor_obs(indices, dummy_obs))
        value_params = value.init(k_value, dummy_obs)
        state = TrainState(
            policy_params=policy_params,
            value_params=value_params,
            opt_state=optimizer.init(PPOParams(policy=policy_params, value=value_params)),
            normalizer=running_statistics.init_state(dummy_obs),
            env_state=reset_envs(env, k_env, config.num_envs),
            key=key,
            iteration=jnp.zeros((), jnp.int32),
            env_steps=zero_env_steps(),
            actor_indices=indices,
        )
        return place_state(strong(state), mesh)

    return jax.jit(_init)


def make_train_step(
    config: PPOConfig, env: Env, alpha_fn: Callable[[jax.Array], jax.Array] | None = None, *,
    mesh: Mesh | None = None,
) -> TrainStep:
    """The jitted `train_step(TrainState) -> (TrainState, metrics)`; one call = one PPO iteration.

    The same (config, env, alpha_fn, mesh) gives back the same function, compiled once.
    mesh: devices to split the envs over, as in `init` (None: all of `jax.devices()`).

    alpha_fn: for residual RL, env steps so far () -> alpha (); the env is then stepped with
    `residual.scale_residual(action, alpha)` and metrics gain `residual/alpha`. None: the
    sampled action goes to the env as it is (the env clips it).

    Inputs are not donated. metrics: dict of () float32 scalars, reduced over the iteration:
    the `rollout_metrics` (rollout/{ep_rew_mean, ep_len_mean, success_rate} over the episodes
    completed in this rollout, NaN when rollout/episodes is 0; rollout/nan_resets, reward_mean; the
    batch mean of every env metric), loss/{policy, value, entropy}, train/{approx_kl, clip_frac,
    grad_norm} (means over minibatches), train/learning_rate (at the iteration's first update),
    train/policy_std, train/explained_variance; with alpha_fn also residual/{alpha, success_rate}.
    """
    mesh = distributed.resolve_mesh(mesh)
    distributed.check_divisible(config.num_envs, mesh)
    return _make_train_step(config, env, alpha_fn, mesh)


@functools.lru_cache(maxsize=16)
def _make_train_step(
    config: PPOConfig, env: Env, alpha_fn: Callable[[jax.Array], jax.Array] | None, mesh: Mesh | None
) -> TrainStep:
    core = train_step_core(config, env, alpha_fn, mesh)
    return jax.jit(lambda ts: core(ts, None))


def with_log_std(ts: TrainState, log_std: jax.Array) -> TrainState:
    """`ts` with every entry of the policy's log std set to `log_std` (() float; traced is fine):
    how a sweep gives each run its own initial exploration noise."""
    params = ts.policy_params["params"]
    old = params["log_std"]
    new = {**params, "log_std": jnp.full_like(old, log_std)}
    return ts.replace(policy_params={**ts.policy_params, "params": new})


def train_step_core(
    config: PPOConfig, env: Env, alpha_fn: Callable[[jax.Array], jax.Array] | None, mesh: Mesh | None
) -> HyperTrainStep:
    """The unjitted `(TrainState, PPOHyper | None) -> (TrainState, metrics)` behind `make_train_step`.

    hyper None: the config's values, exactly as `make_train_step`. A PPOHyper: its learning rate
    (Adam's updates scaled by hyper.learning_rate / config.learning_rate), entropy_coef, gamma,
    gae_lambda, clip_eps and alpha (which replaces `alpha_fn`'s value; `alpha_fn` must not be None)
    are data, so one compiled program serves every value; vmap it over a sweep's runs.
    `hyper.init_log_std` is not read here: apply it once with `with_log_std`."""
    policy, value = make_networks(config, env.action_size)
    optimizer = make_optimizer(config)
    schedule = learning_rate_schedule(config)
    minibatch_size = config.batch_size // config.num_minibatches
    indices = actor_input_indices(env.spec)
    # The policy on the whole normalised obs [..., D]; policy.apply itself where it reads all of it.
    policy_apply = policy.apply if indices is None else (
        lambda params, obs_n: policy.apply(params, actor_obs(indices, obs_n)))

    def rollout(
        ts: TrainState, key: jax.Array, alpha: jax.Array | None
    ) -> tuple[Transition, State, RolloutStats]:
        """T steps of all envs with the current policy and normaliser; transitions [T, B, ...]."""

        def env_step(carry: RolloutCarry, step_key: jax.Array) -> tuple[RolloutCarry, Transition]:
            state = carry.env_state
            obs_n = normalize_obs(config, ts.normalizer, state.obs)
            mean, log_std = policy_apply(ts.policy_params, obs_n)
            actions = gaussian_sample(step_key, mean, log_std)
            env_actions = actions if alpha is None else scale_residual(actions, alpha)
            nxt = distributed.shard_axis(jax.vmap(env.step)(state, env_actions), mesh)
            transition = Transition(
                obs=state.obs, actions=actions, rewards=nxt.reward, dones=nxt.done,
                truncations=nxt.truncation, final_obs=nxt.episode.final_obs,
            )
            return RolloutCarry(env_state=nxt, stats=carry.stats.add(state, nxt)), transition

        carry0 = RolloutCarry(env_state=ts.env_state, stats=RolloutStats.zeros(ts.env_state))
        step_keys = jax.random.split(key, config.unroll_length)
        carry, transitions = jax.lax.scan(env_step, carry0, step_keys)
        return transitions, carry.env_state, carry.stats

    def sgd_step(
        carry: UpdateCarry, batch: Minibatch, hyper: PPOHyper | None
    ) -> tuple[UpdateCarry, dict[str, jax.Array]]:
        """One optimiser step on a minibatch ([M] samples)."""
        grad_fn = jax.value_and_grad(ppo_loss, has_aux=True)
        clip_eps = config.clip_eps if hyper is None else hyper.clip_eps
        entropy_coef = config.entropy_coef if hyper is None else hyper.entropy_coef
        (_, aux), grads = grad_fn(
            carry.params, batch, policy_apply, value.apply, clip_eps, config.value_clip_eps,
            entropy_coef, config.vf_coef,
        )
        updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
        if hyper is not None:
            lr_scale = hyper.learning_rate / config.learning_rate
            updates = jax.tree.map(lambda u: u * lr_scale, updates)
        params = optax.apply_updates(carry.params, updates)
        stats = {
            "loss/policy": aux.policy_loss, "loss/value": aux.value_loss,
            "loss/entropy": aux.entropy, "train/approx_kl": aux.approx_kl,
            "train/clip_frac": aux.clip_frac,
            "train/grad_norm": optax.tree.norm(grads),
        }
        return UpdateCarry(params=params, opt_state=opt_state), stats

    def epoch(
        carry: UpdateCarry, perm_key: jax.Array, data: Minibatch, hyper: PPOHyper | None
    ) -> tuple[UpdateCarry, dict[str, jax.Array]]:
        """A shuffled pass over the flat batch ([N] samples) in `num_minibatches` steps."""
        perm = jax.random.permutation(perm_key, config.batch_size)
        shuffled = jax.tree.map(
            lambda x: x[perm].reshape((config.num_minibatches, minibatch_size) + x.shape[1:]), data
        )
        # Each device takes a slice of every minibatch; XLA sums the gradients across devices.
        shuffled = distributed.shard_if_divisible(shuffled, mesh, axis=1)
        return jax.lax.scan(lambda c, b: sgd_step(c, b, hyper), carry, shuffled)

    def train_step(ts: TrainState, hyper: PPOHyper | None) -> tuple[TrainState, dict[str, jax.Array]]:
        if ts.actor_indices != indices:
            raise ValueError(f"this TrainState's actor reads observation entries {ts.actor_indices}, the "
                             f"env's spec says {indices}; build the state with `init` for this env")
        ts = place_state(ts, mesh)
        key, k_rollout, k_epochs = jax.random.split(ts.key, 3)
        alpha = None if alpha_fn is None else alpha_fn(env_steps_float(ts.env_steps))
        if hyper is not None:
            if alpha_fn is None:
                raise ValueError("a PPOHyper sets the residual's alpha: build the step with an alpha_fn")
            alpha = hyper.alpha
        transitions, env_state, stats = rollout(ts, k_rollout, alpha)

        normalizer = ts.normalizer
        if config.normalize_obs:
            normalizer = running_statistics.update(normalizer, transitions.obs)
        norm = lambda x: normalize_obs(config, normalizer, x)  # noqa: E731

        # Old log-probs and values under the updated normaliser, so the first ratio is exactly 1.
        obs_n = norm(transitions.obs)
        mean, log_std = policy_apply(ts.policy_params, obs_n)
        old_log_probs = gaussian_log_prob(transitions.actions, mean, log_std)
        # Values of obs[0..T]: obs[T] is the obs after the last step (bootstraps non-done steps).
        obs_ext = jnp.concatenate([transitions.obs, env_state.obs[None]])
        values_ext = value.apply(ts.value_params, norm(obs_ext))
        values = values_ext[:-1]
        final_values = value.apply(ts.value_params, norm(transitions.final_obs))
        next_values = jnp.where(transitions.truncations > 0.5, final_values, values_ext[1:])
        advantages, returns = compute_gae(
            transitions.rewards, values, next_values, transitions.dones, transitions.truncations,
            config.gamma if hyper is None else hyper.gamma,
            config.gae_lambda if hyper is None else hyper.gae_lambda,
        )
        flat = lambda x: x.reshape((config.batch_size,) + x.shape[2:])  # noqa: E731
        data = Minibatch(
            obs=flat(obs_n), actions=flat(transitions.actions), old_log_probs=flat(old_log_probs),
            old_values=flat(values), advantages=flat(advantages), returns=flat(returns),
        )

        carry0 = UpdateCarry(
            params=PPOParams(policy=ts.policy_params, value=ts.value_params), opt_state=ts.opt_state
        )
        epoch_keys = jax.random.split(k_epochs, config.update_epochs)
        carry, update_stats = jax.lax.scan(lambda c, k: epoch(c, k, data, hyper), carry0, epoch_keys)

        new_ts = TrainState(
            policy_params=carry.params.policy,
            value_params=carry.params.value,
            opt_state=carry.opt_state,
            normalizer=normalizer,
            env_state=env_state,
            key=key,
            iteration=ts.iteration + 1,
            env_steps=ts.env_steps + config.batch_size,
            actor_indices=indices,
        )
        new_ts = jax.tree.map(lambda new, old: new.astype(old.dtype), new_ts, ts)

        log_std_now = carry.params.policy["params"]["log_std"]
        residual_var = jnp.var(returns - values)
        learning_rate = jnp.asarray(schedule(ts.iteration * config.updates_per_iteration), jnp.float32)
        if hyper is not None:
            learning_rate = learning_rate * (hyper.learning_rate / config.learning_rate)
        metrics = {
            **rollout_metrics(stats, ts.env_state, env_state, config.batch_size),
            **{k: jnp.mean(v) for k, v in update_stats.items()},
            "train/learning_rate": learning_rate,
            "train/policy_std": jnp.mean(jnp.exp(log_std_now)),
            "train/explained_variance": 1.0 - residual_var / jnp.maximum(jnp.var(returns), 1e-8),
        }
        if alpha is not None:
            metrics["residual/alpha"] = jnp.asarray(alpha, jnp.float32)
            metrics["residual/success_rate"] = metrics["rollout/success_rate"]
        return place_state(new_ts, mesh), distributed.replicate(metrics, mesh)

    return train_step
