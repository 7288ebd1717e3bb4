"""Configuration of the Fetch-like tasks: `FetchConfig` (validated at construction; each task module
subclasses it with its defaults) and its domain randomisation, `FetchDRConfig` and `FetchDRRanges`.
See the package docstring (`mjx_gr00t.envs.fetch`) for the tasks' semantics."""

import dataclasses
import math
import os
from typing import ClassVar

import jax
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.envs import assets
from mjx_gr00t.physics import ENGINES

XML_DIR = assets.xml_dir()


@dataclasses.dataclass(frozen=True)
class FetchDRConfig:
    """Domain randomisation of the Fetch-like tasks; every factor switches on and off on its own.
    The object factors do nothing in Reach (no object)."""

    object_mass: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of the cube's mass (and inertia)."""
    object_friction: randomize.Factor = randomize.Factor(0.7, 1.3)
    """Scale of the sliding friction of the cube, table, fingers and palm (contacts take the larger
    of two geoms' frictions, so all of them scale together)."""
    object_size: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of the cube's edge. The model is compiled for the largest `high`; larger draws clip."""
    gripper_gain: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of the servos' stiffness kp: one draw per xyz servo, one shared by both fingers."""

    def __post_init__(self) -> None:
        randomize.validate_factors(self)
        if not 0.4 <= self.object_size.low <= self.object_size.high <= 1.8:
            raise ValueError(
                f"object_size scales must lie in [0.4, 1.8] (the fingers open 0.05 m a side and reach "
                f"down to 2 mm over the table), got [{self.object_size.low}, {self.object_size.high}]"
            )
        if self.object_mass.low <= 0 or self.gripper_gain.low <= 0 or self.object_friction.low < 0:
            raise ValueError("object_mass and gripper_gain scales must be > 0 and object_friction >= 0")

    @classmethod
    def off(cls) -> "FetchDRConfig":
        """Every factor switched off (the reference Fetch has no randomisation)."""
        return randomize.all_off(cls)


@struct.dataclass
class FetchDRRanges:
    """The DR ranges as data (each (2,) [low, high]); they live in the env state."""

    object_mass: jax.Array
    object_friction: jax.Array
    object_size: jax.Array
    gripper_gain: jax.Array

    @classmethod
    def from_config(cls, dr: FetchDRConfig) -> "FetchDRRanges":
        return cls(**{f.name: getattr(dr, f.name).range(1.0) for f in dataclasses.fields(dr)})


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """Configuration shared by the Fetch-like tasks; each task module subclasses it with its defaults.

    Positions are in the scene's world frame: the table's centre is at x = y = 0, its top at
    z = 2 * table_half_extents[2]."""

    has_object: ClassVar[bool] = True
    block_gripper: ClassVar[bool] = False
    target_in_the_air: ClassVar[bool] = True

    num_envs: int = 256
    """Parallel envs (used by trainers and `registry.make` validation)."""
    engine: str = "auto"
    """Physics engine: auto (c on CPU-only machines, mjx on accelerators), mjx, c or warp."""
    episode_length: int = 50
    """Policy steps before truncation (2 s at 25 Hz)."""
    timestep: float = 0.002
    """Physics timestep, s."""
    substeps: int = 20
    """Physics steps per action (dt = timestep * substeps)."""
    action_scale: float = 0.05
    """Largest gripper move per action, m."""
    sparse: bool = True
    """Sparse reward -(d > threshold); False: dense -d."""
    distance_threshold: float = 0.05
    """Success radius, m."""
    table_half_extents: tuple[float, float, float] = (0.25, 0.35, 0.2)
    """Table half-extents, m; it stands on the floor, centred at x = y = 0."""
    object_half_size: float = 0.025
    """The cube's half-edge, m (before size DR)."""
    gripper_start_xy: tuple[float, float] = (0.0, 0.0)
    """Initial grip-site xy, m."""
    gripper_start_height: float = 0.1
    """Initial grip-site height above the table top before `gripper_extra_height`, m."""
    gripper_extra_height: float = 0.2
    """Added to the initial height (Fetch: 0.2 for Reach and PickAndPlace, 0 for Push)."""
    obj_range: float = 0.15
    """Object xy offset from the gripper's start: U(-obj_range, obj_range) per axis, m."""
    min_object_distance: float = 0.1
    """Least xy distance between the object and the gripper's start, m."""
    target_range: float = 0.15
    """Goal offset from the gripper's start: U(-target_range, target_range) per axis, m."""
    air_probability: float = 0.5
    """PickAndPlace: chance that the goal is raised off the table."""
    air_height_max: float = 0.45
    """PickAndPlace: a raised goal goes up by U(0, air_height_max), m."""
    workspace_z: tuple[float, float] = (0.022, 0.55)
    """Grip-site target heights above the table top, m (xy is clipped to the table's footprint).
    The low bound keeps the fingertips (2 cm below the grip site) 2 mm above the table."""
    dr: FetchDRConfig = FetchDRConfig()
    """Domain randomisation."""
    xml_path: str = assets.xml_path("fetch_like.xml")
    """The scene's MJCF."""

    def __post_init__(self) -> None:
        checks = (
            (self.num_envs >= 1, f"num_envs must be >= 1, got {self.num_envs}"),
            (self.episode_length >= 1, f"episode_length must be >= 1, got {self.episode_length}"),
            (self.engine in ENGINES,
             f"unknown physics engine {self.engine!r}; choose one of {list(ENGINES)}"),
            (self.timestep > 0 and self.substeps >= 1,
             f"timestep must be > 0 and substeps >= 1, got {self.timestep}, {self.substeps}"),
            (0 < self.action_scale <= 0.2, f"action_scale must be in (0, 0.2] m, got {self.action_scale}"),
            (self.distance_threshold > 0, f"distance_threshold must be > 0 m, got {self.distance_threshold}"),
            (min(self.table_half_extents) > 0,
             f"table_half_extents must be > 0, got {self.table_half_extents}"),
            (0 < self.object_half_size <= 0.04,
             f"object_half_size must be in (0, 0.04] m, got {self.object_half_size}"),
            (self.obj_range >= 0 and self.target_range >= 0,
             f"obj_range and target_range must be >= 0, got {self.obj_range}, {self.target_range}"),
            (0 <= self.air_probability <= 1,
             f"air_probability must be in [0, 1], got {self.air_probability}"),
            (self.air_height_max >= 0, f"air_height_max must be >= 0, got {self.air_height_max}"),
            (0 <= self.workspace_z[0] < self.workspace_z[1],
             f"workspace_z must be 0 <= low < high (m above the table), got {self.workspace_z}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if not os.path.isfile(self.xml_path):
            raise FileNotFoundError(
                f"scene XML not found: {self.xml_path}; point xml_path at an MJCF file "
                f"(the default lives in {XML_DIR})")
        self._check_reach()

    @property
    def max_size_scale(self) -> float:
        """The largest cube scale the model is compiled for."""
        return max(1.0, self.dr.object_size.high)

    def _check_reach(self) -> None:
        """Object and goal ranges must stay over the table and inside the gripper's workspace."""
        hx, hy, hz = self.table_half_extents
        table = f"the table's half-extents {hx} x {hy} m (a {2 * hx:g} x {2 * hy:g} m top)"
        x0, y0 = self.gripper_start_xy
        start_z = self.gripper_start_height + self.gripper_extra_height
        lo, hi = self.workspace_z
        if not lo <= start_z <= hi:
            raise ValueError(
                f"the gripper's start height {start_z} m above the table is outside workspace_z "
                f"{self.workspace_z}")
        if abs(x0) > hx or abs(y0) > hy:
            raise ValueError(f"gripper_start_xy {self.gripper_start_xy} is off the table: {table}")
        half = self.object_half_size * self.max_size_scale if self.has_object else 0.0
        ranges = [("obj_range", self.obj_range)] if self.has_object else []
        ranges.append(("target_range", self.target_range))
        keep = f", keeping a {half:g} m half-cube on it" if half else ""
        for name, r in ranges:
            room = min(hx - abs(x0), hy - abs(y0)) - half
            if r > room:
                raise ValueError(
                    f"{name} {r} m around the gripper start {self.gripper_start_xy} reaches past the table's "
                    f"edge: {table}{keep}; use {name} <= {max(room, 0.0):.3f}"
                )
        if self.has_object:
            if self.min_object_distance >= self.obj_range * math.sqrt(2):
                raise ValueError(
                    f"min_object_distance {self.min_object_distance} m cannot be met with obj_range "
                    f"{self.obj_range} m (the farthest draw is {self.obj_range * math.sqrt(2):.3f} m away)"
                )
            top = half + (self.air_height_max if self.target_in_the_air else 0.0)
            if top > hi:
                raise ValueError(
                    f"raised goals reach {top:.3f} m above the table, above workspace_z high {hi} m")
        elif not (lo <= start_z - self.target_range and start_z + self.target_range <= hi):
            raise ValueError(
                f"target_range {self.target_range} m around the start height {start_z} m leaves the "
                f"gripper's workspace_z {self.workspace_z} m above the table: {table}"
            )
