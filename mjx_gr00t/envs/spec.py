"""What an env is, as data: its observation layout, actions, policy rate and goals.

Every env layer has a `spec: EnvSpec`. A scene task declares its own; a wrapper derives its own from
the task it wraps (`residual.ResidualTask` appends the base action to the layout and says how its
base follows a new goal); `EpisodeEnv.spec` is its task's. Readers (trainers, HER, export, video)
ask `env.spec` and never walk the wrapper chain.

    spec = env.spec
    spec.obs_layout        (("joint_pos", 6), ..., ("base_action", 6))   covers the observation
    spec.obs_slice("tool_pos")                                           slice(12, 15)
    spec.goal.achieved, spec.goal.compute_reward(achieved, desired)      goal-conditioned scenes

Specs are frozen and validated at construction: a bad one raises ValueError saying what is wrong.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax

ComputeReward = Callable[[jax.Array, jax.Array], jax.Array]
"""(achieved [..., G], desired [..., G]) -> reward [...], vectorised and traceable by jax."""


@dataclasses.dataclass(frozen=True)
class BaseRebase:
    """How a residual env's observed base action follows a new goal (hindsight relabelling).

    goal_context: one env's `envs.base.State` -> context [C], what the base reads besides the goal.
    base_for_goal: (context [C], goal [G]) -> base action [A] (the last A observation entries),
    for one env, traceable. context_size: C >= 1. action_size: A >= 1.
    """

    goal_context: Callable[[Any], jax.Array]
    base_for_goal: Callable[[jax.Array, jax.Array], jax.Array]
    context_size: int
    action_size: int

    def __post_init__(self) -> None:
        if self.context_size < 1 or self.action_size < 1:
            raise ValueError(f"a base rebase needs context_size >= 1 and action_size >= 1, got "
                             f"{self.context_size} and {self.action_size}")


@dataclasses.dataclass(frozen=True)
class GoalSpec:
    """Where goals sit in the flat observation, and the reward of (achieved, desired) goals.

    achieved, desired: (start, stop) observation slices of equal length G.
    compute_reward: see `ComputeReward`; the task's reward term for the goal.
    rebase: how the observed base action is recomputed for another goal (a residual env whose base
    reads the goal); None where the observation holds nothing else that depends on the goal.
    """

    achieved: tuple[int, int]
    desired: tuple[int, int]
    compute_reward: ComputeReward
    rebase: BaseRebase | None = None

    def __post_init__(self) -> None:
        for name in ("achieved", "desired"):
            value = getattr(self, name)
            try:
                lo, hi = (int(v) for v in value)
            except (TypeError, ValueError) as err:
                raise ValueError(f"goal slice {name} must be (start, stop), got {value!r}") from err
            if not 0 <= lo < hi:
                raise ValueError(f"goal slice {name} {(lo, hi)} must satisfy 0 <= start < stop")
            object.__setattr__(self, name, (lo, hi))
        if self.achieved[1] - self.achieved[0] != self.desired[1] - self.desired[0]:
            raise ValueError(f"achieved {self.achieved} and desired {self.desired} goal slices differ in length")
        if not callable(self.compute_reward):
            raise ValueError(f"compute_reward must be callable, got {self.compute_reward!r}")

    @property
    def goal_size(self) -> int:
        """G."""
        return self.achieved[1] - self.achieved[0]


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """An env's interface as data, for one env.

    obs_layout: (name, size) pairs that cover the flat observation in order.
    action_names: one name per action entry (A of them).
    action_ranges: (lo, hi) per action, the range of what each action entry drives, in the task's
        units (paper task: joint target limits, rad; Fetch: (-1, 1), the normalised command).
    action_scale: what an action of 1 moves per policy step (paper task: 0.02 rad of joint target;
        Fetch: 0.05 m of gripper target). Actions themselves are in [-1, 1].
    policy_dt: seconds per policy step.
    goal: the goal layout and reward of a goal-conditioned env (HER); None otherwise.
    critic_only: layout entries only the critic may read (asymmetric actor-critic): state a real
        robot has no sensor for. The actor (and the export) reads `actor_indices` alone.
    obs_mode: the name of the scene's observation mode where it has several (paper task: 'robot' or
        'privileged'); "" otherwise.
    """

    obs_layout: tuple[tuple[str, int], ...]
    action_names: tuple[str, ...]
    action_ranges: tuple[tuple[float, float], ...]
    action_scale: float
    policy_dt: float
    goal: GoalSpec | None = None
    critic_only: tuple[str, ...] = ()
    obs_mode: str = ""

    def __post_init__(self) -> None:
        layout = tuple((str(name), int(size)) for name, size in self.obs_layout)
        names = tuple(str(n) for n in self.action_names)
        ranges = tuple((float(lo), float(hi)) for lo, hi in self.action_ranges)
        for field, value in (("obs_layout", layout), ("action_names", names), ("action_ranges", ranges),
                             ("action_scale", float(self.action_scale)), ("policy_dt", float(self.policy_dt))):
            object.__setattr__(self, field, value)  # normalised types; the dataclass stays frozen
        if not layout or any(size < 1 or not name for name, size in layout):
            raise ValueError(f"obs_layout must be non-empty (name, size >= 1) pairs, got {self.obs_layout!r}")
        _check_unique("obs_layout", [name for name, _ in layout])
        if not names or not all(names):
            raise ValueError(f"action_names must be non-empty names, got {self.action_names!r}")
        _check_unique("action_names", list(names))
        if len(ranges) != len(names):
            raise ValueError(f"{len(names)} action_names {names} but {len(ranges)} action_ranges")
        bad = [(n, r) for n, r in zip(names, ranges, strict=True) if not r[0] < r[1]]
        if bad:
            raise ValueError(f"action_ranges must be (lo, hi) with lo < hi; bad: {bad}")
        for field in ("action_scale", "policy_dt"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{field} must be finite and > 0, got {value}")
        if self.goal is not None:
            self._check_goal(self.goal)
        object.__setattr__(self, "critic_only", tuple(str(n) for n in self.critic_only))
        unknown = [n for n in self.critic_only if n not in dict(layout)]
        if unknown:
            raise ValueError(f"critic_only names {unknown}, which are not in the obs_layout {[n for n, _ in layout]}")
        if len(set(self.critic_only)) == len(layout):
            raise ValueError("critic_only covers the whole observation: the actor would read nothing")

    def _check_goal(self, goal: GoalSpec) -> None:
        n = self.observation_size
        for name, (lo, hi) in (("achieved", goal.achieved), ("desired", goal.desired)):
            if hi > n:
                raise ValueError(f"{name} goal slice {(lo, hi)} is not inside the observation [0, {n})")
        if goal.rebase is not None:
            a = self.action_size
            if goal.rebase.action_size != a or self.obs_layout[-1] != ("base_action", a):
                raise ValueError(
                    f"a goal rebase recomputes the base action (the last {goal.rebase.action_size} "
                    f"observation entries); this spec has {a} actions and its layout ends with "
                    f"{self.obs_layout[-1]}, not ('base_action', {a})")

    @property
    def observation_size(self) -> int:
        """The flat observation's length: the sum of the layout's sizes."""
        return sum(size for _, size in self.obs_layout)

    @property
    def action_size(self) -> int:
        """A, the number of action entries."""
        return len(self.action_names)

    @property
    def policy_hz(self) -> float:
        """Policy steps per second, 1 / policy_dt."""
        return 1.0 / self.policy_dt

    @property
    def actor_layout(self) -> tuple[tuple[str, int], ...]:
        """The layout entries the actor reads, in order (all but `critic_only`)."""
        return tuple((n, s) for n, s in self.obs_layout if n not in self.critic_only)

    @property
    def actor_indices(self) -> tuple[int, ...]:
        """Observation indices the actor reads, ascending; every index when nothing is critic-only."""
        out: list[int] = []
        for name, _ in self.actor_layout:
            sl = self.obs_slice(name)
            out.extend(range(sl.start, sl.stop))
        return tuple(out)

    @property
    def actor_observation_size(self) -> int:
        """How many observation entries the actor reads."""
        return sum(size for _, size in self.actor_layout)

    def obs_slice(self, name: str) -> slice:
        """Where layout entry `name` sits in the flat observation; ValueError naming the entries when
        there is none."""
        start = 0
        for entry, size in self.obs_layout:
            if entry == name:
                return slice(start, start + size)
            start += size
        raise ValueError(f"no observation entry {name!r}; the layout has {[n for n, _ in self.obs_layout]}")


def _check_unique(field: str, names: list[str]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{field} repeats {repeated}; names must be unique")
