"""rl.off_policy_agent: the config's type picks the learner; each agent's parts fit together (a
learner it makes explores in [-1, 1] and reports its metrics)."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.rl.off_policy_agent import FAST_TD3, SAC, agent_for
from mjx_gr00t.rl.ppo_config import PPOConfig
from mjx_gr00t.rl.sac_config import SACConfig
from mjx_gr00t.rl.td3_config import FastTD3Config


def test_config_type_picks_the_agent():
    assert agent_for(SACConfig()) is SAC
    assert agent_for(FastTD3Config()) is FAST_TD3
    with pytest.raises(TypeError, match="PPOConfig"):
        agent_for(PPOConfig(total_iterations=1))


@pytest.mark.parametrize("config", [SACConfig(num_envs=4, buffer_capacity=64, actor_hidden=(8,), critic_hidden=(8,)),
                                    FastTD3Config(num_envs=4, buffer_capacity=64, actor_hidden=(8,),
                                                  critic_hidden=(8,), atoms=5)])
def test_explore_and_metrics(config):
    agent = agent_for(config)
    learner = agent.init_learner(config, 6, 3, jax.random.PRNGKey(0), jax.random.PRNGKey(1))
    explore = jax.jit(agent.make_explore(config, 3))
    obs = jax.random.normal(jax.random.PRNGKey(2), (4, 6))
    a, b = explore(learner, obs, jax.random.PRNGKey(3)), explore(learner, obs, jax.random.PRNGKey(4))
    assert a.shape == (4, 3) and np.all(np.abs(np.asarray(a)) <= 1.0)
    assert not np.allclose(a, b)  # exploration is random
    metrics = agent.learner_metrics(learner)
    assert all(jnp.shape(v) == () for v in metrics.values())
    assert ("train/alpha" in metrics) == (agent is SAC)
