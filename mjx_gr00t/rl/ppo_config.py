"""PPO's static side: the hyperparameters (`PPOConfig`), its networks, optimiser and learning-rate
schedule, and the action function used for evaluation and export. `ppo.py` trains with them.
"""

import dataclasses
from collections.abc import Callable
from typing import Annotated

import jax
import jax.numpy as jnp
import optax
import tyro
from flax import struct

from mjx_gr00t.rl.networks import (
    ActorIndices,
    GaussianPolicy,
    ValueNetwork,
    actor_obs,
    check_widths,
    gaussian_sample,
    get_activation,
    normalize_obs,
)
from mjx_gr00t.rl.ppo_losses import Params
from mjx_gr00t.rl.rollout import NormalizerState

LR_SCHEDULES: tuple[str, ...] = ("constant", "linear")

Policy = Callable[..., jax.Array]
"""(policy_params, normalizer, obs [..., D], key | None, actor_indices=None) -> action [..., A]."""


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
    total_iterations: Annotated[int | None, tyro.conf.Suppress] = None
    """Planned number of `train_step` calls; required by the 'linear' schedule. The runner sets it from
    --total-steps (no flag of its own)."""
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
            check_widths(name, getattr(self, name))
        get_activation(self.activation)

    @property
    def batch_size(self) -> int:
        """Samples per iteration: num_envs * unroll_length."""
        return self.num_envs * self.unroll_length

    @property
    def updates_per_iteration(self) -> int:
        """Optimiser steps per iteration: update_epochs * num_minibatches."""
        return self.update_epochs * self.num_minibatches


TRACED_FIELDS: tuple[str, ...] = ("learning_rate", "entropy_coef", "gamma", "gae_lambda", "clip_eps", "init_log_std")
"""PPOConfig fields a sweep may vary as data (`PPOHyper`) inside one compiled program; the others
change shapes or loop lengths, so each of their values compiles a program of its own."""


@struct.dataclass
class PPOHyper:
    """The traced hyperparameters of one run, each () float32 (leaves [G] when vmapped over a sweep).

    learning_rate: Adam's step size where the config's schedule starts (the schedule's shape, constant
    or linear decay, is the config's). init_log_std is applied once, by `ppo.with_log_std`. alpha: the
    residual's scale, replacing the alpha schedule's value (a sweep trains with a constant alpha)."""

    learning_rate: jax.Array
    entropy_coef: jax.Array
    gamma: jax.Array
    gae_lambda: jax.Array
    clip_eps: jax.Array
    init_log_std: jax.Array
    alpha: jax.Array


def hyper_of(config: PPOConfig, alpha: float) -> PPOHyper:
    """The config's own values (and `alpha`) as a PPOHyper of () float32 arrays."""
    values = {name: getattr(config, name) for name in TRACED_FIELDS}
    return PPOHyper(**{k: jnp.asarray(v, jnp.float32) for k, v in {**values, "alpha": alpha}.items()})


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


def make_policy(config: PPOConfig, deterministic: bool) -> Policy:
    """An action function `(policy_params, normalizer, obs, key) -> action` for evaluation/export.

    obs: [..., obs_dim] raw observations -> actions [..., A] clipped to [-1, 1]. Deterministic: the
    Gaussian mean (key ignored, may be None); otherwise one sample per row. actor_indices: the
    entries of the normalised obs the policy reads (`networks.actor_input_indices`; None: all).
    Not jitted.
    """

    def policy_fn(
        policy_params: Params, normalizer: NormalizerState, obs: jax.Array, key: jax.Array | None,
        actor_indices: ActorIndices = None,
    ) -> jax.Array:
        action_size = policy_params["params"]["log_std"].shape[-1]
        policy, _ = make_networks(config, action_size)
        obs_n = normalize_obs(config, normalizer, obs)
        mean, log_std = policy.apply(policy_params, actor_obs(actor_indices, obs_n))
        action = mean if deterministic else gaussian_sample(key, mean, log_std)
        return jnp.clip(action, -1.0, 1.0)

    return policy_fn
