"""GAE against a plain Python loop, and the PPO minibatch loss on hand-made batches."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.rl.networks import GaussianPolicy, ValueNetwork, gaussian_log_prob
from mjx_gr00t.rl.ppo_losses import Minibatch, PPOParams, compute_gae, ppo_loss


def _gae_loop(
    rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, dones: np.ndarray,
    truncations: np.ndarray, gamma: float, lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    horizon, batch = rewards.shape
    adv = np.zeros((horizon, batch))
    for b in range(batch):
        following = 0.0
        for t in reversed(range(horizon)):
            terminated = dones[t, b] == 1.0 and truncations[t, b] == 0.0
            bootstrap = 0.0 if terminated else next_values[t, b]
            delta = rewards[t, b] + gamma * bootstrap - values[t, b]
            if dones[t, b] == 1.0:
                following = 0.0
            following = delta + gamma * lam * following
            adv[t, b] = following
    return adv, adv + values


def test_gae_matches_python_loop() -> None:
    rng = np.random.default_rng(0)
    horizon, batch = 17, 6
    rewards, values, next_values = (rng.normal(size=(horizon, batch)).astype(np.float32) for _ in range(3))
    dones = (rng.random((horizon, batch)) < 0.25).astype(np.float32)
    truncations = dones * (rng.random((horizon, batch)) < 0.5)
    assert 0 < truncations.sum() < dones.sum()
    adv, ret = compute_gae(
        jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(next_values), jnp.asarray(dones),
        jnp.asarray(truncations), 0.97, 0.9,
    )
    ref_adv, ref_ret = _gae_loop(rewards, values, next_values, dones, truncations, 0.97, 0.9)
    np.testing.assert_allclose(np.asarray(adv), ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), ref_ret, rtol=1e-5, atol=1e-5)


def test_gae_terminal_and_truncated_by_hand() -> None:
    ones = jnp.ones((1, 1))
    # Terminated: no bootstrap. Truncated: bootstrap from next_values (V(final_obs)).
    adv_term, _ = compute_gae(ones, 0.5 * ones, 10.0 * ones, ones, 0.0 * ones, 0.9, 0.95)
    adv_trunc, _ = compute_gae(ones, 0.5 * ones, 10.0 * ones, ones, ones, 0.9, 0.95)
    assert float(adv_term[0, 0]) == pytest.approx(0.5)
    assert float(adv_trunc[0, 0]) == pytest.approx(1.0 + 9.0 - 0.5)


def test_gae_without_episode_ends_is_discounted_td_sum() -> None:
    rewards = jnp.array([[1.0], [2.0], [3.0]])
    values = jnp.zeros((3, 1))
    next_values = jnp.array([[0.0], [0.0], [4.0]])
    zeros = jnp.zeros((3, 1))
    adv, ret = compute_gae(rewards, values, next_values, zeros, zeros, 0.5, 1.0)
    # lambda = 1 with zero values: plain discounted returns, bootstrapped from the last next value.
    np.testing.assert_allclose(np.asarray(adv[:, 0]), [1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4,
                                                       2 + 0.5 * 3 + 0.25 * 4, 3 + 0.5 * 4], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ret), np.asarray(adv), rtol=1e-6)


def _setup(num: int = 64) -> tuple[GaussianPolicy, ValueNetwork, PPOParams, Minibatch]:
    policy = GaussianPolicy(action_size=2, hidden=(8,), zero_init_head=False)
    value = ValueNetwork(hidden=(8,))
    key = jax.random.PRNGKey(0)
    key, k_pol, k_val, k_obs, k_act, k_adv, k_ret = jax.random.split(key, 7)
    obs = jax.random.normal(k_obs, (num, 3))
    params = PPOParams(policy=policy.init(k_pol, obs), value=value.init(k_val, obs))
    mean, log_std = policy.apply(params.policy, obs)
    actions = mean + jax.random.normal(k_act, mean.shape)
    batch = Minibatch(
        obs=obs, actions=actions, old_log_probs=gaussian_log_prob(actions, mean, log_std),
        old_values=value.apply(params.value, obs), advantages=jax.random.normal(k_adv, (num,)),
        returns=jax.random.normal(k_ret, (num,)),
    )
    return policy, value, params, batch


def test_loss_at_rollout_policy() -> None:
    policy, value, params, batch = _setup()
    loss, aux = ppo_loss(params, batch, policy.apply, value.apply, 0.2, None, 0.01, 0.5)
    # Ratio 1 everywhere: no KL, nothing clipped, and normalised advantages average to 0.
    assert float(aux.approx_kl) == pytest.approx(0.0, abs=1e-7)
    assert float(aux.clip_frac) == 0.0
    assert float(aux.policy_loss) == pytest.approx(0.0, abs=1e-6)
    values = value.apply(params.value, batch.obs)
    assert float(aux.value_loss) == pytest.approx(0.5 * float(jnp.mean((values - batch.returns) ** 2)), rel=1e-6)
    expected = aux.policy_loss + 0.5 * aux.value_loss - 0.01 * aux.entropy
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def test_value_clipping_takes_the_larger_error() -> None:
    policy, value, params, batch = _setup()
    values = value.apply(params.value, batch.obs)
    # Old values 1 below the current ones, returns 2 above them: the clipped prediction is
    # old + 0.1 = values - 0.9, with error 2.9, larger than the unclipped error 2, so it is used.
    batch = batch.replace(old_values=values - 1.0, returns=values + 2.0)
    _, unclipped = ppo_loss(params, batch, policy.apply, value.apply, 0.2, None, 0.0, 1.0)
    _, clipped = ppo_loss(params, batch, policy.apply, value.apply, 0.2, 0.1, 0.0, 1.0)
    assert float(unclipped.value_loss) == pytest.approx(0.5 * 4.0, rel=1e-5)
    assert float(clipped.value_loss) == pytest.approx(0.5 * 2.9**2, rel=1e-5)


def test_surrogate_is_clipped_on_the_advantage_side() -> None:
    policy, value, params, batch = _setup()
    # Old log-probs 1 below the current ones: every ratio is e > 1 + eps. For positive (normalised)
    # advantages the clipped term (1 + eps) * A is the minimum, for negative ones ratio * A is.
    batch = batch.replace(old_log_probs=batch.old_log_probs - 1.0)
    _, aux = ppo_loss(params, batch, policy.apply, value.apply, 0.2, None, 0.0, 1.0)
    adv = np.asarray(batch.advantages, np.float64)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    expected = -np.mean(np.where(adv > 0, 1.2 * adv, np.e * adv))
    assert float(aux.policy_loss) == pytest.approx(expected, rel=1e-4)
    assert float(aux.clip_frac) == 1.0
    assert float(aux.approx_kl) == pytest.approx(np.e - 2.0, rel=1e-4)

