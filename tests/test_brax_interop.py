"""Our paper env trains with brax's own, unmodified PPO through `BraxAdapter`."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import Env as BraxEnv
from brax.training.agents.ppo import networks as brax_ppo_networks
from brax.training.agents.ppo import train as brax_ppo

from mjx_gr00t import residual_env
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.brax_adapter import BraxAdapter, to_brax
from mjx_gr00t.envs.paper_card import PaperCardConfig

EPISODE_LENGTH = 20


@pytest.fixture(scope="module")
def adapter() -> BraxAdapter:
    env = registry.make("paper_card", PaperCardConfig(engine="c", num_envs=8, episode_length=EPISODE_LENGTH))
    return to_brax(env)


def test_adapter_is_a_brax_env(adapter: BraxAdapter) -> None:
    assert isinstance(adapter, BraxEnv)
    assert adapter.observation_size == 34
    assert adapter.action_size == 6
    assert adapter.backend == "c"
    state = jax.jit(adapter.reset)(jax.random.PRNGKey(0))
    assert state.obs.shape == (34,)
    assert state.info == {}
    assert float(state.done) == 0.0
    assert set(state.metrics) >= {"reward/distance", "reward/success", "reward/step"}
    np.testing.assert_array_equal(state.obs, state.pipeline_state.obs)


def test_a_residual_env_reports_its_scene_engine() -> None:
    config = residual_env.scene_config("fetch_reach", 1, "c")
    env = residual_env.build_residual_env("fetch_reach", config, "zero")
    assert env.task.engine_name == "c" and to_brax(env).backend == "c"


def test_adapter_step_nan_guard(adapter: BraxAdapter) -> None:
    keys = jax.random.split(jax.random.PRNGKey(1), 2)
    state = jax.vmap(adapter.reset)(keys)
    bad = state.pipeline_state.physics.qvel.at[0].set(jnp.nan)
    state = state.replace(pipeline_state=state.pipeline_state.replace(
        physics=state.pipeline_state.physics._replace(qvel=bad)))
    nxt = jax.jit(jax.vmap(adapter.step))(state, jnp.zeros((2, 6)))
    assert float(nxt.reward[0]) == 0.0 and float(nxt.done[0]) == 1.0
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves((nxt.obs, nxt.metrics)))
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(nxt.pipeline_state.physics))
    assert float(nxt.done[1]) == 0.0 and float(nxt.reward[1]) < 0.0  # the healthy env is untouched


def test_brax_ppo_trains_paper_env(adapter: BraxAdapter) -> None:
    progress: list[dict] = []
    make_policy, params, metrics = brax_ppo.train(
        adapter,
        num_timesteps=160,
        num_envs=8,
        episode_length=EPISODE_LENGTH,
        unroll_length=5,
        batch_size=8,
        num_minibatches=2,
        num_updates_per_batch=1,
        num_evals=2,
        num_eval_envs=8,
        normalize_observations=True,
        seed=0,
        network_factory=functools.partial(  # small nets: compile time dominates this test
            brax_ppo_networks.make_ppo_networks,
            policy_hidden_layer_sizes=(32, 32), value_hidden_layer_sizes=(32, 32)),
        progress_fn=lambda step, m: progress.append(dict(m)),
    )
    assert len(progress) == 2  # one eval before training, one after
    assert "eval/episode_reward" in metrics
    for name in ("eval/episode_reward", "eval/episode_reward/distance", "eval/avg_episode_length"):
        value = np.asarray(metrics[name])
        assert np.all(np.isfinite(value)), (name, value)
    # Every step's reward is at most -0.01 (step penalty) unless the sheet lands in the square.
    assert float(metrics["eval/episode_reward"]) < 10.0
    assert float(metrics["eval/avg_episode_length"]) > 0
    leaves = jax.tree.leaves(params)
    assert leaves and all(bool(jnp.all(jnp.isfinite(x))) for x in leaves)
    policy = make_policy(params, deterministic=True)
    state = adapter.reset(jax.random.PRNGKey(3))
    action, _ = policy(state.obs[None], jax.random.PRNGKey(4))
    assert action.shape == (1, 6) and bool(jnp.all(jnp.abs(action) <= 1.0))
