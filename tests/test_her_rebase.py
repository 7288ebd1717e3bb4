"""HER over a goal-conditioned residual base (the scripted Fetch controller): the SAC rollout stores
the base's goal contexts (an ended episode's final one included), and relabelling recomputes the
observed base action for the hindsight goal while keeping the executed (summed) action."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import dataclasses

import jax
import numpy as np
import pytest

from mjx_gr00t.envs import registry
from mjx_gr00t.residual import AlphaSchedule, combine
from mjx_gr00t.residual_env import build_residual_env, scene_config
from mjx_gr00t.rl import her, replay, sac
from mjx_gr00t.rl.sac_config import SACConfig

N, T, LENGTH = 4, 24, 10   # envs, steps per iteration, episode length: episodes end inside an iteration
CONFIG = SACConfig(
    num_envs=N, steps_per_iteration=T, utd_ratio=1 / T, batch_size=256, buffer_capacity=N * 3 * T,
    actor_hidden=(16,), critic_hidden=(16,), warmup_steps=N * T, her=True,
)
A = 4
SCENE = "fetch_push"   # its script reads the goal at every step (pick-and-place only once holding)


def _env(base: str):
    start = dataclasses.replace(registry.default_config(SCENE), episode_length=LENGTH)
    return build_residual_env(SCENE, scene_config(SCENE, N, "c", start=start), base)


@pytest.fixture(scope="module")
def trained():
    """Three iterations: random actions (warm-up), then SAC with updates on rebased HER batches."""
    env = _env("script")
    state = sac.init(CONFIG, env, jax.random.PRNGKey(0))
    train_step = sac.make_train_step(CONFIG, env, alpha_fn=AlphaSchedule(alpha=0.5))
    metrics = []
    for _ in range(3):   # warm-up, then two learning iterations: compiled once
        state, m = train_step(state)
        metrics.append(jax.device_get(m))
    assert train_step._cache_size() == 1
    return env, state, metrics


def test_buffer_stores_the_goal_context_of_obs_and_next_obs(trained):
    env, state, metrics = trained
    assert metrics[1]["train/updates"] == CONFIG.updates_per_iteration > 0 and all(np.isfinite(v) for m in metrics for v in m.values())
    data = jax.device_get(state.buffer.data)
    obs, nxt = data.obs.reshape(-1, data.obs.shape[-1]), data.next_obs.reshape(-1, data.obs.shape[-1])
    ctx, next_ctx = data.obs_context.reshape(-1, 16), data.next_context.reshape(-1, 16)
    done = data.done.reshape(-1)
    assert 0 < done.sum() < done.size
    d0, d1 = her.goal_spec(env).desired
    rebuild = jax.jit(jax.vmap(env.task.base_for_goal))
    # The stored base action is the base recomputed from the stored context and the stored goal:
    # at obs, and at next_obs, also where the episode ended (its final state, not the fresh one).
    np.testing.assert_array_equal(rebuild(ctx, obs[:, d0:d1]), obs[:, -A:])
    np.testing.assert_array_equal(rebuild(next_ctx, nxt[:, d0:d1]), nxt[:, -A:])
    np.testing.assert_array_equal(ctx[:, 0:3], obs[:, 0:3])     # grip site, as observed
    np.testing.assert_array_equal(ctx[:, 5:8], obs[:, 3:6])     # cube position, as observed
    # Along each env's ring: the next context is the following row's context unless the episode ended.
    rows_ctx, rows_next, rows_done = data.obs_context, data.next_context, data.done
    same = rows_done[:-1] < 0.5
    np.testing.assert_array_equal(rows_next[:-1][same], rows_ctx[1:][same])
    assert not np.array_equal(rows_next[:-1][~same], rows_ctx[1:][~same])


def test_relabelling_rebases_and_keeps_the_executed_action(trained):
    env, state, _ = trained
    goals, rebase = her.goal_spec(env), her.base_rebase(env)
    assert rebase is not None and rebase.context_size == 16
    index = replay.sample_indices(state.buffer, jax.random.PRNGKey(3), 512)
    batch = replay.gather(state.buffer, index)
    out = jax.jit(lambda k, i, b, buf: her.relabel(k, i, b, buf, goals, 4, rebase=rebase))(
        jax.random.PRNGKey(4), index, batch, state.buffer)
    new, mask = jax.device_get(out.batch), np.asarray(out.relabelled)
    old = jax.device_get(batch)
    d0, d1 = goals.desired
    goal = new.obs[:, d0:d1]
    rebuild = jax.jit(jax.vmap(env.task.base_for_goal))
    assert 0.6 < mask.mean() < 0.95
    np.testing.assert_array_equal(new.obs[mask, -A:], rebuild(old.obs_context, goal)[mask])
    np.testing.assert_array_equal(new.next_obs[mask, -A:], rebuild(old.next_context, goal)[mask])
    # The critic's summed action is still the one the env executed.
    np.testing.assert_allclose(combine(new.obs[:, -A:], new.action), combine(old.obs[:, -A:], old.action),
                               atol=1e-6)
    changed = np.any(new.obs[:, -A:] != old.obs[:, -A:], axis=1)
    assert changed[mask].any() and not changed[~mask].any()   # the goal moved the contact point
    np.testing.assert_array_equal(new.action[~mask], old.action[~mask])
    # Without the contexts in the batch, rebasing is refused with a clear error.
    with pytest.raises(ValueError, match="obs_context and next_context"):
        her.relabel(jax.random.PRNGKey(4), index, batch.replace(obs_context=None), state.buffer, goals,
                    rebase=rebase)


def test_only_goal_conditioned_bases_store_contexts():
    env = _env("zero")
    assert her.base_rebase(env) is None
    assert sac.buffer_memory_bytes(CONFIG, env) < sac.buffer_memory_bytes(CONFIG, _env("script"))
    no_her = dataclasses.replace(CONFIG, her=False)
    assert sac.buffer_memory_bytes(no_her, _env("script")) == sac.buffer_memory_bytes(CONFIG, env)
    assert sac.example_transition(env).obs_context is None
