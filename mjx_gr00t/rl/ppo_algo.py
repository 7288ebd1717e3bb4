"""PPO as the runner drives it: its `Algo` record (see mjx_gr00t.rl.algo)."""

import dataclasses
import functools
from typing import Any

import jax

from mjx_gr00t.rl import ppo
from mjx_gr00t.rl.algo import Algo, ExportNetwork, PolicyFn, PolicyParams, Schedules
from mjx_gr00t.rl.networks import actor_normalizer
from mjx_gr00t.rl.ppo_config import PPOConfig, make_policy


def _resolve(config: PPOConfig, total_iterations: int) -> PPOConfig:
    """The learning rate decays to the run's last iteration."""
    return dataclasses.replace(config, total_iterations=total_iterations)


def _check(config: PPOConfig, env: Any) -> None:
    """PPO serves any env."""


def _make_train_step(config: PPOConfig, env: Any, schedules: Schedules) -> Any:
    return ppo.make_train_step(config, env, alpha_fn=schedules.alpha)


def _inference_params(state: ppo.TrainState) -> PolicyParams:
    return PolicyParams(network=state.policy_params, normalizer=state.normalizer,
                        actor_indices=state.actor_indices)


@functools.lru_cache(maxsize=16)
def _policy_fn(config: PPOConfig) -> PolicyFn:
    """Deterministic residual: the Gaussian mean, clipped to [-1, 1]."""
    act = make_policy(config, deterministic=True)
    return lambda params, obs: act(params.network, params.normalizer, obs, None, params.actor_indices)


def _export_params(config: PPOConfig, params: PolicyParams, action_size: int) -> tuple[Any, Any]:
    """The policy's params and the normaliser of the entries it reads."""
    return params.network, actor_normalizer(params.normalizer, params.actor_indices)


def _export_network(config: PPOConfig) -> ExportNetwork:
    return ExportNetwork(hidden=tuple(config.policy_hidden), activation=config.activation,
                         normalize_obs=config.normalize_obs, obs_clip=config.obs_clip, squash="clip")


def _describe(config: PPOConfig, env: Any) -> str:
    return f"{config.num_envs} envs, {config.batch_size:,} steps/iteration"


def _init(config: PPOConfig, env: Any, key: jax.Array) -> ppo.TrainState:
    return ppo.init(config, env, key)


ALGO = Algo(
    name="ppo", config_type=PPOConfig, default_recipe="paper_square/ik/ppo",
    steps_per_iteration=lambda config: config.batch_size, resolve=_resolve, check=_check, init=_init,
    make_train_step=_make_train_step, inference_params=_inference_params, policy_fn=_policy_fn,
    export_params=_export_params, export_network=_export_network, describe=_describe,
)
