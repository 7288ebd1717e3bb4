"""Each configuration's time to the held target, the best so far, and which configurations can stop.

A run's time to target is `time_to_target.held_time` of its held-out curve on its own clock (see
`progress`), held for `hold` evaluations. A configuration's is the latest of its seeds' (every seed has
held the target by then), None while any seed has not.
"""

from mjx_gr00t.evaluation import wilson
from mjx_gr00t.sweep.plan import Plan
from mjx_gr00t.sweep.progress import Progress, RunProgress
from mjx_gr00t.time_to_target import held_time


def run_held(run: RunProgress, target: float, hold: int) -> tuple[float, int] | None:
    """(clock s, env steps) of the evaluation from which `run` holds `target` for `hold` evaluations."""
    t = held_time([(c, s) for c, _, s in run.curve], target, hold=hold)
    if t is None:
        return None
    return t, next(steps for c, steps, _ in run.curve if c == t)


def config_held_to_end(plan: Plan, progress: Progress, index: int, target: float) -> float | None:
    """The stricter reading: the latest of its seeds' times from which success stays >= `target` at every
    later evaluation of the run (to its last, which for a run stopped early is its stop)."""
    times = [held_time([(c, s) for c, _, s in progress.runs[k].curve], target) for k in config_runs(plan, index)]
    return None if any(t is None for t in times) else max(times)


def config_runs(plan: Plan, index: int) -> list[int]:
    """Indices into `plan.runs` of configuration `index`'s runs (one per seed)."""
    return [k for k, r in enumerate(plan.runs) if r.index == index]


def config_held(plan: Plan, progress: Progress, index: int, target: float, hold: int) -> float | None:
    """Configuration `index`'s time to target: the latest of its seeds', None while one has not held it."""
    times = [run_held(progress.runs[k], target, hold) for k in config_runs(plan, index)]
    return None if any(t is None for t in times) else max(t[0] for t in times)


def best(plan: Plan, progress: Progress, target: float, hold: int) -> tuple[int, float] | None:
    """(configuration, time) of the soonest held target so far; None if no configuration holds it."""
    times = [(i, config_held(plan, progress, i, target, hold)) for i in range(len(plan.configs))]
    reached = [(t, i) for i, t in times if t is not None]
    return None if not reached else (min(reached)[1], min(reached)[0])


def can_stop(plan: Plan, progress: Progress, active: list[int], target: float, hold: int) -> list[int]:
    """Configurations among the `active` runs' that can no longer be first: each of their runs has
    trained past the best time to target so far (so any held time of theirs would come later), and
    they are not that best configuration."""
    leader = best(plan, progress, target, hold)
    if leader is None:
        return []
    index, time = leader
    configs = sorted({plan.runs[k].index for k in active} - {index})
    return [i for i in configs if all(progress.runs[k].clock_s > time for k in config_runs(plan, i))]


def final_success(plan: Plan, progress: Progress, index: int) -> tuple[int, int, float, float, float] | None:
    """(successes, episodes, rate, CI low, CI high) of configuration `index`'s final held-out
    evaluations, pooled over its seeds; None before every seed has one."""
    finals = [progress.runs[k].final for k in config_runs(plan, index)]
    if any(f is None for f in finals):
        return None
    successes, episodes = sum(int(f["successes"]) for f in finals), sum(int(f["episodes"]) for f in finals)
    low, high = wilson(successes, episodes)
    return successes, episodes, successes / episodes, low, high
