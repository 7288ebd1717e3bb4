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

Several devices: `init` and `make_train_step` take `mesh` (None: all of `jax.devices()`, see
`mjx_gr00t.distributed`). The env axis B of the env state, the rollout and each minibatch is split
over the mesh, the rest is replicated, and XLA averages the gradients across devices. On one
device the programs are exactly the single-device ones.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Protocol

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
from mjx_gr00t.rl.networks import (
    GaussianPolicy,
    ValueNetwork,
    gaussian_log_prob,
    gaussian_sample,
    get_activation,
    normalize_obs,
)
from mjx_gr00t.rl.ppo_losses import Minibatch, Params, PPOParams, compute_gae, ppo_loss

LR_SCHEDULES: tuple[str, ...] = ("constant", "linear")

NormalizerState = running_statistics.RunningStatisticsState
Policy = Callable[[Params, NormalizerState, jax.Array, jax.Array | None], jax.Array]
TrainStep = Callable[["TrainState"], tuple["TrainState", dict[str, jax.Array]]]


class Env(Protocol):
    """What PPO needs of an env (e.g. `EpisodeEnv`): pure per-env functions, vmapped by PPO.

    `State.episode` must carry `steps`, `episode_return`, `final_obs` and `nan_resets` as
    `EpisodeEnv` keeps them, and `step` must auto-reset ended episodes.
    """

    observation_size: int
    action_size: int

    def reset(self, key: jax.Array) -> State:
        """A fresh episode for one env."""
        ...

    def step(self, state: State, action: jax.Array) -> State:
        """One policy step of one env; action (action_size,), clipped to [-1, 1] by the env."""
        ...


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. Validated on construction (ValueError)."""

    num_envs: int = 256
    """B: envs stepped in parallel."""
    unroll_length: int = 32
    """T: env steps per env per iteration; a batch holds num_envs * unroll_length samples."""
    num_minibatches: int = 8
    """Minibatches each epoch splits the batch into; must divide num_envs * unroll_length."""
    update_epochs: int = 4
    """Passes over the batch per iteration."""
    learning_rate: float = 3e-4
    """Adam step size (the initial one under a decaying schedule)."""
    lr_schedule: str = "constant"
    """'constant', or 'linear' decay to 0 at the end of `total_iterations`."""
    total_iterations: int | None = None
    """Planned number of `train_step` calls; required by the 'linear' schedule."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_eps: float = 0.2
    """Clip range of the policy probability ratio."""
    value_clip_eps: float | None = None
    """Value-update clip range around old values; None (default): no clip, it does not help (arXiv:2006.05990)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 1.0
    """Global-norm gradient clip, over actor and critic together."""
    policy_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the policy-mean MLP."""
    value_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the critic MLP."""
    activation: str = "swish"
    """Hidden activation of both MLPs: one of networks.ACTIVATIONS."""
    init_log_std: float = 0.0
    """Initial value of every entry of the policy's learned log standard deviation."""
    normalize_obs: bool = True
    """Normalise observations with running mean/std (brax running_statistics) for both networks."""
    obs_clip: float | None = 10.0
    """Clip normalised observations to +-obs_clip (None: no clip); unused without normalize_obs."""
    zero_init_policy_head: bool = True
    """Start the policy-mean MLP's last layer at zero, so the initial mean action is exactly 0."""

    def __post_init__(self) -> None:
        for name in ("num_envs", "unroll_length", "num_minibatches", "update_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        batch = self.num_envs * self.unroll_length
        if batch % self.num_minibatches != 0:
            raise ValueError(
                f"num_envs * unroll_length = {batch} is not divisible by num_minibatches = "
                f"{self.num_minibatches}"
            )
        if batch // self.num_minibatches < 2:
            raise ValueError(f"minibatches need >= 2 samples, got {batch // self.num_minibatches}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if self.lr_schedule == "linear" and (self.total_iterations or 0) < 1:
            raise ValueError(
                f"lr_schedule='linear' needs total_iterations >= 1, got {self.total_iterations}"
            )
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        for name in ("clip_eps", "vf_coef", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("value_clip_eps", "obs_clip"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, got {value}")
        if not self.entropy_coef >= 0:
            raise ValueError(f"entropy_coef must be >= 0, got {self.entropy_coef}")
        for name in ("policy_hidden", "value_hidden"):
            widths = getattr(self, name)
            ok = isinstance(widths, tuple) and all(isinstance(w, int) and w > 0 for w in widths)
            if not ok:
                raise ValueError(f"{name} must be a tuple of positive ints, got {widths!r}")
        get_activation(self.activation)

    @property
    def batch_size(self) -> int:
        """Samples per iteration: num_envs * unroll_length."""
        return self.num_envs * self.unroll_length

    @property
    def updates_per_iteration(self) -> int:
        """Optimiser steps per iteration: update_epochs * num_minibatches."""
        return self.update_epochs * self.num_minibatches


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
    """

    policy_params: Params
    value_params: Params
    opt_state: optax.OptState
    normalizer: NormalizerState
    env_state: State
    key: jax.Array
    iteration: jax.Array
    env_steps: UInt64


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
class RolloutStats:
    """Sums over one rollout, all () float32; `metric_sums` per env metric key."""

    episodes: jax.Array
    return_sum: jax.Array
    length_sum: jax.Array
    success_sum: jax.Array
    reward_sum: jax.Array
    metric_sums: dict[str, jax.Array]


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


def learning_rate_schedule(config: PPOConfig) -> optax.Schedule:
    """Learning rate as a function of the optimiser step count."""
    if config.lr_schedule == "linear":
        total = config.total_iterations * config.updates_per_iteration
        return optax.linear_schedule(config.learning_rate, 0.0, transition_steps=total)
    return optax.constant_schedule(config.learning_rate)


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam with the configured learning-rate schedule."""
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adam(learning_rate_schedule(config), eps=1e-5),
    )


def make_networks(config: PPOConfig, action_size: int) -> tuple[GaussianPolicy, ValueNetwork]:
    """The (policy, critic) modules for `config`."""
    activation = get_activation(config.activation)
    policy = GaussianPolicy(
        action_size=action_size, hidden=config.policy_hidden, activation=activation,
        init_log_std=config.init_log_std, zero_init_head=config.zero_init_policy_head,
    )
    return policy, ValueNetwork(hidden=config.value_hidden, activation=activation)


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

    def _init(key: jax.Array) -> TrainState:
        key, k_policy, k_value, k_env = jax.random.split(key, 4)
        dummy_obs = jnp.zeros((env.observation_size,), jnp.float32)
        policy_params = policy.init(k_policy, dummy_obs)
        value_params = value.init(k_value, dummy_obs)
        env_state = jax.vmap(env.reset)(jax.random.split(k_env, config.num_envs))
        # A step's output fixes the dtypes (e.g. no weak types left over from reset).
        zero_action = jnp.zeros((config.num_envs, env.action_size), jnp.float32)
        stepped = jax.eval_shape(jax.vmap(env.step), env_state, zero_action)
        env_state = jax.tree.map(lambda x, s: x.astype(s.dtype), env_state, stepped)
        state = TrainState(
            policy_params=policy_params,
            value_params=value_params,
            opt_state=optimizer.init(PPOParams(policy=policy_params, value=value_params)),
            normalizer=running_statistics.init_state(dummy_obs),
            env_state=env_state,
            key=key,
            iteration=jnp.zeros((), jnp.int32),
            env_steps=UInt64(hi=jnp.zeros((), jnp.uint32), lo=jnp.zeros((), jnp.uint32)),
        )
        return place_state(_strong(state), mesh)

    return jax.jit(_init)


def make_policy(config: PPOConfig, deterministic: bool) -> Policy:
    """An action function `(policy_params, normalizer, obs, key) -> action` for evaluation/export.

    obs: [..., obs_dim] raw observations -> actions [..., A] clipped to [-1, 1]. Deterministic: the
    Gaussian mean (key ignored, may be None); otherwise one sample per row. Not jitted.
    """

    def policy_fn(
        policy_params: Params, normalizer: NormalizerState, obs: jax.Array, key: jax.Array | None
    ) -> jax.Array:
        action_size = policy_params["params"]["log_std"].shape[-1]
        policy, _ = make_networks(config, action_size)
        mean, log_std = policy.apply(policy_params, normalize_obs(config, normalizer, obs))
        action = mean if deterministic else gaussian_sample(key, mean, log_std)
        return jnp.clip(action, -1.0, 1.0)

    return policy_fn


def env_steps_float(env_steps: UInt64) -> jax.Array:
    """A brax UInt64 step counter as () float32 (exact up to 2^24, close enough beyond)."""
    return env_steps.hi.astype(jnp.float32) * 4294967296.0 + env_steps.lo.astype(jnp.float32)


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
    rollout/{ep_rew_mean, ep_len_mean, success_rate} over episodes completed during this
    rollout (0 when rollout/episodes is 0), rollout/episodes, rollout/nan_resets (new NaN resets,
    summed over envs), rollout/reward_mean, loss/{policy, value, entropy},
    train/{approx_kl, clip_frac, grad_norm} (means over minibatches), train/learning_rate (at the
    iteration's first update), train/policy_std, train/explained_variance, and the batch mean of
    every env metric as 'env/<key>' ('<key>' alone when it already contains '/').
    """
    mesh = distributed.resolve_mesh(mesh)
    distributed.check_divisible(config.num_envs, mesh)
    return _make_train_step(config, env, alpha_fn, mesh)


@functools.lru_cache(maxsize=16)
def _make_train_step(
    config: PPOConfig, env: Env, alpha_fn: Callable[[jax.Array], jax.Array] | None, mesh: Mesh | None
) -> TrainStep:
    policy, value = make_networks(config, env.action_size)
    optimizer = make_optimizer(config)
    schedule = learning_rate_schedule(config)
    minibatch_size = config.batch_size // config.num_minibatches

    def rollout(ts: TrainState, key: jax.Array) -> tuple[Transition, State, RolloutStats]:
        """T steps of all envs with the current policy and normaliser; transitions [T, B, ...]."""
        alpha = None if alpha_fn is None else alpha_fn(env_steps_float(ts.env_steps))

        def env_step(carry: RolloutCarry, step_key: jax.Array) -> tuple[RolloutCarry, Transition]:
            state = carry.env_state
            obs_n = normalize_obs(config, ts.normalizer, state.obs)
            mean, log_std = policy.apply(ts.policy_params, obs_n)
            actions = gaussian_sample(step_key, mean, log_std)
            env_actions = actions if alpha is None else scale_residual(actions, alpha)
            nxt = distributed.shard_axis(jax.vmap(env.step)(state, env_actions), mesh)
            done, s = nxt.done, carry.stats
            ep_return = state.episode.episode_return + nxt.reward
            ep_length = (state.episode.steps + 1).astype(jnp.float32)
            stats = RolloutStats(
                episodes=s.episodes + jnp.sum(done),
                return_sum=s.return_sum + jnp.sum(done * ep_return),
                length_sum=s.length_sum + jnp.sum(done * ep_length),
                success_sum=s.success_sum + jnp.sum(done * nxt.success),
                reward_sum=s.reward_sum + jnp.sum(nxt.reward),
                metric_sums={k: s.metric_sums[k] + jnp.sum(v) for k, v in nxt.metrics.items()},
            )
            transition = Transition(
                obs=state.obs, actions=actions, rewards=nxt.reward, dones=done,
                truncations=nxt.truncation, final_obs=nxt.episode.final_obs,
            )
            return RolloutCarry(env_state=nxt, stats=stats), transition

        zero = jnp.zeros((), jnp.float32)
        stats0 = RolloutStats(
            episodes=zero, return_sum=zero, length_sum=zero, success_sum=zero, reward_sum=zero,
            metric_sums={k: zero for k in ts.env_state.metrics},
        )
        carry0 = RolloutCarry(env_state=ts.env_state, stats=stats0)
        step_keys = jax.random.split(key, config.unroll_length)
        carry, transitions = jax.lax.scan(env_step, carry0, step_keys)
        return transitions, carry.env_state, carry.stats

    def sgd_step(carry: UpdateCarry, batch: Minibatch) -> tuple[UpdateCarry, dict[str, jax.Array]]:
        """One optimiser step on a minibatch ([M] samples)."""
        grad_fn = jax.value_and_grad(ppo_loss, has_aux=True)
        (_, aux), grads = grad_fn(
            carry.params, batch, policy.apply, value.apply, config.clip_eps, config.value_clip_eps,
            config.entropy_coef, config.vf_coef,
        )
        updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
        params = optax.apply_updates(carry.params, updates)
        stats = {
            "loss/policy": aux.policy_loss, "loss/value": aux.value_loss,
            "loss/entropy": aux.entropy, "train/approx_kl": aux.approx_kl,
            "train/clip_frac": aux.clip_frac,
            "train/grad_norm": optax.tree.norm(grads),
        }
        return UpdateCarry(params=params, opt_state=opt_state), stats

    def epoch(
        carry: UpdateCarry, perm_key: jax.Array, data: Minibatch
    ) -> tuple[UpdateCarry, dict[str, jax.Array]]:
        """A shuffled pass over the flat batch ([N] samples) in `num_minibatches` steps."""
        perm = jax.random.permutation(perm_key, config.batch_size)
        shuffled = jax.tree.map(
            lambda x: x[perm].reshape((config.num_minibatches, minibatch_size) + x.shape[1:]), data
        )
        # Each device takes a slice of every minibatch; XLA sums the gradients across devices.
        shuffled = distributed.shard_if_divisible(shuffled, mesh, axis=1)
        return jax.lax.scan(sgd_step, carry, shuffled)

    def train_step(ts: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        ts = place_state(ts, mesh)
        key, k_rollout, k_epochs = jax.random.split(ts.key, 3)
        transitions, env_state, stats = rollout(ts, k_rollout)

        normalizer = ts.normalizer
        if config.normalize_obs:
            normalizer = running_statistics.update(normalizer, transitions.obs)
        norm = lambda x: normalize_obs(config, normalizer, x)  # noqa: E731

        # Old log-probs and values under the updated normaliser, so the first ratio is exactly 1.
        obs_n = norm(transitions.obs)
        mean, log_std = policy.apply(ts.policy_params, obs_n)
        old_log_probs = gaussian_log_prob(transitions.actions, mean, log_std)
        # Values of obs[0..T]: obs[T] is the obs after the last step (bootstraps non-done steps).
        obs_ext = jnp.concatenate([transitions.obs, env_state.obs[None]])
        values_ext = value.apply(ts.value_params, norm(obs_ext))
        values = values_ext[:-1]
        final_values = value.apply(ts.value_params, norm(transitions.final_obs))
        next_values = jnp.where(transitions.truncations > 0.5, final_values, values_ext[1:])
        advantages, returns = compute_gae(
            transitions.rewards, values, next_values, transitions.dones, transitions.truncations,
            config.gamma, config.gae_lambda,
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
        carry, update_stats = jax.lax.scan(lambda c, k: epoch(c, k, data), carry0, epoch_keys)

        new_ts = TrainState(
            policy_params=carry.params.policy,
            value_params=carry.params.value,
            opt_state=carry.opt_state,
            normalizer=normalizer,
            env_state=env_state,
            key=key,
            iteration=ts.iteration + 1,
            env_steps=ts.env_steps + config.batch_size,
        )
        new_ts = jax.tree.map(lambda new, old: new.astype(old.dtype), new_ts, ts)

        episodes = stats.episodes
        per_episode = lambda total: total / jnp.maximum(episodes, 1.0)  # noqa: E731
        log_std_now = carry.params.policy["params"]["log_std"]
        residual_var = jnp.var(returns - values)
        new_nan_resets = jnp.sum(env_state.episode.nan_resets - ts.env_state.episode.nan_resets)
        metrics = {
            "rollout/ep_rew_mean": per_episode(stats.return_sum),
            "rollout/ep_len_mean": per_episode(stats.length_sum),
            "rollout/success_rate": per_episode(stats.success_sum),
            "rollout/episodes": episodes,
            "rollout/nan_resets": new_nan_resets.astype(jnp.float32),
            "rollout/reward_mean": stats.reward_sum / config.batch_size,
            **{k: jnp.mean(v) for k, v in update_stats.items()},
            "train/learning_rate": jnp.asarray(
                schedule(ts.iteration * config.updates_per_iteration), jnp.float32
            ),
            "train/policy_std": jnp.mean(jnp.exp(log_std_now)),
            "train/explained_variance": 1.0 - residual_var / jnp.maximum(jnp.var(returns), 1e-8),
        }
        for k, v in stats.metric_sums.items():
            metrics[k if "/" in k else f"env/{k}"] = v / config.batch_size
        if alpha_fn is not None:
            metrics["residual/alpha"] = alpha_fn(env_steps_float(ts.env_steps))
            metrics["residual/success_rate"] = metrics["rollout/success_rate"]
        return place_state(new_ts, mesh), distributed.replicate(metrics, mesh)

    return jax.jit(train_step)


def _strong(tree: object) -> object:
    """Every array leaf with its weak type removed (same dtype)."""
    return jax.tree.map(lambda x: jnp.asarray(x).astype(jnp.asarray(x).dtype), tree)
