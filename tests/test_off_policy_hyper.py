"""The off-policy learners' hyperparameters as data (`rl.off_policy_hyper`): with the config's values the
traced step trains as `sac.make_train_step`; each traced value trains as the config field it stands
for; runs stacked under vmap train as each alone."""

import dataclasses
import functools
from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import numpy as np
import pytest

from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.residual import AlphaSchedule, ResidualTask
from mjx_gr00t.rl import off_policy_hyper, sac
from mjx_gr00t.rl.ppo_config import PPOConfig
from mjx_gr00t.rl.sac_config import SACConfig
from mjx_gr00t.rl.td3_config import FastTD3Config
from reach_goal import ReachGoalTask, steer_base  # noqa: E402  (tests/ helper)

ENV = EpisodeEnv(ResidualTask(ReachGoalTask(), steer_base), episode_length=20)
SMALL = dict(num_envs=8, steps_per_iteration=4, batch_size=32, buffer_capacity=8 * 16, actor_hidden=(16,),
             critic_hidden=(16,), warmup_steps=0)
SAC = SACConfig(**SMALL, utd_ratio=1 / 8, init_alpha=0.2)
TD3 = FastTD3Config(**SMALL, updates_per_iteration=4, atoms=11, v_min=-20.0, v_max=0.0, policy_delay=2)
ALPHA = 0.5
ITERATIONS = 3
ATOL = 1e-5
"""float32 constants fold differently when they are data: the two paths agree to rounding."""


@functools.lru_cache(maxsize=8)
def _config_run(config: Any, alpha: float = ALPHA) -> sac.TrainState:
    """ITERATIONS of `sac.make_train_step` from PRNGKey(3)."""
    state = sac.init(config, ENV, jax.random.PRNGKey(3))
    step = sac.make_train_step(config, ENV, alpha_fn=AlphaSchedule(alpha=alpha))
    for _ in range(ITERATIONS):
        state, metrics = step(state)
    return state


def _traced_run(config: Any, hyper: dict[str, Any], vmapped: bool = False) -> sac.TrainState:
    """ITERATIONS of the traced core (jitted; vmapped when hyper's leaves carry a run axis)."""
    init = off_policy_hyper.init_core(config, ENV, None)
    step = off_policy_hyper.train_step_core(config, ENV, None, None)
    if vmapped:
        runs = next(iter(hyper.values())).shape[0]
        state = jax.jit(jax.vmap(init))(jax.numpy.stack([jax.random.PRNGKey(3)] * runs), hyper)
        step = jax.vmap(step)
    else:
        state = jax.jit(init)(jax.random.PRNGKey(3), hyper)
    step = jax.jit(step)
    for _ in range(ITERATIONS):
        state, _ = step(state, hyper)
    return state


def _close(a: Any, b: Any) -> bool:
    return all(np.allclose(x, y, atol=ATOL, rtol=1e-4)
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.mark.parametrize("config", [SAC, TD3], ids=["sac", "fast_td3"])
def test_the_config_values_as_data_train_as_the_config(config: Any) -> None:
    traced = _traced_run(config, off_policy_hyper.hyper_of(config, ALPHA))
    wanted = _config_run(config)
    assert int(traced.grad_updates) == int(wanted.grad_updates) > 0
    assert _close(traced.learner, wanted.learner)
    np.testing.assert_array_equal(np.asarray(traced.buffer.data.action), np.asarray(wanted.buffer.data.action))


CHANGES = [(SAC, "critic_learning_rate", 1e-2), (SAC, "init_alpha", 2.0), (SAC, "tau", 0.3),
           (TD3, "noise_std_max", 0.9), (TD3, "target_noise", 0.6), (TD3, "action_l2", 5.0)]


@pytest.mark.parametrize(("config", "field", "value"), CHANGES, ids=[f"{type(c).__name__}-{f}" for c, f, _ in CHANGES])
def test_each_traced_value_trains_as_its_config_field(config: Any, field: str, value: float) -> None:
    hyper = {**off_policy_hyper.hyper_of(config, ALPHA), field: jax.numpy.float32(value)}
    traced = _traced_run(config, hyper)
    assert _close(traced.learner, _config_run(dataclasses.replace(config, **{field: value})).learner)
    assert not _close(traced.learner, _config_run(config).learner)


def test_alpha_is_data_and_stacked_runs_train_as_each_alone() -> None:
    hypers = [off_policy_hyper.hyper_of(SAC, a) for a in (0.25, 1.0)]
    hypers[1]["critic_learning_rate"] = jax.numpy.float32(3e-3)
    stacked = jax.tree.map(lambda *xs: jax.numpy.stack(xs), *hypers)
    together = _traced_run(SAC, stacked, vmapped=True)
    for i, hyper in enumerate(hypers):
        alone = _traced_run(SAC, hyper)
        assert _close(jax.tree.map(lambda x: x[i], together.learner), alone.learner)
    assert _close(jax.tree.map(lambda x: x[0], together.learner), _config_run(SAC, alpha=0.25).learner)
    actions = np.abs(np.asarray(together.buffer.data.action))
    assert actions[0].max() <= 0.25 + 1e-6 < actions[1].max() <= 1.0


def test_traced_fields_and_their_errors() -> None:
    assert "init_alpha" in off_policy_hyper.traced_fields(SAC)
    assert "noise_std_max" in off_policy_hyper.traced_fields(TD3)
    assert "batch_size" not in off_policy_hyper.traced_fields(SAC)
    with pytest.raises(KeyError, match="batch_size"):
        off_policy_hyper.with_traced(SAC, {"batch_size": 1})
    with pytest.raises(TypeError, match="PPOConfig"):
        off_policy_hyper.traced_fields(PPOConfig(total_iterations=1))
    copy = off_policy_hyper.with_traced(TD3, {"tau": 0.5, "alpha": 1.0})
    assert (copy.tau, TD3.tau, copy.gamma) == (0.5, 0.1, TD3.gamma)
