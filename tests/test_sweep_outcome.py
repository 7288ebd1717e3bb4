"""Time to a held target per configuration, the leader, early stops and pooled final success, on
hand-made curves (no training)."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import pytest

from mjx_gr00t.sweep import outcome
from mjx_gr00t.sweep.plan import make_plan
from mjx_gr00t.sweep.progress import Progress
from mjx_gr00t.sweep.settings import SweepSettings

SETTINGS = SweepSettings(grid=("learning_rate=1e-3,3e-4,1e-4",), seeds=(0, 1), total_steps=100_000)


def _progress(curves: list[list[float]], step_s: float = 10.0) -> tuple[object, Progress]:
    """Plan of 3 configurations x 2 seeds; run k's curve: success values at clock 10, 20, ... s."""
    plan = make_plan(SETTINGS)
    progress = Progress.new(plan)
    for run, values in zip(progress.runs, curves):
        run.curve = [(step_s * (i + 1), 1000 * (i + 1), v) for i, v in enumerate(values)]
        run.clock_s = step_s * len(values)
    return plan, progress


def test_a_configuration_holds_when_every_seed_has_held_for_hold_evaluations() -> None:
    plan, progress = _progress([
        [0.9, 0.96, 0.97, 0.95, 0.99], [0.96, 0.80, 0.96, 0.97, 0.98],   # config 0: seeds hold from 20 s, 30 s
        [0.96, 0.99, 0.50, 0.96, 0.97], [0.99, 0.99, 0.99, 0.99, 0.99],  # config 1: seed 0 dips at 30 s
        [0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5],            # config 2: never
    ])
    assert outcome.run_held(progress.runs[0], 0.95, 3) == (20.0, 2000)
    assert outcome.run_held(progress.runs[1], 0.95, 3) == (30.0, 3000)
    assert outcome.config_held(plan, progress, 0, 0.95, 3) == 30.0           # the later seed
    assert outcome.run_held(progress.runs[2], 0.95, 3) is None               # 40 s, 50 s: only 2 left
    assert outcome.config_held(plan, progress, 1, 0.95, 3) is None
    assert outcome.config_held(plan, progress, 1, 0.95, 2) == 10.0           # 2 evaluations before the dip
    assert outcome.config_held(plan, progress, 2, 0.95, 3) is None
    assert outcome.best(plan, progress, 0.95, 3) == (0, 30.0)
    assert outcome.best(plan, progress, 0.99, 3) is None
    # the stricter reading: to the last evaluation, a dip counts however early the hold began
    assert outcome.config_held_to_end(plan, progress, 0, 0.95) == 30.0
    assert outcome.config_held_to_end(plan, progress, 1, 0.95) == 40.0
    assert outcome.config_held_to_end(plan, progress, 2, 0.95) is None


def test_only_configurations_past_the_leaders_time_stop() -> None:
    plan, progress = _progress([[0.96] * 3, [0.96] * 3, [0.5] * 2, [0.5] * 2, [0.5] * 4, [0.5] * 3])
    # leader: config 0 at 10 s. Config 1's runs trained 20 s (past it); config 2's 40 s and 30 s.
    assert outcome.best(plan, progress, 0.95, 3) == (0, 10.0)
    assert outcome.can_stop(plan, progress, list(range(6)), 0.95, 3) == [1, 2]
    progress.runs[3].clock_s = 5.0      # one seed of config 1 has not trained past 10 s yet
    assert outcome.can_stop(plan, progress, list(range(6)), 0.95, 3) == [2]
    assert outcome.can_stop(plan, progress, [0, 1], 0.95, 3) == []         # only the leader is active


def test_nothing_stops_before_any_configuration_holds_the_target() -> None:
    plan, progress = _progress([[0.5] * 9] * 6)
    assert outcome.can_stop(plan, progress, list(range(6)), 0.95, 3) == []


def test_final_success_pools_seeds_with_a_wilson_interval() -> None:
    plan, progress = _progress([[0.5]] * 6)
    assert outcome.final_success(plan, progress, 0) is None
    progress.runs[0].final = {"successes": 90, "episodes": 100}
    assert outcome.final_success(plan, progress, 0) is None     # seed 1 not evaluated yet
    progress.runs[1].final = {"successes": 70, "episodes": 100}
    successes, episodes, rate, low, high = outcome.final_success(plan, progress, 0)
    assert (successes, episodes, rate) == (160, 200, 0.8)
    assert low == pytest.approx(0.7390, abs=1e-3) and high == pytest.approx(0.8503, abs=1e-3)
