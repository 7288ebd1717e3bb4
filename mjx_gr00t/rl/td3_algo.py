"""The fast TD3-family learner (+ HER) as the runner drives it: its `Algo` record (see
mjx_gr00t.rl.algo). It shares SAC's train step (`rl.sac`, rollout, replay, HER, residual) and swaps
the learner (`td3_learner`); `FastTD3Config` holds its recipe.
"""

import functools
from typing import Any

import jax

from mjx_gr00t.export.write import deterministic_actor_as_mean_params
from mjx_gr00t.rl import sac, sac_algo
from mjx_gr00t.rl.algo import Algo, ExportNetwork, PolicyFn, PolicyParams
from mjx_gr00t.rl.networks import actor_normalizer, actor_obs, normalize_obs
from mjx_gr00t.rl.td3_config import FastTD3Config
from mjx_gr00t.rl.td3_learner import make_networks


@functools.lru_cache(maxsize=16)
def _policy_fn(config: FastTD3Config) -> PolicyFn:
    """Deterministic residual: the actor's tanh output, no exploration noise."""

    def policy(params: PolicyParams, obs: jax.Array) -> jax.Array:
        action_size = params.network["params"]["net"]["head"]["bias"].shape[-1]
        actor, _ = make_networks(config, action_size)
        obs_n = normalize_obs(config, params.normalizer, obs)
        return actor.apply(params.network, actor_obs(params.actor_indices, obs_n))

    return policy


def _export_params(config: FastTD3Config, params: PolicyParams, action_size: int) -> tuple[Any, Any]:
    """The actor (its pre-tanh MLP as the export's mean head) and the normaliser of the entries it reads."""
    return (deterministic_actor_as_mean_params(params.network, action_size),
            actor_normalizer(params.normalizer, params.actor_indices))


def _export_network(config: FastTD3Config) -> ExportNetwork:
    return ExportNetwork(hidden=tuple(config.actor_hidden), activation=config.activation,
                         normalize_obs=config.normalize_obs, obs_clip=config.obs_clip, squash="tanh")


def _describe(config: FastTD3Config, env: Any) -> str:
    return (f"{sac_algo.describe(config, env)}; batch {config.batch_size}, "
            f"{config.samples_per_env_step:g} gradient samples per env step")


ALGO = Algo(
    name="fast_td3", config_type=FastTD3Config, default_recipe="paper_square/ik/fast_td3",
    steps_per_iteration=lambda config: config.env_steps_per_iteration, resolve=lambda config, _: config,
    check=sac_algo.check, init=sac.init, make_train_step=sac_algo.make_train_step,
    inference_params=sac_algo.inference_params, policy_fn=_policy_fn, export_params=_export_params,
    export_network=_export_network, describe=_describe, applies_residual_stochastically=True,
)
