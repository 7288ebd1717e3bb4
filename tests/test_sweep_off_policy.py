"""Sweeps of the off-policy learners, tiny, on fetch_reach with the script base: a run of the program
trains as `train.residual_sac` would, its replay buffer included; the whole sweep with its early stop,
recompile and winner; exact resume (the buffers are in the checkpoints); how fast_td3's flags split
into programs. As in test_sweep_run, the script base solves reach, so every run holds the target at
its first evaluation and configuration 0 leads: the early stop is deterministic."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import dataclasses
import os
import shlex

import jax
import numpy as np
import pytest

from mjx_gr00t.ablate.grid import cell
from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl import sac
from mjx_gr00t.runner import cli
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.run import schedules
from mjx_gr00t.sweep.plan import make_plan
from mjx_gr00t.sweep.program import OffPolicyProgram, build_program
from mjx_gr00t.sweep.settings import SweepSettings
from sweep_checks import assert_resumes_exactly, finished_sweep, read  # noqa: E402  (tests/ helper)

TINY = ("scene=fetch_reach", "base=script", "engine=c", "her=False", "num_envs=8", "steps_per_iteration=8",
        "utd_ratio=0.0625", "batch_size=32", "buffer_capacity=512", "actor_hidden=(16,16)",
        "critic_hidden=(16,16)", "warmup_steps=0")
SETTINGS = SweepSettings(algo="sac", grid=("critic_learning_rate=1e-3,3e-4",), fixed=TINY, total_steps=4 * 64,
                         target=0.9, hold=1, eval_every_steps=64, eval_episodes=4, final_episodes=8)


@pytest.mark.parametrize("her", [False, True], ids=["plain", "her"])
def test_a_run_of_the_program_is_the_standalone_trainer(her: bool) -> None:
    """With HER the relabelling (and the script base rebased for hindsight goals) runs inside the vmap."""
    fixed = (*TINY[:3], f"her={her}", *TINY[4:])
    plan = make_plan(dataclasses.replace(SETTINGS, seeds=(3,), fixed=fixed))
    program = build_program(plan.groups[0])
    assert isinstance(program, OffPolicyProgram) and program.steps_per_iteration == 64
    state, hyper = program.init(plan.groups[0].runs), program.hyper(plan.groups[0].runs)
    step, seconds = program.compile_step(state, hyper)
    assert seconds > 0
    config = plan.runs[0].config
    env = build_env(config)
    alone = sac.init(config.algo, env, jax.random.PRNGKey(3))
    alone_step = sac.make_train_step(config.algo, env, alpha_fn=schedules(config).alpha,
                                     apply_prob_fn=schedules(config).apply_prob)
    for _ in range(2):
        state, _ = step(state, hyper)
        alone, _ = alone_step(alone)
    first = cell(state, 0)
    for a, b in zip(jax.tree.leaves(alone.learner), jax.tree.leaves(first.learner), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(first.buffer.data.obs), np.asarray(alone.buffer.data.obs), atol=1e-5)
    assert int(first.env_steps) == int(alone.env_steps) == 2 * 64 and int(first.grad_updates) == 2 * 4


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> str:
    return finished_sweep(tmp_path_factory, SETTINGS, "sweep_sac")


def test_outputs_early_stop_and_winner(whole: str) -> None:
    summary, progress = read(whole)
    assert summary["configurations"] == 2 and summary["programs"] == 1 and summary["compiles"] == 2
    ended = {row["config"]: row["ended"] for row in summary["results"]}
    assert ended[0] == "budget" and ended[1].startswith("early: ")
    assert [r["env_steps"] for r in progress["runs"]] == [256, 128]
    command = shlex.split(summary["winner"]["command"])
    assert command[:3] == ["python", "-m", "train.residual_sac"] and "--no-her" in command
    alone = cli.parse("sac", command[3:])   # the winner's command trains exactly the swept run
    swept = make_plan(SETTINGS).runs[0].config
    assert alone.identity() == swept.identity() and alone.run.total_steps == swept.run.total_steps == 256
    for name in ("results.csv", "results.md", "success.png"):
        assert os.path.getsize(os.path.join(whole, name)) > 0


def test_an_interrupted_sweep_resumes_exactly(whole: str, tmp_path: str) -> None:
    assert_resumes_exactly(SETTINGS, whole, str(tmp_path / "resumed"))


def test_fast_td3_values_are_data_and_shapes_split_programs() -> None:
    settings = SweepSettings(algo="fast_td3", grid=("noise_std_max=0.2,0.4", "batch_size=32,64", "tau=0.05,0.1"),
                             fixed=(*TINY[:4], "num_envs=8", "buffer_capacity=512"))
    plan = make_plan(settings)
    assert len(plan.configs) == 8 and len(plan.groups) == 2
    assert all(len(g.runs) == 4 and len({r.config.algo.batch_size for r in g.runs}) == 1 for g in plan.groups)
    assert dict(plan.runs[1].hyper)["tau"] == 0.1 and dict(plan.runs[2].hyper)["noise_std_max"] == 0.2


def test_a_sac_flag_fast_td3_lacks_is_one_line() -> None:
    with pytest.raises(UsageError, match="fast_td3 has no flag 'utd_ratio'"):
        make_plan(SweepSettings(algo="fast_td3", grid=("utd_ratio=0.5,1",)))


def test_a_replay_buffer_that_does_not_fit_is_one_line_naming_it(tmp_path: str) -> None:
    """The memory estimate counts each run's replay buffer (from shapes; nothing is allocated)."""
    from mjx_gr00t.sweep.run import run

    fixed = tuple(f for f in TINY if not f.startswith("buffer_capacity")) + ("buffer_capacity=4000000000",)
    with pytest.raises(UsageError, match=r"one run alone needs \d+\.\d+ GiB .*lower buffer_capacity") as info:
        run(dataclasses.replace(SETTINGS, fixed=fixed, out=str(tmp_path / "s")))
    assert "\n" not in info.value.message and not os.path.exists(str(tmp_path / "s"))
