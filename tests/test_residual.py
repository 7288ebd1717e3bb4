"""Residual RL: the alpha schedule, scaling and clipping, the ResidualTask's observation, penalty
and final observation, and that a fresh PPO residual policy reproduces the IK base exactly."""

from collections.abc import Callable
from typing import NamedTuple

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.bases import make_base
from mjx_gr00t.bases.ik import IKPushBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.envs.paper_card import OBS_LAYOUT
from mjx_gr00t.residual import AlphaSchedule, ResidualTask, combine, scale_residual
from mjx_gr00t.rl import ppo
from mjx_gr00t.rl.ppo_config import PPOConfig, make_policy
from mjx_gr00t.residual_env import build_residual_env, scene_config

B = 4
A = 6
INNER_OBS = 34
PENALTY = 0.001
TRAJECTORY_STEPS = 5
BASE_ATOL = 1e-6  # the IK base in two differently fused XLA programs (seen: 3e-7)


# ----- fixtures: the residual env as the trainers build it, its bare inner env, a fresh PPO -----
@pytest.fixture(scope="module")
def env() -> EpisodeEnv:
    return build_residual_env("paper_card", scene_config("paper_card", B, "c", dr=True), "ik", PENALTY)


@pytest.fixture(scope="module")
def inner(env: EpisodeEnv) -> EpisodeEnv:
    """The plain paper env with the residual env's own config."""
    return registry.make("paper_card", env.task.task.config)


class Compiled(NamedTuple):
    """Jitted, batched functions, shared so that each is compiled once (compiles dominate)."""

    res_step: Callable[[State, jax.Array], State]
    """The residual EpisodeEnv's step: states [B, ...], u [B, A]."""
    inner_task_step: Callable[[State, jax.Array], State]
    """The bare paper task's step: states [B, ...] (34-dim obs), actions [B, A]."""
    base: Callable[[State], jax.Array]
    """The IK base on paper task states [B, ...] -> [B, A]."""


@pytest.fixture(scope="module")
def fns(env: EpisodeEnv, inner: EpisodeEnv) -> Compiled:
    return Compiled(
        res_step=jax.jit(jax.vmap(env.step)),
        inner_task_step=jax.jit(jax.vmap(inner.task.step)),
        base=jax.jit(jax.vmap(IKPushBase(inner.task))),
    )


@pytest.fixture(scope="module")
def ppo_setup(env: EpisodeEnv) -> tuple[PPOConfig, ppo.TrainState]:
    config = PPOConfig(num_envs=B, unroll_length=4, num_minibatches=2,
                       policy_hidden=(32, 32), value_hidden=(32, 32))
    return config, ppo.init(config, env, jax.random.PRNGKey(0))


@pytest.fixture(scope="module")
def res_states(ppo_setup) -> State:
    """B freshly reset residual env states (PPO's own, to save compiling another reset)."""
    return ppo_setup[1].env_state


def _strip(state: State) -> State:
    """A residual env state as the inner env sees it: the base action dropped from obs."""
    return state.replace(obs=state.obs[..., :INNER_OBS])


# ----- AlphaSchedule -----
def test_alpha_constant():
    sched = AlphaSchedule(alpha=0.3)
    for steps in (0, 10, 1e9):
        a = sched(steps)
        assert a.dtype == jnp.float32 and a.shape == ()
        assert float(a) == pytest.approx(0.3)
    assert sched.final == pytest.approx(0.3)


def test_alpha_linear_warmup():
    sched = AlphaSchedule(alpha=0.5, schedule="linear", alpha_start=0.1, warmup_steps=1000)
    assert float(sched(0)) == pytest.approx(0.1)
    assert float(sched(500)) == pytest.approx(0.3)
    assert float(sched(1000)) == pytest.approx(0.5)
    assert float(sched(10_000)) == pytest.approx(0.5)  # held after warm-up
    assert sched.final == pytest.approx(0.5)
    # Works on a traced step count, as inside PPO's jitted train step.
    traced = jax.jit(sched)(jnp.asarray(250.0, jnp.float32))
    assert traced.dtype == jnp.float32 and float(traced) == pytest.approx(0.2)
    # Default start is 0.
    assert float(AlphaSchedule(alpha=1.0, schedule="linear", warmup_steps=4)(1)) == pytest.approx(0.25)


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": -0.1}, "alpha must be >= 0"),
    ({"alpha_start": -1.0, "schedule": "linear"}, "alpha must be >= 0"),
    ({"alpha": float("nan")}, "alpha must be >= 0"),
    ({"schedule": "cosine"}, "alpha schedule must be one of"),
    ({"schedule": "linear", "warmup_steps": 0}, "warmup_steps must be >= 1"),
])
def test_alpha_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AlphaSchedule(**kwargs)


def test_alpha_constant_ignores_warmup_steps():
    assert float(AlphaSchedule(alpha=0.2, warmup_steps=0)(5)) == pytest.approx(0.2)


# ----- scale_residual / combine -----
def test_scale_residual_clips_then_scales():
    r = jnp.array([-3.0, -1.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(scale_residual(r, 0.5), [-0.5, -0.5, -0.25, 0.0, 0.25, 0.5])
    np.testing.assert_array_equal(scale_residual(r, 0.0), 0.0)
    batch = scale_residual(jnp.stack([r, -r]), jnp.float32(0.2))
    assert batch.shape == (2, 6)
    np.testing.assert_allclose(batch[1], -np.asarray(batch[0]))
    assert np.all(np.abs(batch) <= 0.2 + 1e-7)


def test_combine_clips_total():
    base = jnp.array([0.9, -0.9, 0.2, 1.0, 0.0, -1.0])
    u = jnp.array([0.5, -0.5, 0.1, 0.0, 0.0, 0.5])
    np.testing.assert_allclose(combine(base, u), [1.0, -1.0, 0.3, 1.0, 0.0, -0.5], atol=1e-7)
    # Zero residual leaves a base in [-1, 1] exactly unchanged.
    np.testing.assert_array_equal(combine(base, jnp.zeros(6)), base)
    assert combine(jnp.zeros((3, 6)), jnp.full((3, 6), 5.0)).shape == (3, 6)


# ----- ResidualTask construction and observation -----
def test_penalty_weight_validation(inner):
    base = make_base("zero", "paper_card", inner.task)
    with pytest.raises(ValueError, match="penalty_weight must be >= 0"):
        ResidualTask(inner.task, base, penalty_weight=-0.001)
    with pytest.raises(ValueError, match="penalty_weight"):
        ResidualTask(inner.task, base, penalty_weight=float("nan"))
    assert ResidualTask(inner.task, base, penalty_weight=0.0).penalty_weight == 0.0


def test_sizes_and_layout(env):
    task = env.task
    assert isinstance(task, ResidualTask) and isinstance(task.base, IKPushBase)
    assert env.observation_size == task.observation_size == INNER_OBS + A == 40
    assert env.action_size == task.action_size == A
    assert env.spec is task.spec and task.spec.observation_size == 40
    assert task.spec.obs_layout == (*OBS_LAYOUT, ("base_action", A))
    assert task.spec.obs_slice("base_action") == slice(INNER_OBS, INNER_OBS + A)


def test_derived_spec_keeps_the_inner_actions_and_timing(env):
    inner, spec = env.task.task.spec, env.task.spec
    assert (spec.action_names, spec.action_ranges) == (inner.action_names, inner.action_ranges)
    assert (spec.action_scale, spec.policy_dt) == (inner.action_scale, inner.policy_dt) == (0.02, 1 / 30)
    assert spec.goal is None  # the paper task has no goal
    assert env.mj_model is env.task.mj_model is env.task.task.mj_model


def test_obs_is_inner_obs_plus_base(env, inner, fns, res_states):
    obs = np.asarray(res_states.obs)
    assert obs.shape == (B, 40) and obs.dtype == np.float32
    assert np.all(np.isfinite(obs))
    # Jitted separately, XLA fuses the IK maths differently, so the base agrees to float32
    # rounding only (under jax.disable_jit the two are bitwise equal).
    base = fns.base(_strip(res_states))
    np.testing.assert_allclose(obs[:, -A:], base, atol=BASE_ATOL)
    assert np.any(np.abs(base) > 0.1)  # the IK base does act at the start
    np.testing.assert_array_equal(jax.vmap(env.task.base_action)(res_states), obs[:, -A:])
    # The inner part is the paper task's observation (joint positions and velocities first);
    # the key test below checks all of it bitwise against the inner task after each step.
    np.testing.assert_array_equal(obs[:, :6], res_states.physics.qpos[:, :6])
    np.testing.assert_array_equal(obs[:, 6:12], res_states.physics.qvel[:, :6])
    # Reset metrics carry the residual keys, at zero.
    np.testing.assert_array_equal(res_states.metrics["residual/penalty"], 0.0)
    np.testing.assert_array_equal(res_states.metrics["residual/magnitude"], 0.0)


# ----- the key property: a fresh residual policy is exactly the base -----
def test_fresh_residual_policy_reproduces_base_exactly(env, inner, fns, ppo_setup):
    """PPO's deterministic residual is 0, so the residual env follows the base bitwise.

    The inner task is stepped with the base action the residual env observed (the one it adds
    u = 0 to); that action is the IK base on the same state to float32 rounding. (The bare task
    rather than the inner EpisodeEnv, to save a compile: no episode ends in these steps.)
    """
    config, ts = ppo_setup
    policy = jax.jit(make_policy(config, True))
    alpha = AlphaSchedule(alpha=0.5)(0)

    res = ts.env_state
    plain = _strip(res)
    for t in range(TRAJECTORY_STEPS):
        r = policy(ts.policy_params, ts.normalizer, res.obs, None)
        assert r.shape == (B, A)
        np.testing.assert_array_equal(r, 0.0, err_msg=f"step {t}")
        base = res.obs[:, -A:]
        np.testing.assert_allclose(base, fns.base(plain), atol=BASE_ATOL, err_msg=f"step {t}")

        res = fns.res_step(res, scale_residual(r, alpha))
        plain = fns.inner_task_step(plain, base)

        for name in ("qpos", "qvel"):
            np.testing.assert_array_equal(
                getattr(res.physics, name), getattr(plain.physics, name), err_msg=f"{name}, step {t}")
        np.testing.assert_array_equal(res.info.ctrl_target, plain.info.ctrl_target)
        np.testing.assert_array_equal(res.obs[:, :INNER_OBS], plain.obs)
        np.testing.assert_array_equal(res.reward, plain.reward)  # zero penalty
        np.testing.assert_array_equal(res.done, plain.done)
        np.testing.assert_array_equal(res.metrics["residual/penalty"], 0.0)
    np.testing.assert_array_equal(res.done, 0.0)  # no reset happened on the way
    # The arm did move: this was not a trivially static trajectory.
    assert np.any(np.abs(np.asarray(res.physics.qvel)) > 1e-3)


# ----- penalty -----
def test_penalty_on_applied_residual(env, inner, fns, res_states):
    u = 0.3 * jnp.array([[1.0, -1.0, 0.5, -0.5, 0.0, 1.0]]) * jnp.arange(1, B + 1)[:, None] / B
    res = fns.res_step(res_states, u)
    plain = fns.inner_task_step(_strip(res_states), combine(res_states.obs[:, -A:], u))

    penalty = PENALTY * np.sum(np.square(np.asarray(u, np.float64)), axis=-1)
    assert np.all(penalty > 0)
    np.testing.assert_allclose(res.reward, np.asarray(plain.reward) - penalty, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(res.metrics["residual/penalty"], penalty, rtol=1e-6)
    np.testing.assert_allclose(res.metrics["residual/magnitude"], np.linalg.norm(u, axis=-1), rtol=1e-6)
    # The residual moved the physics exactly as the inner env stepped with the combined action.
    np.testing.assert_array_equal(res.physics.qpos, plain.physics.qpos)
    np.testing.assert_array_equal(res.physics.qvel, plain.physics.qvel)
    # The inner metrics pass through unchanged.
    for key, value in plain.metrics.items():
        np.testing.assert_array_equal(res.metrics[key], value, err_msg=key)


# ----- final observation of a truncated episode -----
def test_truncated_final_obs_carries_terminal_base(env, fns, res_states):
    """The same state stepped twice: at the time limit (truncated, auto-reset) and one step
    before it (continues). The truncated step's final_obs is the continuing step's obs, whose
    last A entries are the base at the terminal, pre-reset state."""
    zero = jnp.zeros((B, A), jnp.float32)
    s1 = fns.res_step(res_states, zero)
    np.testing.assert_array_equal(s1.done, 0.0)
    limit = env.episode_length
    at_limit = s1.replace(episode=s1.episode.replace(steps=jnp.full((B,), limit - 1, jnp.int32)))
    before = s1.replace(episode=s1.episode.replace(steps=jnp.full((B,), limit - 2, jnp.int32)))
    truncated = fns.res_step(at_limit, zero)
    going_on = fns.res_step(before, zero)

    np.testing.assert_array_equal(truncated.truncation, 1.0)
    np.testing.assert_array_equal(truncated.done, 1.0)
    np.testing.assert_array_equal(truncated.episode.steps, 0)
    np.testing.assert_array_equal(going_on.truncation, 0.0)
    np.testing.assert_array_equal(going_on.done, 0.0)

    final = np.asarray(truncated.episode.final_obs)
    assert final.shape == (B, 40)
    np.testing.assert_array_equal(final, going_on.obs)
    np.testing.assert_allclose(final[:, -A:], fns.base(_strip(going_on)), atol=BASE_ATOL)
    # The returned obs belongs to the fresh episode, with the base at the fresh state.
    assert not np.array_equal(np.asarray(truncated.obs), final)
    np.testing.assert_allclose(truncated.obs[:, -A:], fns.base(_strip(truncated)), atol=BASE_ATOL)
