"""PPO on tiny toy envs: learning, one trace, determinism, metrics, config validation.

GAE and the loss are tested on their own in test_ppo_losses.py.
"""

import dataclasses
from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.envs.spec import EnvSpec
from mjx_gr00t.physics import PhysicsState
from mjx_gr00t.rl import ppo
from mjx_gr00t.rl.ppo_config import PPOConfig, make_policy
from mjx_gr00t.rl.rollout import EPISODE_MEANS


@struct.dataclass
class PointInfo:
    """target: (2,) goal position. dr_ranges: the (absent) domain-randomisation ranges."""

    target: jax.Array
    dr_ranges: Any = None


@struct.dataclass
class CounterInfo:
    """dr_ranges: the (absent) domain-randomisation ranges."""

    dr_ranges: Any = None


class PointTask:
    """A 2-D point moved by a velocity action towards a random target; reward = -distance.

    Success (which ends the episode) when within `tolerance` of the target. obs = (pos, target - pos).
    `trace_count` counts Python calls of `step`, i.e. how often it was traced.
    """

    observation_size: int = 4
    action_size: int = 2
    spec = EnvSpec(obs_layout=(("pos", 2), ("to_target", 2)), action_names=("vx", "vy"),
                   action_ranges=((-1.0, 1.0),) * 2, action_scale=0.15, policy_dt=1.0)

    def __init__(self, speed: float = 0.15, tolerance: float = 0.15) -> None:
        self.speed = speed
        self.tolerance = tolerance
        self.trace_count = 0

    def _obs(self, pos: jax.Array, target: jax.Array) -> jax.Array:
        return jnp.concatenate([pos, target - pos])

    def reset(self, key: jax.Array, dr_ranges: Any = None) -> State:
        k_pos, k_target = jax.random.split(key)
        pos = jax.random.uniform(k_pos, (2,), minval=-1.0, maxval=1.0)
        target = jax.random.uniform(k_target, (2,), minval=-1.0, maxval=1.0)
        zero = jnp.zeros((), jnp.float32)
        return State(
            physics=PhysicsState(qpos=pos, qvel=jnp.zeros(2)), obs=self._obs(pos, target),
            reward=zero, done=zero, truncation=zero, success=zero,
            metrics={"reward/distance": zero, "task/dist_to_goal": jnp.linalg.norm(target - pos),
                     "speed": zero},
            info=PointInfo(target=target), episode=None,
        )

    def step(self, state: State, action: jax.Array) -> State:
        self.trace_count += 1
        action = jnp.clip(action, -1.0, 1.0)
        pos = state.physics.qpos + self.speed * action
        target = state.info.target
        dist = jnp.linalg.norm(target - pos)
        success = (dist < self.tolerance).astype(jnp.float32)
        return state.replace(
            physics=PhysicsState(qpos=pos, qvel=action), obs=self._obs(pos, target), reward=-dist,
            done=success, success=success,
            metrics={"reward/distance": -dist, "task/dist_to_goal": dist,
                     "speed": jnp.linalg.norm(action)},
        )


class CounterTask:
    """Reward 1 per step, never succeeds; physics turns NaN on step `nan_at` (if given)."""

    observation_size: int = 3
    action_size: int = 1
    spec = EnvSpec(obs_layout=(("count", 1), ("noise", 2)), action_names=("a",), action_ranges=((-1.0, 1.0),),
                   action_scale=1.0, policy_dt=1.0)

    def __init__(self, nan_at: int | None = None) -> None:
        self.nan_at = nan_at

    def reset(self, key: jax.Array, dr_ranges: Any = None) -> State:
        zero = jnp.zeros((), jnp.float32)
        return State(
            physics=PhysicsState(qpos=jnp.zeros(1), qvel=jnp.zeros(1)),
            obs=jnp.concatenate([jnp.zeros(1), jax.random.normal(key, (2,))]),
            reward=zero, done=zero, truncation=zero, success=zero, metrics={"count": zero},
            info=CounterInfo(), episode=None,
        )

    def step(self, state: State, action: jax.Array) -> State:
        count = state.physics.qpos + 1.0
        qpos = count
        if self.nan_at is not None:
            qpos = jnp.where(count >= self.nan_at, jnp.nan, count)
        return state.replace(
            physics=PhysicsState(qpos=qpos, qvel=state.physics.qvel),
            obs=state.obs.at[0].set(count[0]), reward=jnp.ones(()), done=jnp.zeros(()),
            success=jnp.zeros(()), metrics={"count": count[0]},
        )


SMALL = PPOConfig(
    num_envs=16, unroll_length=8, num_minibatches=2, update_epochs=2,
    policy_hidden=(16, 16), value_hidden=(16, 16),
)


def _leaves_equal(a: object, b: object) -> bool:
    return all(
        np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def _finite(metrics: dict[str, Any]) -> bool:
    """Every metric finite, but the episode means of an iteration in which no episode ended (NaN)."""
    empty = float(metrics["rollout/episodes"]) == 0.0
    return all(np.isfinite(float(v)) or (empty and k in EPISODE_MEANS) for k, v in metrics.items())


def _greedy_success_rate(
    config: PPOConfig, task: PointTask, state: ppo.TrainState, horizon: int, num: int
) -> float:
    """Fraction of `num` fixed start states from which the deterministic policy reaches the target."""
    policy = make_policy(config, deterministic=True)

    def episode(key: jax.Array) -> jax.Array:
        def step(env_state: State, _: None) -> tuple[State, jax.Array]:
            action = policy(state.policy_params, state.normalizer, env_state.obs, None)
            env_state = task.step(env_state, action)
            return env_state, env_state.success

        start = task.reset(key)
        _, successes = jax.lax.scan(step, start, None, length=horizon)
        return jnp.maximum(jnp.max(successes), (start.metrics["task/dist_to_goal"] < task.tolerance) * 1.0)

    keys = jax.random.split(jax.random.PRNGKey(1234), num)
    return float(jnp.mean(jax.jit(jax.vmap(episode))(keys)))


def test_ppo_learns_point_reaching() -> None:
    config = PPOConfig(
        num_envs=64, unroll_length=16, num_minibatches=4, update_epochs=4, learning_rate=3e-3,
        gamma=0.97, policy_hidden=(32, 32), value_hidden=(32, 32), init_log_std=-0.5,
    )
    task = PointTask(speed=0.1, tolerance=0.1)
    env = EpisodeEnv(task, episode_length=30)
    state = ppo.init(config, env, jax.random.PRNGKey(0))
    before = _greedy_success_rate(config, task, state, horizon=30, num=256)
    train_step = ppo.make_train_step(config, env)
    history = []
    for _ in range(30):
        state, metrics = train_step(state)
        history.append({k: float(v) for k, v in metrics.items()})
    after = _greedy_success_rate(config, task, state, horizon=30, num=256)

    def episode_mean(rows: list[dict[str, float]], key: str) -> float:
        rows = [row for row in rows if row["rollout/episodes"] > 0]  # the others' means are NaN
        weights = np.array([row["rollout/episodes"] for row in rows])
        return float(np.sum(weights * np.array([row[key] for row in rows])) / np.sum(weights))

    assert all(_finite(row) for row in history)
    # The zero-initialised mean never moves, so only starts already at the target count.
    assert before < 0.05
    assert after > 0.9
    early, late = history[1:6], history[-5:]
    assert episode_mean(late, "rollout/success_rate") > episode_mean(early, "rollout/success_rate") + 0.5
    assert episode_mean(late, "rollout/ep_rew_mean") > episode_mean(early, "rollout/ep_rew_mean") + 10.0


def test_one_trace_over_many_calls() -> None:
    task = PointTask()
    env = EpisodeEnv(task, episode_length=10)
    state = ppo.init(SMALL, env, jax.random.PRNGKey(1))
    train_step = ppo.make_train_step(SMALL, env)
    state, _ = train_step(state)
    traces_after_first = task.trace_count
    for _ in range(3):
        state, _ = train_step(state)
    jax.block_until_ready(state)
    assert task.trace_count == traces_after_first
    assert train_step._cache_size() == 1
    assert int(state.iteration) == 4
    assert int(state.env_steps) == 4 * SMALL.batch_size


def test_zero_init_head_gives_zero_deterministic_action() -> None:
    env = EpisodeEnv(PointTask(), episode_length=10)
    obs = jax.random.normal(jax.random.PRNGKey(3), (7, 5, env.observation_size)) * 3.0
    state = ppo.init(SMALL, env, jax.random.PRNGKey(2))
    act = make_policy(SMALL, deterministic=True)(state.policy_params, state.normalizer, obs, None)
    assert act.shape == (7, 5, env.action_size)
    assert np.all(np.asarray(act) == 0.0)

    sampled = make_policy(SMALL, deterministic=False)(
        state.policy_params, state.normalizer, obs, jax.random.PRNGKey(4)
    )
    assert sampled.shape == (7, 5, env.action_size)
    assert np.all(np.abs(np.asarray(sampled)) <= 1.0) and np.any(np.asarray(sampled) != 0.0)

    config = dataclasses.replace(SMALL, zero_init_policy_head=False)
    state = ppo.init(config, env, jax.random.PRNGKey(2))
    act = make_policy(config, deterministic=True)(state.policy_params, state.normalizer, obs, None)
    assert np.any(np.asarray(act) != 0.0)


def test_same_key_gives_bitwise_identical_runs() -> None:
    env = EpisodeEnv(PointTask(), episode_length=10)
    train_step = ppo.make_train_step(SMALL, env)

    def run(seed: int) -> ppo.TrainState:
        state = ppo.init(SMALL, env, jax.random.PRNGKey(seed))
        for _ in range(3):
            state, _ = train_step(state)
        return state

    a, b, c = run(5), run(5), run(6)
    assert _leaves_equal(a.policy_params, b.policy_params)
    assert _leaves_equal(a.value_params, b.value_params)
    assert _leaves_equal(a.env_state, b.env_state)
    assert not _leaves_equal(a.policy_params, c.policy_params)


def test_episode_metrics_are_exact() -> None:
    config = dataclasses.replace(SMALL, num_envs=4, unroll_length=12)
    env = EpisodeEnv(CounterTask(), episode_length=4)
    state = ppo.init(config, env, jax.random.PRNGKey(0))
    state, metrics = ppo.make_train_step(config, env)(state)
    assert float(metrics["rollout/episodes"]) == 4 * 12 / 4
    assert float(metrics["rollout/ep_len_mean"]) == 4.0
    assert float(metrics["rollout/ep_rew_mean"]) == 4.0
    assert float(metrics["rollout/success_rate"]) == 0.0
    assert float(metrics["rollout/nan_resets"]) == 0.0
    assert float(metrics["rollout/reward_mean"]) == 1.0
    assert float(metrics["env/count"]) == pytest.approx(2.5)  # mean of 1, 2, 3, 4
    expected = {
        "rollout/ep_rew_mean", "rollout/ep_len_mean", "rollout/episodes", "rollout/success_rate",
        "rollout/nan_resets", "loss/policy", "loss/value", "loss/entropy", "train/approx_kl",
        "train/clip_frac", "train/grad_norm", "train/learning_rate", "train/policy_std",
    }
    assert expected <= set(metrics)
    assert all(v.shape == () for v in metrics.values())


def test_no_completed_episode_gives_nan_not_zero() -> None:
    """An iteration in which no episode ended has no episode score: NaN, not a made-up 0."""
    env = EpisodeEnv(CounterTask(), episode_length=SMALL.unroll_length + 1)  # counts stay < 10 (no blow-up)
    state = ppo.init(SMALL, env, jax.random.PRNGKey(0))
    train_step = ppo.make_train_step(SMALL, env, alpha_fn=lambda steps: jnp.ones(()))
    state, metrics = train_step(state)
    assert float(metrics["rollout/episodes"]) == 0.0
    for key in EPISODE_MEANS:
        assert np.isnan(float(metrics[key])), key
    assert _finite(metrics) and float(metrics["rollout/reward_mean"]) == 1.0
    _, metrics = train_step(state)  # every env ends its episode in this iteration
    assert float(metrics["rollout/episodes"]) == SMALL.num_envs
    length = SMALL.unroll_length + 1
    assert float(metrics["rollout/ep_len_mean"]) == float(metrics["rollout/ep_rew_mean"]) == length
    assert float(metrics["rollout/success_rate"]) == float(metrics["residual/success_rate"]) == 0.0


def test_nan_resets_are_counted() -> None:
    config = dataclasses.replace(SMALL, num_envs=4, unroll_length=6)
    env = EpisodeEnv(CounterTask(nan_at=3), episode_length=100)
    state = ppo.init(config, env, jax.random.PRNGKey(0))
    train_step = ppo.make_train_step(config, env)
    for _ in range(2):
        state, metrics = train_step(state)
        assert float(metrics["rollout/nan_resets"]) == 4 * 2
        assert all(np.isfinite(float(v)) for v in metrics.values())
    assert np.all(np.asarray(state.env_state.episode.nan_resets) == 4)


def test_linear_learning_rate_decays() -> None:
    config = dataclasses.replace(SMALL, lr_schedule="linear", total_iterations=4, learning_rate=1e-3)
    env = EpisodeEnv(PointTask(), episode_length=10)
    state = ppo.init(config, env, jax.random.PRNGKey(0))
    train_step = ppo.make_train_step(config, env)
    rates = []
    for _ in range(4):
        state, metrics = train_step(state)
        rates.append(float(metrics["train/learning_rate"]))
    np.testing.assert_allclose(rates, [1e-3, 0.75e-3, 0.5e-3, 0.25e-3], rtol=1e-5)


def test_first_update_ratio_starts_at_one() -> None:
    # One minibatch, one epoch: the loss is evaluated at the rollout policy, so nothing is clipped.
    config = dataclasses.replace(SMALL, num_minibatches=1, update_epochs=1)
    env = EpisodeEnv(PointTask(), episode_length=10)
    state = ppo.init(config, env, jax.random.PRNGKey(0))
    _, metrics = ppo.make_train_step(config, env)(state)
    assert float(metrics["train/clip_frac"]) == 0.0
    assert abs(float(metrics["train/approx_kl"])) < 1e-6


@pytest.mark.parametrize(
    "changes",
    [
        {"num_minibatches": 3},
        {"num_envs": 0},
        {"lr_schedule": "cosine"},
        {"lr_schedule": "linear"},
        {"gamma": 1.5},
        {"clip_eps": 0.0},
        {"value_clip_eps": -0.1},
        {"policy_hidden": (32, 0)},
        {"activation": "sigmoid"},
    ],
)
def test_config_rejects_bad_values(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(SMALL, **changes)


def test_value_clipping_and_no_normalisation_run() -> None:
    config = dataclasses.replace(SMALL, value_clip_eps=0.2, normalize_obs=False, obs_clip=None)
    env = EpisodeEnv(PointTask(), episode_length=10)
    state = ppo.init(config, env, jax.random.PRNGKey(0))
    train_step = ppo.make_train_step(config, env)
    for _ in range(2):
        state, metrics = train_step(state)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert int(state.normalizer.count) == 0


def _hyper_runs(config: PPOConfig, hyper: Any, iterations: int = 3) -> tuple[ppo.TrainState, dict[str, Any]]:
    """`iterations` steps of the traced-hyperparameter core (jitted), from PRNGKey(5)."""
    env = EpisodeEnv(PointTask(), episode_length=10)
    step = jax.jit(ppo.train_step_core(config, env, lambda steps: jnp.float32(1.0), None))
    state = ppo.with_log_std(ppo.init(config, env, jax.random.PRNGKey(5)), hyper.init_log_std)
    for _ in range(iterations):
        state, metrics = step(state, hyper)
    return state, metrics


def _config_runs(config: PPOConfig, iterations: int = 3) -> ppo.TrainState:
    env = EpisodeEnv(PointTask(), episode_length=10)
    step = ppo.make_train_step(config, env, lambda steps: jnp.float32(1.0))
    state = ppo.init(config, env, jax.random.PRNGKey(5))
    for _ in range(iterations):
        state, _ = step(state)
    return state


def test_hyperparameters_as_data_match_the_config_exactly() -> None:
    """The sweep's path: a PPOHyper holding the config's own values trains bit for bit as the config."""
    from mjx_gr00t.rl.ppo_config import hyper_of

    config = dataclasses.replace(SMALL, entropy_coef=0.01, init_log_std=-0.7)
    traced, _ = _hyper_runs(config, hyper_of(config, alpha=1.0))
    assert _leaves_equal(traced.policy_params, _config_runs(config).policy_params)
    assert _leaves_equal(traced.value_params, _config_runs(config).value_params)


@pytest.mark.parametrize("field,value", [("learning_rate", 1e-3), ("gamma", 0.9), ("entropy_coef", 0.05),
                                         ("clip_eps", 0.002), ("gae_lambda", 0.8), ("init_log_std", -1.5)])
def test_each_traced_hyperparameter_acts_as_its_config_field(field: str, value: float) -> None:
    """A PPOHyper value trains as a config with that value (to float rounding: the learning rate is a
    scale on Adam's step), and differently from the config's own value."""
    from mjx_gr00t.rl.ppo_config import hyper_of

    hyper = hyper_of(SMALL, alpha=1.0).replace(**{field: jnp.float32(value)})
    traced, _ = _hyper_runs(SMALL, hyper)
    wanted = _config_runs(dataclasses.replace(SMALL, **{field: value}))
    for a, b in zip(jax.tree.leaves(traced.policy_params), jax.tree.leaves(wanted.policy_params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    assert not _leaves_equal(traced.policy_params, _config_runs(SMALL).policy_params)


def test_hyper_alpha_scales_the_residual_the_env_sees() -> None:
    from mjx_gr00t.rl.ppo_config import hyper_of

    _, metrics = _hyper_runs(SMALL, hyper_of(SMALL, alpha=0.25), iterations=1)
    assert float(metrics["residual/alpha"]) == 0.25
