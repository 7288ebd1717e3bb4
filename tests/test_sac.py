"""SAC: the pure pieces (tanh-Gaussian log-prob, soft target, Polyak, temperature), one trace over
many calls, HER learning a sparse goal-reaching toy task, residual mode, and bad input.

Compiles are the cost here, so the tests share a few module-level (config, env) pairs.
"""

import dataclasses
import math
import warnings
from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.envs.spec import EnvSpec
from mjx_gr00t.residual import AlphaSchedule, ResidualTask, combine, scale_residual
from mjx_gr00t.rl import her, sac
from mjx_gr00t.rl.rollout import EPISODE_MEANS
from mjx_gr00t.rl.sac_config import SACConfig, make_policy
from mjx_gr00t.rl.sac_losses import (
    critic_input_action,
    polyak_update,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
    td_target,
    temperature_loss,
)
from reach_goal import ReachGoalTask, steer_base  # noqa: E402  (tests/ helper)


class PlainTask:
    """Sizes only, no goals: HER must refuse it before anything is traced."""

    observation_size: int = 3
    action_size: int = 1
    spec = EnvSpec(obs_layout=(("x", 3),), action_names=("a",), action_ranges=((-1.0, 1.0),),
                   action_scale=1.0, policy_dt=1.0)


HORIZON = 20
TASK = ReachGoalTask()
ENV = EpisodeEnv(TASK, episode_length=HORIZON)
CONFIG = SACConfig(
    num_envs=32, steps_per_iteration=HORIZON, utd_ratio=1 / 16, batch_size=256,
    buffer_capacity=32 * 1000, actor_hidden=(64, 64), critic_hidden=(64, 64), warmup_steps=1280,
    her=True, init_alpha=0.1, actor_learning_rate=1e-3, critic_learning_rate=1e-3,
    alpha_learning_rate=1e-3, gamma=0.9, tau=0.05,
)
ITERATIONS = 20


@dataclasses.dataclass
class Run:
    state: sac.TrainState
    history: list[dict[str, float]]
    traces_after_first: int
    traces_at_end: int
    cache_size: int
    donation_warnings: list[str]


def _train(config: SACConfig, env: EpisodeEnv, task: ReachGoalTask) -> Run:
    state = sac.init(config, env, jax.random.PRNGKey(0))
    train_step = sac.make_train_step(config, env)
    history, traces_after_first = [], 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(ITERATIONS):
            state, metrics = train_step(state)
            history.append({k: float(v) for k, v in metrics.items()})
            if i == 0:
                traces_after_first = task.trace_count
    donated = [str(w.message) for w in caught if "donat" in str(w.message)]
    return Run(state, history, traces_after_first, task.trace_count, train_step._cache_size(), donated)


@pytest.fixture(scope="module")
def her_run() -> Run:
    return _train(CONFIG, ENV, TASK)


def _finite(metrics: dict[str, Any]) -> bool:
    """Every metric finite, but the episode means of an iteration in which no episode ended (NaN)."""
    empty = float(metrics["rollout/episodes"]) == 0.0
    return all(np.isfinite(float(v)) or (empty and k in EPISODE_MEANS) for k, v in metrics.items())


def _eval_starts(num: int) -> tuple[jax.Array, jax.Array]:
    """Fixed held-out (start, goal) pairs, [num, 2] each."""
    states = jax.vmap(TASK.reset)(jax.random.split(jax.random.PRNGKey(1234), num))
    return states.physics.qpos, states.info.goal


@jax.jit
def _greedy_success_jit(actor_params: Any, normalizer: Any, keys: jax.Array) -> jax.Array:
    policy = make_policy(CONFIG, deterministic=True)

    def episode(key: jax.Array) -> jax.Array:
        def step(s: State, _: None) -> tuple[State, jax.Array]:
            s = TASK.step(s, policy(actor_params, normalizer, s.obs))
            return s, s.success
        return jnp.max(jax.lax.scan(step, TASK.reset(key), None, length=HORIZON)[1])

    return jnp.mean(jax.vmap(episode)(keys))


def _greedy_success(state: sac.TrainState, num: int = 256) -> float:
    """Fraction of held-out episodes in which the deterministic policy reaches the goal."""
    keys = jax.random.split(jax.random.PRNGKey(1234), num)
    return float(_greedy_success_jit(state.learner.actor_params, state.normalizer, keys))


def _random_success(num: int = 256) -> float:
    """The same held-out episodes under uniformly random actions (numpy)."""
    pos, goal = (np.asarray(x, np.float64) for x in _eval_starts(num))
    rng, reached = np.random.default_rng(0), np.zeros(num, bool)
    for _ in range(HORIZON):
        pos = np.clip(pos + TASK.speed * rng.uniform(-1.0, 1.0, pos.shape), -1.2, 1.2)
        reached |= np.linalg.norm(goal - pos, axis=-1) < TASK.tolerance
    return float(reached.mean())


# ---------------------------------------------------------------------------------------------
# Pure pieces

LOG_PROB = jax.jit(tanh_gaussian_log_prob)


def test_tanh_gaussian_log_prob_matches_numerical_density() -> None:
    mean, log_std = 0.3, -0.4
    sigma = math.exp(log_std)
    actions = np.linspace(-0.95, 0.95, 39)

    def cdf(a: float) -> float:
        return 0.5 * (1.0 + math.erf((math.atanh(a) - mean) / (sigma * math.sqrt(2.0))))

    h = 1e-5
    numerical = np.array([(cdf(a + h) - cdf(a - h)) / (2 * h) for a in actions])
    pre = np.arctanh(actions).astype(np.float32)[:, None]
    log_prob = LOG_PROB(pre, np.full_like(pre, mean), np.full_like(pre, log_std))
    np.testing.assert_allclose(np.exp(np.asarray(log_prob)), numerical, rtol=2e-3)

    # Dimensions add up; huge pre-tanh values stay finite; samples match their log-probs.
    pre2 = np.asarray([[0.2, -1.3], [25.0, -30.0]], np.float32)
    mu2, ls2 = np.asarray([[0.1, -0.2]] * 2, np.float32), np.asarray([[0.0, -1.0]] * 2, np.float32)
    joint = LOG_PROB(pre2, mu2, ls2)
    parts = sum(LOG_PROB(pre2[:, i:i + 1], mu2[:, i:i + 1], ls2[:, i:i + 1]) for i in range(2))
    np.testing.assert_allclose(np.asarray(joint), np.asarray(parts), rtol=1e-5)
    assert np.all(np.isfinite(np.asarray(joint)))
    key = jax.random.PRNGKey(0)
    action, lp = jax.jit(tanh_gaussian_sample)(key, jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    x = np.asarray(jax.random.normal(key, (2, 2)))
    np.testing.assert_allclose(np.asarray(action), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(lp), np.asarray(LOG_PROB(x, 0.0 * x, 0.0 * x)), rtol=1e-5)


def test_td_target_bootstraps_truncation_not_termination() -> None:
    rewards = jnp.asarray([1.0, 1.0, 1.0, 1.0])
    dones = jnp.asarray([0.0, 1.0, 1.0, 0.0])
    truncations = jnp.asarray([0.0, 0.0, 1.0, 0.0])  # running, terminated, time limit, running
    next_q, next_log_prob = jnp.asarray([10.0, 10.0, 10.0, 4.0]), jnp.asarray([-1.0, -1.0, -1.0, 2.0])
    y = td_target(rewards, dones, truncations, next_q, next_log_prob, jnp.asarray(0.5), 0.9)
    np.testing.assert_allclose(np.asarray(y), [1 + 0.9 * 10.5, 1.0, 1 + 0.9 * 10.5, 1 + 0.9 * 3.0], rtol=1e-6)


def test_polyak_update() -> None:
    target = {"w": jnp.asarray([1.0, 2.0]), "b": jnp.asarray(3.0)}
    online = {"w": jnp.asarray([5.0, -2.0]), "b": jnp.asarray(0.0)}
    out = polyak_update(target, online, 0.25)
    np.testing.assert_allclose(np.asarray(out["w"]), [2.0, 1.0])
    np.testing.assert_allclose(float(out["b"]), 2.25)
    same = polyak_update(target, online, 1.0)
    np.testing.assert_allclose(np.asarray(same["w"]), np.asarray(online["w"]))


@pytest.mark.parametrize("entropy, direction", [(1.0, -1.0), (-5.0, 1.0)])
def test_temperature_moves_toward_target_entropy(entropy: float, direction: float) -> None:
    """Entropy above the target (-2) lowers the temperature; below it raises it."""
    log_prob = jnp.full((64,), -entropy)
    opt = optax.adam(0.1)
    log_alpha = jnp.asarray(0.0)
    opt_state = opt.init(log_alpha)
    for _ in range(5):
        grad = jax.grad(temperature_loss)(log_alpha, log_prob, -2.0)
        update, opt_state = opt.update(grad, opt_state)
        log_alpha = optax.apply_updates(log_alpha, update)
    assert float(log_alpha) * direction > 0.3


# ---------------------------------------------------------------------------------------------
# Training


def test_her_learns_sparse_goal_reaching(her_run: Run) -> None:
    no_her_task = ReachGoalTask()
    no_her = _train(dataclasses.replace(CONFIG, her=False), EpisodeEnv(no_her_task, HORIZON), no_her_task)
    initial = sac.init(CONFIG, ENV, jax.random.PRNGKey(0))
    with_her, without_her = _greedy_success(her_run.state), _greedy_success(no_her.state)
    at_start, random = _greedy_success(initial), _random_success()
    print(f"greedy success: HER {with_her:.2f}, no HER {without_her:.2f}, start {at_start:.2f}, "
          f"random {random:.2f}")
    assert all(_finite(row) for row in her_run.history)
    assert with_her > 0.85
    assert with_her > without_her + 0.3
    assert with_her > random + 0.6 and at_start < 0.05


def test_one_trace_and_counters(her_run: Run) -> None:
    assert her_run.traces_at_end == her_run.traces_after_first
    assert her_run.cache_size == 1
    assert her_run.donation_warnings == []
    state, history = her_run.state, her_run.history
    assert int(state.iteration) == ITERATIONS
    assert int(state.env_steps) == ITERATIONS * CONFIG.env_steps_per_iteration
    # Warm-up: 1280 steps = two iterations of random actions; the first one makes no update.
    assert [row["train/random_actions"] for row in history[:3]] == [1.0, 1.0, 0.0]
    assert [row["train/updates"] for row in history[:2]] == [0.0, CONFIG.updates_per_iteration]
    assert int(state.grad_updates) == (ITERATIONS - 1) * CONFIG.updates_per_iteration
    assert history[0]["loss/critic"] == 0.0 and history[-1]["loss/critic"] > 0.0
    assert history[-1]["buffer/size"] == ITERATIONS * CONFIG.env_steps_per_iteration
    expected = {
        "rollout/ep_rew_mean", "rollout/ep_len_mean", "rollout/success_rate", "rollout/episodes",
        "rollout/nan_resets", "rollout/reward_mean", "loss/actor", "loss/critic", "loss/alpha",
        "train/alpha", "train/q_mean", "train/entropy", "buffer/size", "task/dist_to_goal",
    }
    assert expected <= set(history[-1])
    assert history[-1]["train/alpha"] != CONFIG.init_alpha


def test_buffer_stores_final_obs_for_ended_episodes(her_run: Run) -> None:
    buf = her_run.state.buffer
    n = int(buf.size)
    data = jax.tree.map(lambda x: np.asarray(x[:n]).reshape((-1,) + x.shape[2:]), buf.data)
    moved = np.clip(data.obs[:, :2] + TASK.speed * np.clip(data.action, -1, 1), -1.2, 1.2)
    # next_obs continues the same episode even where it ended (not the next episode's first obs).
    np.testing.assert_allclose(data.next_obs[:, :2], moved, atol=1e-5)
    np.testing.assert_array_equal(data.next_obs[:, 2:], data.obs[:, 2:])
    truncated, terminated = data.truncation > 0.5, (data.done > 0.5) & (data.truncation < 0.5)
    assert truncated.sum() > 0 and terminated.sum() > 0
    assert np.all(data.done[truncated] == 1.0)
    assert np.all(data.reward[terminated] == 0.0)
    reached = data.next_obs[terminated, :2] - data.next_obs[terminated, 2:]
    assert np.all(np.linalg.norm(reached, axis=-1) < TASK.tolerance)


# ---------------------------------------------------------------------------------------------
# Residual mode


def apply_after_first_iteration(env_steps: jax.Array) -> jax.Array:
    """Residual never applied during the first 32 env steps, always afterwards."""
    return jnp.where(env_steps < 32, 0.0, 1.0)


RES_TASK = ReachGoalTask()
RES_ENV = EpisodeEnv(ResidualTask(RES_TASK, steer_base), episode_length=HORIZON)
RES_CONFIG = SACConfig(
    num_envs=8, steps_per_iteration=4, utd_ratio=1 / 8, batch_size=32, buffer_capacity=8 * 16,
    actor_hidden=(16,), critic_hidden=(16,), warmup_steps=0,
)
ALPHA = AlphaSchedule(alpha=0.5)


def test_residual_starts_at_base_and_follows_apply_schedule() -> None:
    state = sac.init(RES_CONFIG, RES_ENV, jax.random.PRNGKey(0))
    obs = state.env_state.obs
    assert obs.shape == (RES_CONFIG.num_envs, 6)
    r = make_policy(RES_CONFIG, deterministic=True)(state.learner.actor_params, state.normalizer, obs)
    assert np.all(np.asarray(r) == 0.0)
    base = obs[:, -2:]
    np.testing.assert_array_equal(np.asarray(combine(base, scale_residual(r, ALPHA.final))), np.asarray(base))
    sampled = make_policy(RES_CONFIG, deterministic=False)(
        state.learner.actor_params, state.normalizer, obs, jax.random.PRNGKey(1))
    assert np.all(np.abs(np.asarray(sampled)) < 1.0) and np.any(np.asarray(sampled) != 0.0)

    train_step = sac.make_train_step(
        RES_CONFIG, RES_ENV, alpha_fn=ALPHA, apply_prob_fn=apply_after_first_iteration)
    state, m0 = train_step(state)
    stored = np.asarray(state.buffer.data.action[:RES_CONFIG.steps_per_iteration])
    assert np.all(stored == 0.0)  # not applied: the env got u = 0, the base alone
    assert (float(m0["residual/apply_prob"]), float(m0["residual/applied_frac"])) == (0.0, 0.0)
    assert float(m0["residual/residual_abs"]) == 0.0 and float(m0["residual/alpha"]) == 0.5
    assert float(m0["residual/total_abs"]) == pytest.approx(float(m0["residual/base_abs"]))
    state, m1 = train_step(state)
    steps = RES_CONFIG.steps_per_iteration
    stored = np.asarray(state.buffer.data.action[steps:2 * steps])
    assert float(m1["residual/applied_frac"]) == 1.0
    assert np.all(np.abs(stored) <= ALPHA.alpha) and np.any(stored != 0.0)
    assert _finite(m1)
    assert float(m1["train/updates"]) == RES_CONFIG.updates_per_iteration


def test_iterations_without_an_ended_episode_log_nan_episode_means() -> None:
    """No episode ended: the episode means are NaN (no data), not 0; every other metric stays finite."""
    never_solved = ResidualTask(ReachGoalTask(tolerance=-1.0), steer_base, penalty_weight=0.0)
    env = EpisodeEnv(never_solved, episode_length=RES_CONFIG.steps_per_iteration + 2)
    state = sac.init(RES_CONFIG, env, jax.random.PRNGKey(0))
    train_step = sac.make_train_step(RES_CONFIG, env, alpha_fn=ALPHA)
    state, m0 = train_step(state)  # no episode reaches its time limit yet
    assert float(m0["rollout/episodes"]) == 0.0
    for key in EPISODE_MEANS:
        assert np.isnan(float(m0[key])), key
    assert _finite(m0) and float(m0["rollout/reward_mean"]) == -1.0
    _, m1 = train_step(state)  # every env's episode ends by its time limit
    assert float(m1["rollout/episodes"]) == RES_CONFIG.num_envs
    length = RES_CONFIG.steps_per_iteration + 2
    assert (float(m1["rollout/ep_len_mean"]), float(m1["rollout/ep_rew_mean"])) == (length, -length)
    assert float(m1["rollout/success_rate"]) == float(m1["residual/success_rate"]) == 0.0


def test_critic_sees_summed_action() -> None:
    obs = jnp.asarray([[9.0, 9.0, 0.5, -0.8], [9.0, 9.0, 0.9, 0.0]])  # last two entries: the base
    u = jnp.asarray([[0.25, -0.5], [0.5, 0.1]])
    np.testing.assert_allclose(np.asarray(critic_input_action(obs, u, residual=True)),
                               [[0.75, -1.0], [1.0, 0.1]], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(critic_input_action(obs, u, residual=False)), np.asarray(u))


# ---------------------------------------------------------------------------------------------
# Bad input


def test_her_needs_goals_and_residual_needs_alpha() -> None:
    with pytest.raises(ValueError, match=r"HER needs a goal-conditioned scene \(.*EpisodeEnv has none"):
        sac.make_train_step(CONFIG, EpisodeEnv(PlainTask(), 10))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha_fn"):
        sac.make_train_step(CONFIG, ENV, apply_prob_fn=apply_after_first_iteration)

    class NotResidual:
        observation_size, action_size = 4, 2
        spec = TASK.spec

    with pytest.raises(ValueError, match="ends with the base action"):
        sac.check_residual_env(NotResidual())  # type: ignore[arg-type]
    sac.check_residual_env(RES_ENV)
    # HER finds the goals of a task wrapped by ResidualTask and EpisodeEnv (obs = inner obs + base).
    assert her.goal_spec(RES_ENV).desired == (2, 4)


def test_buffer_too_large_for_memory() -> None:
    need = sac.buffer_memory_bytes(CONFIG, ENV)
    assert need == CONFIG.buffer_capacity * (4 * (4 + 2 + 3 + 4) + 8)
    with pytest.raises(ValueError, match=rf"needs {need:,} bytes .* only 1,000 bytes"):
        sac.init(CONFIG, ENV, jax.random.PRNGKey(0), available_bytes=1000)


@pytest.mark.parametrize(
    "changes",
    [
        {"utd_ratio": 0.001},
        {"utd_ratio": 0.3 / 640},
        {"buffer_capacity": 1000},
        {"num_envs": 0},
        {"gamma": 1.5},
        {"tau": 0.0},
        {"batch_size": 0},
        {"actor_hidden": (32, 0)},
        {"activation": "sigmoid"},
        {"init_alpha": 0.0},
        {"her_k": -1},
        {"init_log_std": 3.0},
    ],
)
def test_config_rejects_bad_values(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(CONFIG, **changes)
