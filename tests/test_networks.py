"""Shapes and initialisation of the actor and critic networks, and the Gaussian helpers."""

import math

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.rl.networks import (
    MLP,
    GaussianPolicy,
    ValueNetwork,
    gaussian_entropy,
    gaussian_log_prob,
    gaussian_sample,
    get_activation,
)

OBS_DIM, ACT_DIM = 5, 3


def _obs(shape: tuple[int, ...]) -> jax.Array:
    return jax.random.normal(jax.random.PRNGKey(7), shape + (OBS_DIM,)) * 2.0


def test_mlp_shapes_and_layers() -> None:
    net = MLP(hidden=(8, 4), out_size=6)
    params = net.init(jax.random.PRNGKey(0), _obs(()))
    assert net.apply(params, _obs((2, 3))).shape == (2, 3, 6)
    layers = params["params"]
    assert set(layers) == {"hidden_0", "hidden_1", "head"}
    assert layers["hidden_0"]["kernel"].shape == (OBS_DIM, 8)
    assert layers["head"]["kernel"].shape == (4, 6)


@pytest.mark.parametrize("batch", [(), (4,), (2, 7)])
def test_policy_and_value_shapes(batch: tuple[int, ...]) -> None:
    policy = GaussianPolicy(action_size=ACT_DIM, hidden=(16, 16))
    value = ValueNetwork(hidden=(16,))
    k_policy, k_value = jax.random.split(jax.random.PRNGKey(0))
    obs = _obs(batch)
    mean, log_std = policy.apply(policy.init(k_policy, obs), obs)
    assert mean.shape == batch + (ACT_DIM,)
    assert log_std.shape == batch + (ACT_DIM,)
    assert value.apply(value.init(k_value, obs), obs).shape == batch


def test_zero_init_head_gives_zero_mean() -> None:
    policy = GaussianPolicy(action_size=ACT_DIM, hidden=(16, 16), zero_init_head=True)
    params = policy.init(jax.random.PRNGKey(0), _obs(()))
    head = params["params"]["mean"]["head"]
    assert np.all(np.asarray(head["kernel"]) == 0.0) and np.all(np.asarray(head["bias"]) == 0.0)
    # The hidden layers are still random, so the head gets gradients after the first update.
    assert np.any(np.asarray(params["params"]["mean"]["hidden_0"]["kernel"]) != 0.0)
    mean, _ = policy.apply(params, _obs((10,)))
    assert np.all(np.asarray(mean) == 0.0)

    random_head = GaussianPolicy(action_size=ACT_DIM, hidden=(16, 16), zero_init_head=False)
    mean, _ = random_head.apply(random_head.init(jax.random.PRNGKey(0), _obs(())), _obs((10,)))
    assert np.all(np.any(np.asarray(mean) != 0.0, axis=-1))


def test_log_std_init_is_state_independent() -> None:
    policy = GaussianPolicy(action_size=ACT_DIM, hidden=(8,), init_log_std=-0.7)
    params = policy.init(jax.random.PRNGKey(0), _obs(()))
    np.testing.assert_array_equal(params["params"]["log_std"], np.full(ACT_DIM, -0.7, np.float32))
    _, log_std = policy.apply(params, _obs((6,)))
    np.testing.assert_array_equal(log_std, np.full((6, ACT_DIM), -0.7, np.float32))


def test_gaussian_helpers_match_closed_forms() -> None:
    mean = jnp.array([[0.5, -1.0]])
    log_std = jnp.log(jnp.array([[2.0, 0.5]]))
    x = jnp.array([[1.5, -1.0]])
    expected = sum(
        -0.5 * ((xi - mi) / si) ** 2 - math.log(si) - 0.5 * math.log(2 * math.pi)
        for xi, mi, si in [(1.5, 0.5, 2.0), (-1.0, -1.0, 0.5)]
    )
    assert float(gaussian_log_prob(x, mean, log_std)[0]) == pytest.approx(expected, rel=1e-6)
    expected_entropy = sum(0.5 * math.log(2 * math.pi * math.e * s * s) for s in (2.0, 0.5))
    assert float(gaussian_entropy(log_std)[0]) == pytest.approx(expected_entropy, rel=1e-6)

    draws = gaussian_sample(jax.random.PRNGKey(0), jnp.broadcast_to(mean, (20000, 2)),
                            jnp.broadcast_to(log_std, (20000, 2)))
    np.testing.assert_allclose(np.mean(draws, axis=0), [0.5, -1.0], atol=0.05)
    np.testing.assert_allclose(np.std(draws, axis=0), [2.0, 0.5], rtol=0.03)


def test_unknown_activation_is_rejected() -> None:
    assert get_activation("tanh") is not None
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("sigmoid")
