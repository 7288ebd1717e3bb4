"""rl.td3_learner and rl.td3_config: the fast learner's U updates on a fixed replay buffer (the critics
fit it, the targets move by tau, the actor only on delayed updates, nothing without `learn`),
per-env exploration noise, and bad configs."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.training.acme import running_statistics

from mjx_gr00t.envs.spec import EnvSpec
from mjx_gr00t.rl import replay
from mjx_gr00t.rl.replay import Transition
from mjx_gr00t.rl.td3_config import FastTD3Config
from mjx_gr00t.rl.td3_learner import explore, init_learner, make_learner_step, make_networks

OBS, ACT, N = 4, 2, 8
ENV = types.SimpleNamespace(
    observation_size=OBS, action_size=ACT,
    spec=EnvSpec(obs_layout=(("x", OBS),), action_names=("a", "b"), action_ranges=((-1.0, 1.0),) * 2,
                 action_scale=1.0, policy_dt=1.0))
CONFIG = FastTD3Config(num_envs=N, updates_per_iteration=2, batch_size=64, buffer_capacity=N * 64,
                       actor_hidden=(32,), critic_hidden=(32,), atoms=21, v_min=-10.0, v_max=0.0,
                       policy_delay=2, tau=0.1, warmup_steps=0, critic_learning_rate=3e-3)


def _buffer() -> replay.ReplayBuffer:
    """64 steps of 8 envs: reward -1 unless obs[0] > 0 (then 0), random actions, no episode ends."""
    example = Transition(obs=jnp.zeros(OBS), action=jnp.zeros(ACT), reward=jnp.zeros(()), done=jnp.zeros(()),
                         truncation=jnp.zeros(()), next_obs=jnp.zeros(OBS))
    buf = replay.allocate(CONFIG.buffer_capacity, example, N)
    key = jax.random.PRNGKey(0)
    for _ in range(64):
        key, k_o, k_a = jax.random.split(key, 3)
        obs = jax.random.normal(k_o, (N, OBS))
        step = Transition(obs=obs, action=jax.random.uniform(k_a, (N, ACT), minval=-1, maxval=1),
                          reward=-(obs[:, 0] <= 0).astype(jnp.float32), done=jnp.zeros(N), truncation=jnp.zeros(N),
                          next_obs=obs)
        buf = replay.add(buf, step, jnp.zeros(N))
    return buf


def test_updates_fit_the_critics_move_targets_and_delay_the_actor():
    learner = init_learner(CONFIG, OBS, ACT, jax.random.PRNGKey(1), jax.random.PRNGKey(2))
    normalizer = running_statistics.init_state(jnp.zeros((OBS,), jnp.float32))
    step = jax.jit(make_learner_step(CONFIG, ENV, residual=False, mesh=None))
    buf, alpha = _buffer(), jnp.float32(1.0)
    same, stats0 = step(learner, jax.random.PRNGKey(3), buf, normalizer, alpha, jnp.bool_(False))
    assert all(float(v) == 0.0 for v in stats0.values())
    jax.tree.map(np.testing.assert_array_equal, same, learner)
    losses, state = [], learner
    for i in range(60):
        state, stats = step(state, jax.random.PRNGKey(10 + i), buf, normalizer, alpha, jnp.bool_(True))
        losses.append(float(stats["loss/critic"]))
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5]), (losses[:5], losses[-10:])
    # Targets trail the online critics by Polyak steps of tau: after one iteration of 2 updates from
    # equal targets, target = online_0 + (1 - (1 - tau)^2)-ish of the move; strictly between.
    one, _ = step(learner, jax.random.PRNGKey(4), buf, normalizer, alpha, jnp.bool_(True))
    before = jax.tree.leaves(learner.critic_params)[0]
    online, target = jax.tree.leaves(one.critic_params)[0], jax.tree.leaves(one.target_critic_params)[0]
    moved, trailed = np.abs(np.asarray(online - before)).sum(), np.abs(np.asarray(target - before)).sum()
    assert 0 < trailed < moved
    # The actor moved on update 0 only (policy_delay 2 of 2 updates): one Adam step from zero head.
    assert not np.allclose(jax.tree.leaves(one.actor_params)[0], jax.tree.leaves(learner.actor_params)[0])


def test_exploration_noise_grows_across_envs():
    config = FastTD3Config(num_envs=512, noise_std_min=0.0, noise_std_max=0.4, actor_hidden=(8,))
    actor, _ = make_networks(config, ACT)
    params = actor.init(jax.random.PRNGKey(0), jnp.zeros(OBS))
    a = explore(config, actor, params, jnp.zeros((512, OBS)), jax.random.PRNGKey(1))
    assert a.shape == (512, ACT) and bool(jnp.all(jnp.abs(a) <= 1.0))
    assert float(jnp.abs(a[:16]).max()) < 0.05 < float(jnp.abs(a[-64:]).mean())  # env 0 quiet, the last loud
    assert config.samples_per_env_step == pytest.approx(32.0)  # 16 updates of 1,024 per 512 env steps


@pytest.mark.parametrize("changes, message", [
    ({"atoms": 1}, "atoms"), ({"v_min": 0.0, "v_max": 0.0}, "v_max > v_min"),
    ({"noise_std_min": 0.5, "noise_std_max": 0.1}, "noise_std_min <= noise_std_max"),
    ({"buffer_capacity": 1000}, "multiple"), ({"policy_delay": 0}, "policy_delay"), ({"tau": 0.0}, "tau"),
])
def test_bad_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        FastTD3Config(**changes)
