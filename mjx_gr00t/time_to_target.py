"""Time to a target that holds: the one definition behind every "x sooner" figure in this project.

    curve = [(wall_s, success), ...]              # periodic held-out evaluations, in time order
    held_time(curve, 0.61)                         # first t from which every later point is >= 0.61
    held_time(curve, 0.61, hold=3)                 # ... from which the next 3 points are >= 0.61
    first_crossing(curve, 0.61)                    # the first point >= 0.61 (reported, labelled, never a ratio)

Why "held": a noisy curve crosses a target long before it stays there. On the paper task a success
ends an episode early while a failure runs to the time limit, so the first episodes to finish a
training rollout are nearly all successes: a training-success curve starts with a spike (0.98 at
21 s, then 0.13) that a first crossing counts and a held time does not.

The curve should come from held-out evaluation on fixed seeds, run off the training clock and the
same for both sides of a comparison (see `train.finish.periodic_evaluator` and
`benchmarks.heldout`). Pure Python: no JAX, so any side (SB3, a sweep, a plot) can use it.
"""

import math
from collections.abc import Sequence
from typing import Any

Curve = Sequence[tuple[float, float]]
"""[(time, value)] in increasing time; time in seconds (or env steps), value a success rate."""

EPS: float = 1e-12
"""Slack of the >= comparison, so a target taken from the curve itself counts as reached there."""

DEFINITION: str = (
    "time of the first held-out evaluation from which success stays >= the target at every later "
    "evaluation of the run (hold=all), or at the next k evaluations (hold=k); evaluations run on fixed "
    "held-out seeds, off the training clock")


def _check(curve: Curve) -> list[tuple[float, float]]:
    points = [(float(t), float(v)) for t, v in curve]
    for (t0, _), (t1, _) in zip(points, points[1:]):
        if t1 < t0:
            raise ValueError(f"a curve's times must not decrease ({t0} then {t1}); "
                             "a resumed run's clock restarts: pass a run trained in one go")
    return points


def held_time(curve: Curve, target: float, hold: int | None = None) -> float | None:
    """The first time from which the value stays >= `target`: at every later point (hold None) or at
    the `hold` points starting there (all of which must exist). None if the target never holds.

    NaN values (no measurement) count as below the target."""
    points = _check(curve)
    if hold is not None and hold < 1:
        raise ValueError(f"hold must be >= 1 or None, got {hold}")
    ok = [math.isfinite(v) and v >= target - EPS for _, v in points]
    if hold is None:
        start = None
        for i in range(len(points) - 1, -1, -1):   # the start of the final run of points >= target
            if not ok[i]:
                break
            start = i
        return None if start is None else points[start][0]
    for i in range(len(points) - hold + 1):
        if all(ok[i:i + hold]):
            return points[i][0]
    return None


def first_crossing(curve: Curve, target: float) -> float | None:
    """The first time the value is >= `target` (a first crossing; not a held target). None if never."""
    for t, v in _check(curve):
        if math.isfinite(v) and v >= target - EPS:
            return t
    return None


def time_to_target(curve: Curve, target: float, hold: int = 3) -> dict[str, Any]:
    """Every reading of one curve against `target`: held (to the end), held for `hold` points, and the
    first crossing, labelled; the JSON record the benchmarks store."""
    return {
        "target": target,
        "held_s": held_time(curve, target),
        f"held_{hold}_evals_s": held_time(curve, target, hold=hold),
        "first_crossing_s (not held; for reference only)": first_crossing(curve, target),
        "definition": DEFINITION,
    }


def ratio(peer_s: float | None, ours_s: float | None) -> float | None:
    """peer time / our time ("x sooner"); None when either side never reached the target."""
    if peer_s is None or ours_s is None or ours_s <= 0:
        return None
    return peer_s / ours_s
