"""SAC (+ HER) as the runner drives it: its `Algo` record (see mjx_gr00t.rl.algo)."""

import functools
from typing import Any


from mjx_gr00t.export.write import sac_actor_as_mean_params
from mjx_gr00t.rl import her, sac
from mjx_gr00t.rl.algo import Algo, ExportNetwork, PolicyFn, PolicyParams, Schedules
from mjx_gr00t.rl.networks import actor_normalizer
from mjx_gr00t.rl.sac_config import SACConfig, make_policy
from mjx_gr00t.rl.sac_learner import goal_rebase


def check(config: SACConfig, env: Any) -> None:
    """HER needs a goal-conditioned env (ValueError saying so)."""
    if config.her:
        her.goal_spec(env)


def make_train_step(config: SACConfig, env: Any, schedules: Schedules) -> Any:
    return sac.make_train_step(config, env, alpha_fn=schedules.alpha, apply_prob_fn=schedules.apply_prob,
                               donate=False)


def inference_params(state: sac.TrainState) -> PolicyParams:
    return PolicyParams(network=state.learner.actor_params, normalizer=state.normalizer,
                        actor_indices=state.actor_indices)


@functools.lru_cache(maxsize=16)
def _policy_fn(config: SACConfig) -> PolicyFn:
    """Deterministic residual: tanh of the actor's mean."""
    act = make_policy(config, deterministic=True)
    return lambda params, obs: act(params.network, params.normalizer, obs, actor_indices=params.actor_indices)


def _export_params(config: SACConfig, params: PolicyParams, action_size: int) -> tuple[Any, Any]:
    """The actor's mean head and the normaliser of the entries it reads."""
    return (sac_actor_as_mean_params(params.network, action_size),
            actor_normalizer(params.normalizer, params.actor_indices))


def _export_network(config: SACConfig) -> ExportNetwork:
    return ExportNetwork(hidden=tuple(config.actor_hidden), activation=config.activation,
                         normalize_obs=config.normalize_obs, obs_clip=config.obs_clip, squash="tanh")


def describe(config: SACConfig, env: Any) -> str:
    her_text = "off"
    if config.her:
        her_text = "on" if goal_rebase(config, env) is None else "on (base recomputed for hindsight goals)"
    need = sac.buffer_memory_bytes(config, env)
    return (f"HER {her_text}, {config.num_envs} envs, {config.env_steps_per_iteration:,} steps and "
            f"{config.updates_per_iteration} updates per iteration; replay buffer "
            f"{config.buffer_capacity:,} transitions = {need / 2**20:,.1f} MiB")


ALGO = Algo(
    name="sac", config_type=SACConfig, default_recipe="fetch_push/zero/sac",
    steps_per_iteration=lambda config: config.env_steps_per_iteration, resolve=lambda config, _: config,
    check=check, init=sac.init, make_train_step=make_train_step, inference_params=inference_params,
    policy_fn=_policy_fn, export_params=_export_params, export_network=_export_network, describe=describe,
    applies_residual_stochastically=True,
)
