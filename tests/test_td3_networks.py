"""rl.td3_networks: the deterministic actor starts at zero; the twin critics are two different networks
run in one vmapped call, each the same as a lone NormedCritic with its slice of the parameters."""

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t.rl.td3_networks import DeterministicActor, NormedCritic, TwinDistributionalCritic


def test_actor_starts_at_zero_and_stays_in_range():
    actor = DeterministicActor(action_size=3, hidden=(16, 16))
    obs = jax.random.normal(jax.random.PRNGKey(0), (5, 7))
    params = actor.init(jax.random.PRNGKey(1), obs)
    np.testing.assert_array_equal(actor.apply(params, obs), 0.0)
    moved = jax.tree.map(lambda x: x + 0.05, params)
    a = actor.apply(moved, obs)
    assert a.shape == (5, 3) and bool(jnp.all(jnp.abs(a) <= 1.0)) and bool(jnp.any(a != 0.0))


def test_twin_critics_are_two_networks_in_one_call():
    critic = TwinDistributionalCritic(hidden=(32, 16), atoms=11)
    obs, act = jnp.ones((4, 6)), jnp.zeros((4, 2))
    params = critic.init(jax.random.PRNGKey(0), obs, act)
    logits = critic.apply(params, obs, act)
    assert logits.shape == (2, 4, 11)
    assert not np.allclose(logits[0], logits[1])  # independently initialised twins
    lone = NormedCritic(hidden=(32, 16), atoms=11)
    for i in range(2):
        one = jax.tree.map(lambda x, i=i: x[i], params["params"]["twins"])
        np.testing.assert_allclose(lone.apply({"params": one}, obs, act), logits[i], rtol=1e-5, atol=1e-6)
