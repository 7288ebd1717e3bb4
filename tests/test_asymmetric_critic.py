"""Asymmetric actor-critic on the paper rig's `robot` observations, for PPO and SAC alike: the
actor's input is the actor layout alone (its first kernel, evaluation and the export), the critic's
the whole observation; one iteration of each trains.

One tiny env (C MuJoCo, 4 envs) and one train step per algorithm; compiles are the cost (about 30 s
per algorithm on a 2-core CPU), so each algorithm is one test."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_rig_config import PaperRigConfig
from mjx_gr00t.export.read import export_policy_fn, load_export
from mjx_gr00t.rl import algos, ppo, sac
from mjx_gr00t.rl.algo import PolicyParams
from mjx_gr00t.rl.networks import actor_input_indices, actor_obs
from mjx_gr00t.rl.ppo_config import PPOConfig
from mjx_gr00t.rl.sac_config import SACConfig
from mjx_gr00t.runner.config import RunConfig, SceneSettings
from mjx_gr00t.runner.export import write_run_export

ENV = registry.make("paper_square", PaperRigConfig(engine="c", num_envs=4, obs_mode="robot"))
SPEC = ENV.spec
PPO_CONFIG = PPOConfig(num_envs=4, unroll_length=4, num_minibatches=2, update_epochs=1, policy_hidden=(8,),
                       value_hidden=(8,), zero_init_policy_head=False)
SAC_CONFIG = SACConfig(num_envs=4, steps_per_iteration=2, utd_ratio=0.25, batch_size=8, buffer_capacity=64,
                       actor_hidden=(8,), critic_hidden=(8,), zero_init_actor_head=False, warmup_steps=0)
CONFIGS: dict[str, Any] = {"ppo": PPO_CONFIG, "sac": SAC_CONFIG}


def test_the_robot_mode_has_critic_only_entries() -> None:
    assert SPEC.critic_only and SPEC.actor_observation_size < SPEC.observation_size
    assert actor_input_indices(SPEC) == SPEC.actor_indices
    obs = jnp.arange(SPEC.observation_size, dtype=jnp.float32)
    np.testing.assert_array_equal(actor_obs(SPEC.actor_indices, obs), np.asarray(SPEC.actor_indices))
    assert actor_obs(None, obs) is obs  # no critic-only entries: no gather at all


@pytest.mark.parametrize("name", ["ppo", "sac"])
def test_actor_reads_its_entries_alone_in_training_evaluation_and_export(name: str, tmp_path) -> None:
    """One test per algorithm, so that two test workers compile one algorithm each."""
    if name == "ppo":
        state, metrics = ppo.make_train_step(PPO_CONFIG, ENV)(ppo.init(PPO_CONFIG, ENV, jax.random.PRNGKey(0)))
    else:
        state = sac.init(SAC_CONFIG, ENV, jax.random.PRNGKey(0))
        state, metrics = sac.make_train_step(SAC_CONFIG, ENV, donate=False)(state)
    _check_training(name, state, metrics)
    _check_policy(name, state)
    _check_export(name, state, tmp_path)


def _first_kernel(mlp: dict[str, Any]) -> np.ndarray:
    return np.asarray(mlp["hidden_0"]["kernel"])


def _check_training(name: str, state: Any, metrics: dict[str, jax.Array]) -> None:
    """One iteration ran; the actor's first kernel takes the actor's entries, the critic's all."""
    assert np.isfinite(float(metrics["rollout/reward_mean"]))
    assert state.actor_indices == SPEC.actor_indices
    d, d_actor = SPEC.observation_size, SPEC.actor_observation_size
    if name == "ppo":
        assert np.isfinite(float(metrics["loss/value"])) and float(metrics["train/grad_norm"]) > 0
        assert _first_kernel(state.policy_params["params"]["mean"]).shape[0] == d_actor
        assert _first_kernel(state.value_params["params"]["value"]).shape[0] == d
    else:
        assert int(state.grad_updates) == SAC_CONFIG.updates_per_iteration > 0
        assert np.isfinite(float(metrics["loss/critic"])) and np.isfinite(float(metrics["loss/actor"]))
        assert _first_kernel(state.learner.actor_params["params"]["net"]).shape[0] == d_actor
        for q in ("q0", "q1"):  # Q(obs, action): the whole observation and the action
            assert _first_kernel(state.learner.critic_params["params"][q]).shape[0] == d + SPEC.action_size
    assert state.normalizer.mean.shape == (d,)  # one normaliser over the whole observation


def _perturbed(obs: jax.Array, names: list[str]) -> jax.Array:
    for name in names:
        sl = SPEC.obs_slice(name)
        obs = obs.at[:, sl].add(0.5 + jnp.arange(sl.stop - sl.start, dtype=jnp.float32) * 0.1)
    return obs


def _check_policy(name: str, state: Any) -> None:
    """The evaluation policy ignores the critic-only entries and follows the actor's."""
    algo = algos.get(name)
    params = algo.inference_params(state)
    assert params.actor_indices == SPEC.actor_indices
    policy_fn = algo.policy_fn(CONFIGS[name])
    obs = state.env_state.obs
    act = np.asarray(policy_fn(params, obs))
    np.testing.assert_array_equal(np.asarray(policy_fn(params, _perturbed(obs, list(SPEC.critic_only)))), act)
    actor_names = [n for n, _ in SPEC.actor_layout]
    assert not np.allclose(np.asarray(policy_fn(params, _perturbed(obs, actor_names))), act)


def _check_export(name: str, state: Any, out: Any) -> None:
    """The export lists the actor's entries alone, with their normaliser, and acts as the policy."""
    algo = algos.get(name)
    params: PolicyParams = algo.inference_params(state)
    config = RunConfig(algo=CONFIGS[name], scene=SceneSettings("paper_square", "zero", engine="c"))
    write_run_export(str(out), config, algo, ENV, params)
    tensors, meta = load_export(out)
    assert [(e["name"], e["size"]) for e in meta["observation_layout"]] == list(SPEC.actor_layout)
    assert not set(SPEC.critic_only) & {e["name"] for e in meta["observation_layout"]}
    assert meta["obs_dim"] == SPEC.actor_observation_size
    assert tensors["obs_mean"].shape == tensors["obs_std"].shape == (SPEC.actor_observation_size,)
    idx = np.asarray(SPEC.actor_indices)
    np.testing.assert_array_equal(tensors["obs_mean"], np.asarray(state.normalizer.mean)[idx])
    np.testing.assert_array_equal(tensors["obs_std"], np.asarray(state.normalizer.std)[idx])
    obs = state.env_state.obs
    exported = np.asarray(export_policy_fn(tensors, meta)(obs[:, idx]))
    np.testing.assert_allclose(exported, np.asarray(algo.policy_fn(CONFIGS[name])(params, obs)), atol=1e-5)
