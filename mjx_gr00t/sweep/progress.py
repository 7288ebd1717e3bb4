"""What a sweep has done so far, saved after every evaluation so that `--resume` goes on from there.

    progress = Progress.new(plan)                 # or Progress.load(out)
    progress.runs[k].curve                        # [(est. training s, env steps, held-out success), ...]
    progress.save(out)                            # atomically, as OUT/progress.json

Run k is `plan.runs[k]`. A run's clock is its share of its group's training time: each iteration's
wall time (compiles excluded) divided by the runs that trained in it. That is what
the run would have taken alone if the grid's cost is linear in its runs; `train.residual_ppo` on the
winner measures the real thing.
"""

import dataclasses
import json
import os
from typing import Any

from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.sweep.plan import Plan

PROGRESS_FILE: str = "progress.json"


@dataclasses.dataclass
class RunProgress:
    """One run: its clock (s), env steps, evaluations, and how it ended."""

    clock_s: float = 0.0
    env_steps: int = 0
    curve: list[tuple[float, int, float]] = dataclasses.field(default_factory=list)
    """(clock_s, env_steps, held-out success) at every periodic evaluation."""
    stopped: str | None = None
    """None while training; 'budget' (trained to --total-steps) or 'early: ...' (why it stopped)."""
    final: dict[str, float] | None = None
    """The final held-out evaluation: successes, episodes, success_rate, clock_s, env_steps."""


@dataclasses.dataclass
class GroupProgress:
    """One group: the iteration reached, whether it is done, its compiles and their seconds."""

    iteration: int = 0
    done: bool = False
    compiles: int = 0
    compile_s: float = 0.0
    train_s: float = 0.0
    eval_s: float = 0.0
    active: list[int] | None = None
    """Indices (into `Plan.runs`) of the runs still training, in the order of the saved state."""


@dataclasses.dataclass
class Progress:
    """The whole sweep's progress."""

    runs: list[RunProgress]
    groups: list[GroupProgress]

    @staticmethod
    def new(plan: Plan) -> "Progress":
        return Progress(runs=[RunProgress() for _ in plan.runs], groups=[GroupProgress() for _ in plan.groups])

    def save(self, out: str) -> None:
        """OUT/progress.json, written atomically."""
        write_json_atomic(os.path.join(out, PROGRESS_FILE), dataclasses.asdict(self))

    @staticmethod
    def load(out: str, plan: Plan) -> "Progress":
        """The saved progress of the sweep in `out`; ValueError when it does not match `plan`."""
        with open(os.path.join(out, PROGRESS_FILE)) as f:
            record: dict[str, Any] = json.load(f)
        runs = [RunProgress(**{**r, "curve": [tuple(p) for p in r["curve"]]}) for r in record["runs"]]
        groups = [GroupProgress(**g) for g in record["groups"]]
        if len(runs) != len(plan.runs) or len(groups) != len(plan.groups):
            raise ValueError(f"{out}/{PROGRESS_FILE} holds {len(runs)} runs in {len(groups)} groups; the "
                             f"settings give {len(plan.runs)} in {len(plan.groups)}")
        return Progress(runs=runs, groups=groups)
