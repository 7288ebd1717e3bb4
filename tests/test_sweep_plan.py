"""The sweep's settings and plan: grid parsing, sampling, grouping by program, bad input in one line,
the memory check."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import pytest

from mjx_gr00t.errors import UsageError
from mjx_gr00t.sweep.plan import check_memory, configurations, make_plan, starting_config
from mjx_gr00t.sweep.settings import SweepSettings, split_values, validate


def test_values_split_on_commas_outside_brackets() -> None:
    assert split_values("1e-3, 3e-4") == ["1e-3", "3e-4"]
    assert split_values("(64,64),(256,256)") == ["(64,64)", "(256,256)"]


def test_grid_is_every_combination_in_order_and_a_sample_is_a_subset() -> None:
    settings = SweepSettings(grid=("learning_rate=1e-3,3e-4", "update_epochs=2,4", "gamma=0.98,0.99"))
    start = starting_config(settings)
    combos = configurations(settings, start)
    assert len(combos) == 8
    assert combos[0] == {"learning_rate": 1e-3, "update_epochs": 2, "gamma": 0.98}
    assert combos[-1] == {"learning_rate": 3e-4, "update_epochs": 4, "gamma": 0.99}
    sample = configurations(SweepSettings(grid=settings.grid, sample=3, sample_seed=1), start)
    assert len(sample) == 3 and all(c in combos for c in sample)
    assert sample == configurations(SweepSettings(grid=settings.grid, sample=3, sample_seed=1), start)
    assert sample != configurations(SweepSettings(grid=settings.grid, sample=3, sample_seed=2), start)


def test_runs_group_by_what_changes_the_program() -> None:
    """Data fields (learning rate, log std, alpha) share a program; epochs and num_envs do not."""
    settings = SweepSettings(grid=("learning_rate=1e-3,3e-4", "alpha=0.5,1.0", "update_epochs=2,4",
                                   "num_envs=64,128"), seeds=(0, 1), total_steps=100_000)
    plan = make_plan(settings)
    assert len(plan.configs) == 16 and len(plan.runs) == 32
    assert len(plan.groups) == 4
    for group in plan.groups:
        assert len(group.runs) == 8
        assert len({(r.config.algo.update_epochs, r.config.algo.num_envs) for r in group.runs}) == 1
    run = plan.runs[3]   # config 1 (learning_rate 1e-3, alpha 0.5, epochs 2, num_envs 128), seed 1
    assert (run.index, run.seed, run.config.seed) == (1, 1, 1)
    assert dict(run.hyper)["alpha"] == 0.5 and dict(run.hyper)["learning_rate"] == 1e-3
    assert run.config.algo.num_envs == 128 and run.config.residual.alpha == 0.5
    assert run.config.run.total_steps == 100_000
    # the learning rate decays over the sweep's run length, as train.residual_ppo resolves it
    assert run.config.algo.total_iterations == -(-100_000 // run.config.algo.batch_size)


def test_fixed_settings_apply_to_every_run() -> None:
    plan = make_plan(SweepSettings(grid=("learning_rate=1e-3,3e-4",), fixed=("num_envs=32", "base=zero")))
    assert {r.config.algo.num_envs for r in plan.runs} == {32}
    assert {r.config.scene.base for r in plan.runs} == {"zero"}


@pytest.mark.parametrize("settings,expected", [
    (SweepSettings(grid=("tau=0.1,0.05",)), "ppo has no flag 'tau'; it sweeps: num_envs"),
    (SweepSettings(grid=("learning_rate",)), "--grid takes NAME=V1,V2"),
    (SweepSettings(grid=("gamma=0.9", "gamma=0.99")), "--grid names gamma twice"),
    (SweepSettings(fixed=("total_steps=5",)), "--fixed total_steps: ppo has no flag"),
    (SweepSettings(grid=("learning_rate=1e-3",), fixed=("learning_rate=3e-4",)), "both swept"),
    (SweepSettings(grid=("num_minibatches=7",)), "configuration {'num_minibatches': 7}: num_envs * unroll_length"),
    (SweepSettings(grid=("learning_rate=-1",)), "learning_rate must be > 0"),
    (SweepSettings(seeds=()), "--seeds"),
    (SweepSettings(grid=("learning_rate=abc",)), "--grid learning_rate: 'abc' is not a number"),
    (SweepSettings(target=1.5), "--target"),
])
def test_bad_sweeps_fail_in_one_line(settings: SweepSettings, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        validate(settings)
        make_plan(settings)
    assert expected in info.value.message
    assert "\n" not in info.value.message


def test_memory_check_names_the_bytes_and_the_largest_grid_that_fits() -> None:
    check_memory([(4, 2**20), (8, 2**20)], available=8 * 2**20)    # fits exactly
    with pytest.raises(UsageError) as info:
        check_memory([(4, 2**30), (16, 2**30)], available=10 * 2**30)
    message = info.value.message
    assert "needs 16.00 GiB (16 runs x 1024 MiB)" in message
    assert "10.00 GiB is available" in message and "has 10 runs per program" in message
    with pytest.raises(UsageError, match="one run alone needs 2.00 GiB and 1.00 GiB is available"):
        check_memory([(1, 2 * 2**30)], available=2**30)
