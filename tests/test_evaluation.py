"""Held-out evaluation: the Wilson and mean intervals, run_episodes (against a Python loop on a toy
task, and on the paper task with the zero action and the IK base), summarise and format_table."""

import dataclasses
import math
from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.bases.rig_drag import RigDragBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.envs.paper_card import PaperCardConfig
from mjx_gr00t.envs.paper_rig_config import PaperRigConfig, RigDRConfig
from mjx_gr00t.envs.spec import EnvSpec
from mjx_gr00t.evaluation import (
    DISTANCE_METRIC, EpisodeResults, format_table, mean_ci, run_episodes, summarise, wilson,
)
from mjx_gr00t.physics import PhysicsState

Z = 1.96


# ----- wilson -----
def _wilson_by_quadratic(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """The Wilson interval as the roots of |p - q| = z sqrt(q (1 - q) / n) in q (independent of
    the closed form in evaluation.py)."""
    p = k / n
    a, b, c = 1 + z * z / n, -(2 * p + z * z / n), p * p
    disc = math.sqrt(b * b - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


@pytest.mark.parametrize("k, n, expected", [
    (0, 10, (0.0, 0.27754)),       # textbook values, 5 digits
    (10, 10, (0.72246, 1.0)),
    (5, 10, (0.23659, 0.76341)),
    (1, 2, (0.09453, 0.90547)),
])
def test_wilson_known_values(k, n, expected):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(expected[0], abs=1e-5)
    assert hi == pytest.approx(expected[1], abs=1e-5)


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (5, 10), (46, 100), (255, 256), (7, 7)])
def test_wilson_matches_quadratic_roots(k, n):
    lo, hi = wilson(k, n)
    ref = _wilson_by_quadratic(k, n)
    assert lo == pytest.approx(max(0.0, ref[0]), abs=1e-12)
    assert hi == pytest.approx(min(1.0, ref[1]), abs=1e-12)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    # Symmetry: the interval of the failures is the mirror image.
    lo_f, hi_f = wilson(n - k, n)
    assert lo == pytest.approx(1.0 - hi_f, abs=1e-12) and hi == pytest.approx(1.0 - lo_f, abs=1e-12)


def test_wilson_edge_cases():
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(5, 10, z=0.0) == pytest.approx((0.5, 0.5))
    narrow, wide = wilson(50, 100), wilson(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]  # more episodes, tighter interval


# ----- mean_ci -----
def test_mean_ci():
    lo, hi = mean_ci(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    half = 1.96 * math.sqrt(2.5) / math.sqrt(5)  # sample std (ddof=1) of 1..5 is sqrt(2.5)
    assert lo == pytest.approx(3.0 - half) and hi == pytest.approx(3.0 + half)
    assert mean_ci(np.array([4.0])) == (4.0, 4.0)
    assert mean_ci(np.full(7, -2.5)) == pytest.approx((-2.5, -2.5))
    assert mean_ci(np.array([0.0, 1.0]), z=1.0) == pytest.approx((0.5 - 0.5, 0.5 + 0.5))


# ----- run_episodes on a toy task: one episode per env, against a Python loop -----
@struct.dataclass
class ToyInfo:
    """dr_ranges: the (absent) domain-randomisation ranges."""

    dr_ranges: Any = None


class ToyTask:
    """A 2-D point moved by `speed * clip(action)` towards the origin; success within `tolerance`.

    obs = position; metric task/dist_to_goal = distance to the origin; reward = -distance.
    """

    observation_size = 2
    action_size = 2
    speed = 0.1
    tolerance = 0.1
    spec = EnvSpec(obs_layout=(("position", 2),), action_names=("dx", "dy"), action_ranges=((-1.0, 1.0),) * 2,
                   action_scale=speed, policy_dt=1.0)

    def _state(self, pos: jax.Array, reward: jax.Array, success: jax.Array) -> State:
        dist = jnp.linalg.norm(pos)
        return State(
            physics=PhysicsState(qpos=pos, qvel=jnp.zeros(2)), obs=pos, reward=reward,
            done=success, truncation=jnp.zeros(()), success=success,
            metrics={DISTANCE_METRIC: dist}, info=ToyInfo(), episode=None,
        )

    def reset(self, key: jax.Array, dr_ranges: Any = None) -> State:
        pos = jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)
        return self._state(pos, jnp.zeros(()), jnp.zeros(()))

    def step(self, state: State, action: jax.Array) -> State:
        pos = state.physics.qpos + self.speed * jnp.clip(action, -1.0, 1.0)
        dist = jnp.linalg.norm(pos)
        return self._state(pos, -dist, (dist < self.tolerance).astype(jnp.float32))


TOY_N = 16
TOY_LENGTH = 8
TOY_SEED = 3


@pytest.fixture(scope="module")
def toy_env() -> EpisodeEnv:
    return EpisodeEnv(ToyTask(), TOY_LENGTH)


def _toy_act(params: jax.Array, state: State, key: jax.Array) -> jax.Array:
    """Towards the origin, with noise scaled by params (so the per-step keys matter): [N, 2] -> [N, 2]."""
    noise = params * jax.random.normal(key, state.obs.shape)
    return -state.obs / ToyTask.speed + noise


TOY_NOISE = jnp.float32(0.3)


def _reference(env: EpisodeEnv, act, episodes: int, seed: int) -> dict[str, np.ndarray]:
    """run_episodes as a plain Python loop: record each env's first finished episode."""
    k_reset, k_act = jax.random.split(jax.random.PRNGKey(seed))
    state = jax.vmap(env.reset)(jax.random.split(k_reset, episodes))
    step = jax.jit(jax.vmap(env.step))
    out = {name: np.full(episodes, np.nan) for name in ("success", "return", "length", "distance")}
    returns = np.zeros(episodes)
    for t, key in enumerate(jax.random.split(k_act, env.episode_length)):
        state = step(state, act(TOY_NOISE, state, key))
        returns += np.asarray(state.reward)
        for i in np.flatnonzero(np.asarray(state.done) > 0.5):
            if np.isnan(out["length"][i]):
                out["success"][i] = float(state.success[i])
                out["return"][i] = returns[i]
                out["length"][i] = t + 1
                out["distance"][i] = float(state.metrics[DISTANCE_METRIC][i])
        returns[np.asarray(state.done) > 0.5] = 0.0
    return out


@pytest.fixture(scope="module")
def toy_results(toy_env) -> EpisodeResults:
    return run_episodes(toy_env, _toy_act, TOY_NOISE, TOY_N, seed=TOY_SEED)


def test_run_episodes_matches_python_loop(toy_env, toy_results):
    res = toy_results
    ref = _reference(toy_env, _toy_act, TOY_N, seed=TOY_SEED)
    assert not np.any(np.isnan(ref["length"]))  # every env ended within the time limit
    for field in ("success", "episode_return", "length", "final_distance"):
        assert getattr(res, field).shape == (TOY_N,), field
    np.testing.assert_array_equal(res.success, ref["success"])
    np.testing.assert_array_equal(res.length, ref["length"])
    np.testing.assert_allclose(res.episode_return, ref["return"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.final_distance, ref["distance"], rtol=1e-6)
    # The mix this test needs: some envs succeed early (and auto-reset, which must not count
    # again), some run into the time limit.
    success = np.asarray(res.success)
    assert 0 < success.sum() < TOY_N, success
    length = np.asarray(res.length)
    assert np.all((length >= 1) & (length <= TOY_LENGTH))
    assert np.any(length[success > 0.5] < TOY_LENGTH)
    # A success on the last allowed step counts as a success (seed 3 has one), not a truncation.
    assert np.any(length[success > 0.5] == TOY_LENGTH)
    np.testing.assert_array_equal(length[success < 0.5], TOY_LENGTH)
    assert np.all(np.asarray(res.final_distance)[success > 0.5] < ToyTask.tolerance)


def test_run_episodes_seeded(toy_env, toy_results):
    a = toy_results
    b = run_episodes(toy_env, _toy_act, TOY_NOISE, TOY_N, seed=TOY_SEED)
    c = run_episodes(toy_env, _toy_act, TOY_NOISE, TOY_N, seed=TOY_SEED + 1)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(np.asarray(a.episode_return), np.asarray(c.episode_return))


def test_run_episodes_rejects_no_episodes(toy_env):
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        run_episodes(toy_env, _toy_act, TOY_NOISE, 0, seed=0)


# ----- run_episodes on the paper task -----
PAPER_N = 4
SHORT_LENGTH = 30


def test_paper_zero_action_short():
    env = registry.make(
        "paper_card", PaperCardConfig(engine="c", num_envs=PAPER_N, episode_length=SHORT_LENGTH))
    zeros = lambda params, state, key: jnp.zeros((PAPER_N, env.action_size), jnp.float32)  # noqa: E731
    res = run_episodes(env, zeros, None, PAPER_N, seed=0)
    length = np.asarray(res.length)
    success = np.asarray(res.success)
    assert length.shape == success.shape == (PAPER_N,)
    assert np.all((length >= 1) & (length <= SHORT_LENGTH))
    assert set(np.unique(success)) <= {0.0, 1.0}
    # The arm never moves, so the sheet stays put: every env runs into the time limit.
    np.testing.assert_array_equal(success, 0.0)
    np.testing.assert_array_equal(length, SHORT_LENGTH)
    distance = np.asarray(res.final_distance)
    assert np.all(np.isfinite(distance)) and np.all(distance > 0.05)
    assert np.all(np.asarray(res.episode_return) < 0)
    assert len(set(distance.round(6))) > 1  # DR on: different start positions per env

    summary = summarise(res)
    assert summary["episodes"] == PAPER_N and summary["success_rate"] == 0.0
    assert summary["mean_length"] == SHORT_LENGTH


NEAR_NOMINAL = 64


def test_paper_ik_base_succeeds_near_the_nominal_start():
    """The twin's IK drag base (scene paper_square, robot observations), the full default episode,
    from 64 starts within 1 mm and 0.01 rad of the nominal one (every other DR factor off).

    On the card scene this was a knife edge that the CPU's floating point decided (issue 13); the
    fingertip drag is not: measured on a 2-core AMD EPYC over three seed sets, 64 of 64 each, every
    one landed by step 237 of 300 (mean 224), its sheet within 0.12 rad of the frame's axis. So
    every drag must land, with a sixth of the episode to spare."""
    tiny = dataclasses.replace(RigDRConfig.off(), paper_xy=randomize.Factor(-0.001, 0.001),
                               paper_yaw=randomize.Factor(-0.01, 0.01))
    env = registry.make("paper_square", PaperRigConfig(engine="c", num_envs=NEAR_NOMINAL, dr=tiny))
    base = jax.vmap(RigDragBase(env.task))
    res = run_episodes(env, lambda params, state, key: base(state), None, NEAR_NOMINAL, seed=0)
    success, length = np.asarray(res.success) > 0.5, np.asarray(res.length)
    assert success.all(), f"{(~success).sum()} of {NEAR_NOMINAL} failed; lengths {length[~success]}"
    assert np.all(length < env.episode_length * 5 / 6), length.max()
    assert np.all(np.asarray(res.final_distance) < 0.02)


# ----- summarise and format_table -----
def _results(success: list[float], returns: list[float], lengths: list[float], dist: list[float]):
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return EpisodeResults(success=f(success), episode_return=f(returns), length=f(lengths),
                          final_distance=f(dist))


def test_summarise_keys_types_values():
    res = _results([1, 0, 1, 1], [5.0, -3.0, 4.0, 2.0], [10, 150, 20, 30], [0.01, 0.2, 0.02, 0.03])
    s = summarise(res)
    assert set(s) == {"episodes", "success_rate", "success_ci95", "mean_return", "return_ci95",
                      "mean_final_distance", "final_distance_ci95", "mean_length"}
    assert type(s["episodes"]) is int and s["episodes"] == 4
    for key in ("success_rate", "mean_return", "mean_final_distance", "mean_length"):
        assert type(s[key]) is float, key
    for key in ("success_ci95", "return_ci95", "final_distance_ci95"):
        assert isinstance(s[key], list) and len(s[key]) == 2, key
        assert all(type(v) is float for v in s[key]), key
        assert s[key][0] <= s[key][1], key
    assert s["success_rate"] == 0.75
    assert s["success_ci95"] == pytest.approx(list(wilson(3, 4)))
    assert s["mean_return"] == pytest.approx(2.0)
    assert s["return_ci95"] == pytest.approx(list(mean_ci(np.array([5.0, -3.0, 4.0, 2.0]))))
    assert s["mean_final_distance"] == pytest.approx(0.065)
    assert s["mean_length"] == pytest.approx(52.5)


def test_format_table():
    rows = {
        "ik base alone": summarise(_results([1, 0], [1.0, -2.0], [40, 150], [0.02, 0.1])),
        "residual": summarise(_results([1, 1], [3.0, 2.0], [30, 50], [0.01, 0.02])),
    }
    table = format_table(rows)
    lines = table.splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[0].split()[0] == "policy"
    assert lines[2].startswith("ik base alone") and lines[3].startswith("residual")
    assert "50.0%" in lines[2] and "100.0%" in lines[3]
    lo, hi = rows["residual"]["success_ci95"]
    assert f"{lo:.1%}..{hi:.1%}" in lines[3]
    assert format_table({}).count("\n") == 1  # header and rule only
