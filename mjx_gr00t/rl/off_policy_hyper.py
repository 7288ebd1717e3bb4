"""The off-policy learners' hyperparameters as data: one compiled program trains several runs (vmapped)
that differ in learning rates, discount, Polyak rate, noise and the residual's alpha, as
`ppo.train_step_core` does for PPO. Used by `python -m train.sweep --algo sac|fast_td3`.

    names = traced_fields(config)                        # the fields that may differ inside one program
    hyper = hyper_of(config, alpha=1.0)                  # {name: () float32}, alpha included
    init = init_core(config, env, mesh)                  # (key, hyper) -> sac.TrainState
    step = train_step_core(config, env, apply_prob_fn, mesh)   # (state, hyper) -> (state, metrics)
    jax.jit(jax.vmap(step))(states, hypers)              # leaves [G, ...] and [G]

Inside the traced function the config is copied with those fields replaced by the traced values
(`with_traced`) and the unjitted train step is built from the copy (`sac.build_train_step`); every
other field stays a static Python value. With the config's own values the step trains as
`sac.make_train_step` does (equal up to float32 rounding of constants folded differently).
"""

import copy
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from mjx_gr00t.rl import sac
from mjx_gr00t.rl.off_policy_agent import OffPolicyConfig
from mjx_gr00t.rl.rollout import Env
from mjx_gr00t.rl.sac_config import SACConfig, Schedule
from mjx_gr00t.rl.td3_config import FastTD3Config

Hyper = dict[str, jax.Array]
"""{field name: () float32} for one run ([G] leaves when stacked over a sweep's runs); 'alpha' is the
residual's scale."""

COMMON: tuple[str, ...] = ("actor_learning_rate", "critic_learning_rate", "gamma", "tau", "reward_scale")
TRACED_FIELDS: dict[type, tuple[str, ...]] = {
    SACConfig: (*COMMON, "alpha_learning_rate", "init_alpha"),
    FastTD3Config: (*COMMON, "noise_std_min", "noise_std_max", "target_noise", "target_noise_clip", "action_l2"),
}
"""Per config type, the float fields that are data inside one program. The others (num_envs,
steps_per_iteration, updates, batch_size, buffer_capacity, widths, atoms and support, policy_delay,
warmup_steps, HER) set shapes, loop lengths or branches: each value compiles a program of its own."""


def traced_fields(config: OffPolicyConfig) -> tuple[str, ...]:
    """The fields of `config`'s type that `with_traced` may replace; TypeError for another config."""
    try:
        return TRACED_FIELDS[type(config)]
    except KeyError:
        raise TypeError(f"no off-policy learner takes a {type(config).__name__}") from None


def hyper_of(config: OffPolicyConfig, alpha: float) -> Hyper:
    """The config's own values (and the residual's `alpha`) as {name: () float32}."""
    values = {name: getattr(config, name) for name in traced_fields(config)}
    return {k: jnp.asarray(v, jnp.float32) for k, v in {**values, "alpha": alpha}.items()}


def with_traced(config: OffPolicyConfig, values: Mapping[str, Any]) -> OffPolicyConfig:
    """A copy of `config` whose fields in `values` hold those (traced) arrays, for building a train step
    inside a trace only: it skips the config's checks, and is neither hashable nor a valid config
    outside that trace. KeyError for a name that is not a traced field ('alpha' is ignored)."""
    allowed = traced_fields(config)
    unknown = sorted(set(values) - set(allowed) - {"alpha"})
    if unknown:
        raise KeyError(f"{unknown[0]!r} is not a traced field of {type(config).__name__}: {', '.join(allowed)}")
    traced = copy.copy(config)
    for name in allowed:
        if name in values:
            object.__setattr__(traced, name, values[name])
    return traced


def init_core(config: OffPolicyConfig, env: Env, mesh: Mesh | None) -> Callable[[jax.Array, Hyper], sac.TrainState]:
    """Unjitted `(key, hyper) -> TrainState`: `sac.init`'s state (no memory check) with the run's
    traced values (SAC: its initial temperature, init_alpha)."""

    def init(key: jax.Array, hyper: Hyper) -> sac.TrainState:
        return sac.build_init(with_traced(config, hyper), env, mesh)(key)

    return init


def train_step_core(config: OffPolicyConfig, env: Env, apply_prob_fn: Schedule | None,
                    mesh: Mesh | None) -> Callable[[sac.TrainState, Hyper], tuple[sac.TrainState, dict[str, jax.Array]]]:
    """Unjitted residual `(state, hyper) -> (state, metrics)`: one iteration of `sac.make_train_step`
    with the run's traced values and a constant residual alpha = hyper['alpha']. `apply_prob_fn`
    as in `sac.make_train_step` (static: the same for every run of a program)."""

    def step(ts: sac.TrainState, hyper: Hyper) -> tuple[sac.TrainState, dict[str, jax.Array]]:
        alpha = hyper["alpha"]
        train_step = sac.build_train_step(with_traced(config, hyper), env, lambda _: alpha, apply_prob_fn, mesh)
        return train_step(ts)

    return step
