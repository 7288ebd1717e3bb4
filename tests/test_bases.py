"""Base policies: the zero base and the scripted IK push (shape, range, jit/vmap, and that it pushes)."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.bases.ik import IKPushBase, IKPushConfig
from mjx_gr00t.bases.zero import ZeroBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_card import CardDRConfig, PaperCardConfig

B = 4
PUSH_STEPS = 120
# Measured: with DR off the push takes the sheet from 13.0 cm to 2.6 cm of the square's centre in
# 120 steps (a drop of 10.4 cm; it is inside the square from step ~62 on).
MIN_DROP = 0.05


@pytest.fixture(scope="module")
def env():
    return registry.make("paper_card", PaperCardConfig(engine="c", num_envs=B))


@pytest.fixture(scope="module")
def states(env):
    return jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), B))


def _at(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def test_zero_base(env, states):
    base = ZeroBase(env.action_size)
    a = base(_at(states, 0))
    assert a.shape == (6,) and a.dtype == jnp.float32
    np.testing.assert_array_equal(a, 0.0)
    batch = jax.jit(jax.vmap(base))(states)
    assert batch.shape == (B, 6)
    np.testing.assert_array_equal(batch, 0.0)


def test_ik_base_shape_range_jit_vmap(env, states):
    base = IKPushBase(env.task)
    single = base(_at(states, 0))
    assert single.shape == (6,) and single.dtype == jnp.float32
    batch = jax.jit(jax.vmap(base))(states)
    assert batch.shape == (B, 6) and batch.dtype == jnp.float32
    assert np.all(np.isfinite(batch)) and np.all(np.abs(batch) <= 1.0)
    assert np.any(np.abs(batch) > 0.1)  # it does move the arm
    for i in range(B):
        np.testing.assert_allclose(batch[i], base(_at(states, i)), atol=1e-5)
    # A wandered gripper target is steered back to home.
    s = _at(states, 0)
    scale = env.task.config.act_scale
    off = s.info.ctrl_target.at[5].add(0.5 * scale)
    np.testing.assert_allclose(base(s.replace(info=s.info.replace(ctrl_target=off)))[5], -0.5, atol=1e-5)


def test_ik_config_rejects_negative():
    with pytest.raises(ValueError, match="stop_radius"):
        IKPushConfig(stop_radius=-0.01)


def test_ik_base_pushes_paper_towards_square():
    env = registry.make("paper_card", PaperCardConfig(engine="c", num_envs=1, dr=CardDRConfig.off()))
    base = IKPushBase(env.task)

    def body(state, _):  # the bare task: no auto-reset, so success does not restart the sheet
        state = env.task.step(state, base(state))
        return state, state.metrics["task/dist_to_goal"]

    state = env.reset(jax.random.PRNGKey(1))
    start = float(np.linalg.norm(np.asarray(state.obs)[19:21]))
    _, dist = jax.jit(lambda s: jax.lax.scan(body, s, None, length=PUSH_STEPS))(state)
    dist = np.asarray(dist)
    assert start == pytest.approx(0.13, abs=1e-3)  # DR off: the nominal start
    assert start - dist[-1] > MIN_DROP, (start, dist[::10])
    assert dist.min() > 0.0 and np.all(np.isfinite(dist))
