"""What differs between the off-policy learners the one train step (`rl.sac`) drives: how a learner is
made, how it updates, how it explores, and what it reports. Chosen by the config's type.

    agent = agent_for(config)              # SACConfig -> SAC, FastTD3Config -> the fast TD3 learner
    learner = agent.init_learner(config, obs_size, action_size, k_actor, k_critic, actor_size)
    act = agent.make_explore(config, action_size)
    a = act(learner, obs_actor, key)       # [N, D'] normalised actor inputs -> [N, A] in [-1, 1]
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from mjx_gr00t.rl import sac_learner, td3_learner
from mjx_gr00t.rl.sac_config import SACConfig
from mjx_gr00t.rl.sac_config import make_networks as sac_networks
from mjx_gr00t.rl.sac_losses import tanh_gaussian_sample
from mjx_gr00t.rl.td3_config import FastTD3Config

OffPolicyConfig = SACConfig | FastTD3Config
"""The configs `rl.sac`'s train step takes."""

Explore = Callable[[Any, jax.Array, jax.Array], jax.Array]
"""(learner, normalised actor inputs [N, D'], key) -> exploration action [N, A] in [-1, 1]."""


@dataclasses.dataclass(frozen=True)
class OffPolicyAgent:
    """init_learner(config, obs_size, action_size, k_actor, k_critic, actor_size) -> learner.
    make_learner_step(config, env, residual, mesh) -> `sac_learner.LearnerStep`.
    make_explore(config, action_size) -> `Explore`. learner_metrics(learner) -> () float32 values the
    train step reports besides the update stats."""

    name: str
    init_learner: Callable[..., Any]
    make_learner_step: Callable[..., Any]
    make_explore: Callable[[Any, int], Explore]
    learner_metrics: Callable[[Any], dict[str, jax.Array]]


def _sac_explore(config: SACConfig, action_size: int) -> Explore:
    actor, _ = sac_networks(config, action_size)

    def explore(learner: sac_learner.Learner, obs_actor: jax.Array, key: jax.Array) -> jax.Array:
        mean, log_std = actor.apply(learner.actor_params, obs_actor)
        return tanh_gaussian_sample(key, mean, log_std)[0]

    return explore


def _td3_explore(config: FastTD3Config, action_size: int) -> Explore:
    actor, _ = td3_learner.make_networks(config, action_size)

    def explore(learner: td3_learner.Learner, obs_actor: jax.Array, key: jax.Array) -> jax.Array:
        return td3_learner.explore(config, actor, learner.actor_params, obs_actor, key)

    return explore


SAC = OffPolicyAgent(
    name="sac", init_learner=sac_learner.init_learner, make_learner_step=sac_learner.make_learner_step,
    make_explore=_sac_explore, learner_metrics=lambda learner: {"train/alpha": jnp.exp(learner.log_alpha)})
FAST_TD3 = OffPolicyAgent(
    name="fast_td3", init_learner=td3_learner.init_learner, make_learner_step=td3_learner.make_learner_step,
    make_explore=_td3_explore, learner_metrics=lambda learner: {})


def agent_for(config: Any) -> OffPolicyAgent:
    """The agent of an off-policy config; TypeError for any other config."""
    if isinstance(config, SACConfig):
        return SAC
    if isinstance(config, FastTD3Config):
        return FAST_TD3
    raise TypeError(f"no off-policy learner takes a {type(config).__name__}")
