"""Configuration of the SO-101 goal-conditioned tasks: `So101GoalConfig` (validated at construction;
`tasks.py` subclasses it per task) and its domain randomisation. See the package docstring."""

import dataclasses
import math
import os
from typing import ClassVar

import jax
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.envs import assets
from mjx_gr00t.physics import ENGINES

JAW_CLOSED: float = -0.174533
"""The gripper joint's lower limit, rad (so101.xml): the jaws shut."""


@dataclasses.dataclass(frozen=True)
class So101GoalDRConfig:
    """Domain randomisation of the SO-101 goal tasks; the object factors do nothing in Reach."""

    object_mass: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of the cube's mass (and inertia)."""
    object_friction: randomize.Factor = randomize.Factor(0.7, 1.3)
    """Scale of the sliding friction of the cube and the table."""
    object_size: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of the cube's edge. The model is compiled for the largest `high`; larger draws clip."""
    servo_gain: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of every servo's stiffness kp (one draw per servo)."""

    def __post_init__(self) -> None:
        randomize.validate_factors(self)
        if not 0.5 <= self.object_size.low <= self.object_size.high <= 1.3:
            raise ValueError(f"object_size scales must lie in [0.5, 1.3] (what the SO-101's jaws can grasp "
                             f"of the default 30 mm cube), got [{self.object_size.low}, {self.object_size.high}]")
        if self.object_mass.low <= 0 or self.servo_gain.low <= 0 or self.object_friction.low < 0:
            raise ValueError("object_mass and servo_gain scales must be > 0 and object_friction >= 0")

    @classmethod
    def off(cls) -> "So101GoalDRConfig":
        return randomize.all_off(cls)


@struct.dataclass
class So101GoalDRRanges:
    """The DR ranges as data (each (2,) [low, high]); they live in the env state."""

    object_mass: jax.Array
    object_friction: jax.Array
    object_size: jax.Array
    servo_gain: jax.Array

    @classmethod
    def from_config(cls, dr: So101GoalDRConfig) -> "So101GoalDRRanges":
        return cls(**{f.name: getattr(dr, f.name).range(1.0) for f in dataclasses.fields(dr)})


@dataclasses.dataclass(frozen=True)
class So101GoalConfig:
    """Configuration shared by the SO-101 goal tasks. Positions are in the world frame: the table
    top is z = 0, the arm's base at the origin reaching along +x."""

    has_object: ClassVar[bool] = True
    block_gripper: ClassVar[bool] = False
    target_in_the_air: ClassVar[bool] = True

    num_envs: int = 256
    """Parallel envs (used by trainers and `registry.make` validation)."""
    engine: str = "auto"
    """Physics engine: auto (c on CPU-only machines, mjx on accelerators), mjx, c or warp."""
    episode_length: int = 50
    """Policy steps before truncation (2 s at 25 Hz), as Fetch."""
    timestep: float = 0.002
    """Physics timestep, s."""
    substeps: int = 20
    """Physics steps per action (dt = 0.04 s, Fetch's)."""
    action_scale: float = 0.05
    """Largest move of the grasp point's target per action, m (Fetch's scale)."""
    jaw_scale: float = 0.3
    """Gripper action: the jaw's target is its current angle + action x jaw_scale, rad."""
    jaw_open: float = 1.0
    """Widest jaw target, rad (about 10 cm between the fingertips)."""
    sparse: bool = True
    """Sparse reward -(d > threshold); False: dense -d."""
    distance_threshold: float = 0.05
    """Success radius, m."""
    object_half_size: float = 0.015
    """The cube's half-edge, m (a 30 mm cube; the jaws close on it at about 0.35 rad)."""
    object_xy_low: tuple[float, float] = (0.16, -0.12)
    object_xy_high: tuple[float, float] = (0.28, 0.12)
    """The cube's start (and a table goal's) xy range, m: in front of the arm, within its reach."""
    min_object_distance: float = 0.05
    """Least xy distance between the cube and the grasp point's start, m."""
    start: tuple[float, float, float] = (0.20, 0.0, 0.10)
    """The grasp point's start, m."""
    reach_low: tuple[float, float, float] = (0.15, -0.15, 0.03)
    reach_high: tuple[float, float, float] = (0.30, 0.15, 0.13)
    """Reach: the goal's range, m."""
    air_probability: float = 0.5
    """PickAndPlace: chance that the goal is raised off the table."""
    air_height_max: float = 0.09
    """PickAndPlace: a raised goal goes up by U(0, air_height_max), m."""
    workspace_low: tuple[float, float, float] = (0.14, -0.20, 0.008)
    workspace_high: tuple[float, float, float] = (0.32, 0.20, 0.15)
    """The grasp point's target is clipped to this box, m: where the IK places it within about 5 mm
    with the jaws within 20 degrees of straight down (higher or nearer the base, the wrist runs out
    of range); the low z keeps the fingertips above the table."""
    ik_iterations: int = 3
    """Damped-least-squares iterations per action (from the previous joint targets)."""
    ik_damping: float = 0.02
    """DLS damping."""
    tilt_weight: float = 0.05
    """Weight of keeping the jaws pointing down in the IK, m per unit axis error."""
    wrist_roll: float = math.pi / 2
    """The wrist roll the IK holds, rad: the jaws open sideways, across the arm's reach."""
    servo_kp: float = 17.8
    servo_kv: float = 0.0
    servo_force: float = 3.35
    """The twin's calibrated STS3215 servo (envs.paper_rig_config: N m / rad, N m s / rad, N m)."""
    dr: So101GoalDRConfig = So101GoalDRConfig()
    """Domain randomisation."""
    xml_path: str = assets.xml_path("so101_goal.xml")
    """The scene's MJCF."""

    def __post_init__(self) -> None:
        lo, hi = self.workspace_low, self.workspace_high
        checks = (
            (self.num_envs >= 1, f"num_envs must be >= 1, got {self.num_envs}"),
            (self.episode_length >= 1, f"episode_length must be >= 1, got {self.episode_length}"),
            (self.engine in ENGINES, f"unknown physics engine {self.engine!r}; choose one of {list(ENGINES)}"),
            (self.timestep > 0 and self.substeps >= 1,
             f"timestep must be > 0 and substeps >= 1, got {self.timestep}, {self.substeps}"),
            (0 < self.action_scale <= 0.1, f"action_scale must be in (0, 0.1] m, got {self.action_scale}"),
            (0 < self.jaw_scale <= 1.0, f"jaw_scale must be in (0, 1] rad, got {self.jaw_scale}"),
            (0.3 <= self.jaw_open <= 1.74, f"jaw_open must be in [0.3, 1.74] rad, got {self.jaw_open}"),
            (self.distance_threshold > 0, f"distance_threshold must be > 0 m, got {self.distance_threshold}"),
            (0.005 <= self.object_half_size <= 0.02,
             f"object_half_size must be in [0.005, 0.02] m (the jaws' grasp), got {self.object_half_size}"),
            (0 <= self.air_probability <= 1, f"air_probability must be in [0, 1], got {self.air_probability}"),
            (self.ik_iterations >= 1 and self.ik_damping > 0,
             f"ik_iterations must be >= 1 and ik_damping > 0, got {self.ik_iterations}, {self.ik_damping}"),
            (all(a < b for a, b in zip(lo, hi)), f"workspace_low {lo} must be below workspace_high {hi}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        inside = lambda p: all(a <= x <= b for a, x, b in zip(lo, p, hi))  # noqa: E731
        top = self.object_half_size * self.max_size_scale + (self.air_height_max if self.target_in_the_air else 0)
        boxes = (("start", self.start), ("reach_low", self.reach_low), ("reach_high", self.reach_high),
                 ("object_xy_low", (*self.object_xy_low, lo[2])), ("object_xy_high", (*self.object_xy_high, top)))
        for name, point in boxes:
            if not inside(point):
                raise ValueError(f"{name} {point} lies outside the grasp point's workspace {lo}..{hi} m; "
                                 "keep the ranges inside it")
        if not os.path.isfile(self.xml_path):
            raise FileNotFoundError(f"scene XML not found: {self.xml_path}; point xml_path at an MJCF file")

    @property
    def max_size_scale(self) -> float:
        """The largest cube scale the model is compiled for."""
        return max(1.0, self.dr.object_size.high)

    @property
    def dt(self) -> float:
        return self.timestep * self.substeps
