"""A whole sweep, tiny, on fetch_reach: the runs are the standalone trainer's, early stops leave the
program (recompiled smaller, counted), outputs, and exact resume after an interruption.

With the script base, which solves reach, every run holds the target at its first evaluation, all at
the same clock (the runs of a program share its time): configuration 0 leads, and at the next
evaluation the others have trained past its time and stop. That makes the early stop deterministic.
"""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import dataclasses
import os

import jax
import numpy as np
import pytest

from mjx_gr00t.ablate.grid import cell
from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl import ppo
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.sweep.plan import make_plan
from mjx_gr00t.sweep.program import build_program
from mjx_gr00t.sweep.run import run
from mjx_gr00t.sweep.settings import SweepSettings
from sweep_checks import assert_resumes_exactly, finished_sweep, read  # noqa: E402  (tests/ helper)

TINY = ("scene=fetch_reach", "base=script", "engine=c", "num_envs=8", "unroll_length=8", "num_minibatches=2",
        "policy_hidden=(16,16)", "value_hidden=(16,16)")
SETTINGS = SweepSettings(grid=("learning_rate=1e-3,3e-4,1e-4",), fixed=TINY, total_steps=4 * 64, target=0.9,
                         hold=1, eval_every_steps=64, eval_episodes=4, final_episodes=8)


def test_a_run_of_the_program_is_the_standalone_trainer() -> None:
    """The first run of a program trains as train.residual_ppo's PPO from the same seed (vmapped
    batches round differently at most)."""
    plan = make_plan(dataclasses.replace(SETTINGS, seeds=(3,)))
    program = build_program(plan.groups[0])
    state, hyper = program.init(plan.groups[0].runs), program.hyper(plan.groups[0].runs)
    step, seconds = program.compile_step(state, hyper)
    assert seconds > 0
    config = plan.runs[0].config
    env = build_env(config)
    alone = ppo.init(config.algo, env, jax.random.PRNGKey(3))
    alone_step = ppo.make_train_step(config.algo, env, lambda steps: np.float32(1.0))
    for _ in range(2):
        state, _ = step(state, hyper)
        alone, _ = alone_step(alone)
    for a, b in zip(jax.tree.leaves(alone.policy_params), jax.tree.leaves(state.policy_params), strict=True):
        np.testing.assert_allclose(np.asarray(b[0]), np.asarray(a), rtol=1e-4, atol=1e-5)
    assert int(cell(state, 0).env_steps) == int(alone.env_steps) == 2 * 64


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> str:
    return finished_sweep(tmp_path_factory, SETTINGS, "sweep")


def test_outputs_early_stops_and_compiles(whole: str) -> None:
    summary, progress = read(whole)
    for name in ("results.csv", "results.md", "success.png", "run.json"):
        assert os.path.getsize(os.path.join(whole, name)) > 0
    assert summary["configurations"] == 3 and summary["programs"] == 1
    assert summary["compiles"] == 2            # the program of 3 runs, then of the one left
    assert summary["compile_s"] > 0 and summary["train_s"] > 0
    ended = {row["config"]: row["ended"] for row in summary["results"]}
    assert ended[0] == "budget"
    assert ended[1].startswith("early: ") and ended[2].startswith("early: ")
    assert [len(r["curve"]) for r in progress["runs"]] == [4, 2, 2]
    assert [r["env_steps"] for r in progress["runs"]] == [256, 128, 128]
    winner = summary["winner"]
    assert winner["config"] == 0 and winner["settings"] == {"learning_rate": 1e-3}
    assert "--learning-rate 0.001" in winner["command"]
    row = summary["results"][0]
    assert row["config"] == 0 and row["final_episodes"] == 8
    assert row["final_ci95_low"] <= row["final_success"] <= row["final_ci95_high"]
    with open(os.path.join(whole, "results.md")) as f:
        assert "| 0 | 0.001 |" in f.read()


def test_an_interrupted_sweep_resumes_exactly(whole: str, tmp_path: str) -> None:
    summary = assert_resumes_exactly(SETTINGS, whole, str(tmp_path / "resumed"))
    assert summary["winner"]["config"] == 0


def test_an_occupied_out_is_refused_in_one_line(whole: str) -> None:
    with pytest.raises(UsageError) as info:
        run(dataclasses.replace(SETTINGS, out=whole))
    assert "already holds" in info.value.message and "\n" not in info.value.message
