"""benchmarks.heldout: a peer's numpy policy is scored on exactly the episodes, and by exactly the
rules, that the runner's --eval-every (`mjx_gr00t.runner.finish.periodic_evaluator`) uses for our
own policy."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import numpy as np
import pytest

from benchmarks.heldout import HeldOutEvaluator, task_of
from mjx_gr00t.rl import algos
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.cli import parse
from mjx_gr00t.runner.finish import periodic_evaluator
from mjx_gr00t.runner.recipes import resolve

TASK = {"scene": "paper_square", "base": "ik", "engine": "c", "num_envs": 4, "dr": True,
        "residual_penalty": 0.001, "alpha": 1.0}


@pytest.fixture(scope="module")
def trained_like():
    """A PPO policy with random (not zero) weights, so the residual moves the arm."""
    config = resolve(parse("ppo", ["--num-envs", "4", "--unroll-length", "4", "--policy-hidden", "16", "16",
                                   "--value-hidden", "16", "16", "--total-steps", "16", "--engine", "c"]), "ppo")
    env = build_env(config)
    state = algos.get("ppo").init(config.algo, env, jax.random.PRNGKey(0))
    leaves, tree = jax.tree.flatten(state.policy_params)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    noisy = [x + 0.3 * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)]
    state = state.replace(policy_params=jax.tree.unflatten(tree, noisy))
    return env, config, state


@pytest.fixture(scope="module")
def evaluator() -> HeldOutEvaluator:
    """One evaluator for the module: its rollout compiles once (every call reuses it)."""
    return HeldOutEvaluator(TASK, episodes=8, seed=123)


def test_a_numpy_policy_scores_as_the_runner_scores_ours(trained_like, evaluator):
    env, config, state = trained_like
    algo = algos.get("ppo")
    policy_fn = algo.policy_fn(config.algo)
    ours = periodic_evaluator(env, policy_fn, algo.inference_params, lambda s: 1.0, 8, 123)(state)
    assert task_of(config) == TASK
    assert evaluator.env is env, "the same task gives the very env object the trainer evaluates on"
    jitted = jax.jit(policy_fn)
    params = algo.inference_params(state)
    peer = evaluator(lambda obs: np.asarray(jitted(params, obs)))
    assert peer["success_rate"] == ours["eval/success_rate"]
    assert peer["mean_return"] == pytest.approx(ours["eval/mean_return"], rel=1e-4, abs=1e-4)


def test_the_base_alone_and_a_zero_policy_agree_and_bad_shapes_are_named(trained_like, evaluator):
    zero = evaluator(lambda obs: np.zeros((obs.shape[0], 6), np.float32))
    base = evaluator(lambda obs: np.ones((obs.shape[0], 6), np.float32), alpha=0.0)
    assert zero["success_rate"] == base["success_rate"]
    assert zero["mean_return"] == pytest.approx(base["mean_return"], abs=1e-6)
    with pytest.raises(Exception, match="expected"):
        evaluator(lambda obs: np.zeros((obs.shape[0], 5), np.float32))
    with pytest.raises(ValueError, match="task lacks"):
        HeldOutEvaluator({"scene": "paper_square"}, episodes=8, seed=0)
