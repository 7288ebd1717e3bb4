"""The rollout metrics PPO and SAC share (`mjx_gr00t.rl.rollout`): exact episode means, NaN (not 0)
when no episode ended, and that the metrics log, its progress bar and its plot take those NaNs."""

from types import SimpleNamespace

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.rl.rollout import EPISODE_MEANS, RolloutStats, rollout_metrics
from mjx_gr00t.runner.metrics_log import MetricsLog, plot_learning_curve, read_metrics


def _stats(episodes: float, returns: float, lengths: float, successes: float) -> RolloutStats:
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return RolloutStats(episodes=f(episodes), return_sum=f(returns), length_sum=f(lengths),
                        success_sum=f(successes), reward_sum=f(12.0),
                        metric_sums={"count": f(6.0), "task/dist": f(3.0)})


def _env(nan_resets: list[int]) -> SimpleNamespace:
    """What `rollout_metrics` reads of a batched env state: episode.nan_resets [B]."""
    return SimpleNamespace(episode=SimpleNamespace(nan_resets=jnp.asarray(nan_resets, jnp.int32)))


def test_episode_means_are_exact() -> None:
    metrics = rollout_metrics(_stats(4.0, 10.0, 20.0, 1.0), _env([0, 1]), _env([2, 1]), 24)
    got = {k: float(v) for k, v in metrics.items()}
    assert got == {
        "rollout/ep_rew_mean": 2.5, "rollout/ep_len_mean": 5.0, "rollout/success_rate": 0.25,
        "rollout/episodes": 4.0, "rollout/nan_resets": 2.0, "rollout/reward_mean": 0.5,
        "env/count": 0.25, "task/dist": 0.125,
    }
    assert all(v.dtype == jnp.float32 and v.shape == () for v in metrics.values())


def test_no_ended_episode_gives_nan_means_and_finite_rest() -> None:
    metrics = rollout_metrics(_stats(0.0, 0.0, 0.0, 0.0), _env([0, 0]), _env([0, 0]), 24)
    for key in ("rollout/ep_rew_mean", "rollout/ep_len_mean", "rollout/success_rate"):
        assert np.isnan(float(metrics[key])), key
    rest = {k: float(v) for k, v in metrics.items() if k not in EPISODE_MEANS}
    assert all(np.isfinite(v) for v in rest.values()) and rest["rollout/episodes"] == 0.0


def test_metrics_log_and_plot_take_nan(tmp_path) -> None:
    nan = float("nan")
    records = [{"rollout/success_rate": nan, "rollout/ep_rew_mean": nan, "rollout/episodes": 0.0},
               {"rollout/success_rate": 0.5, "rollout/ep_rew_mean": -3.0, "rollout/episodes": 2.0},
               {"rollout/success_rate": nan, "rollout/ep_rew_mean": nan, "rollout/episodes": 0.0}]
    with MetricsLog(str(tmp_path), "disabled", "test", {}, total_steps=30, name="nan") as log:
        for i, record in enumerate(records):
            log.write(10 * (i + 1), record)
    saved = read_metrics(str(tmp_path / "metrics.jsonl"))
    assert [r["rollout/success_rate"] for r in saved] == [None, 0.5, None]  # strict JSON: null, not NaN
    png = tmp_path / "curve.png"
    plot_learning_curve(str(tmp_path / "metrics.jsonl"), str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learning_curve_is_an_episode_weighted_trailing_mean() -> None:
    from mjx_gr00t.runner.metrics_log import _series

    records = [{"env_steps": 1, "rollout/success_rate": 1.0, "rollout/episodes": 60.0},
               {"env_steps": 2, "rollout/success_rate": None, "rollout/episodes": 0.0},
               {"env_steps": 3, "rollout/success_rate": 0.0, "rollout/episodes": 60.0},
               {"env_steps": 4, "rollout/success_rate": 0.5, "rollout/episodes": 60.0}]
    xs, ys = _series(records, "rollout/success_rate", min_episodes=100)
    assert xs == (1, 3, 4)
    # 60 episodes at 1.0; then 120 at (1, 0); then the oldest record drops out: 120 at (0, 0.5)
    assert ys == pytest.approx((1.0, 0.5, 0.25))
