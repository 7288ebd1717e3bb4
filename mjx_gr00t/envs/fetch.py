"""Fetch-like goal-conditioned tasks (Reach, Push, PickAndPlace): the shared task code.

Semantics of Gymnasium-Robotics Fetch (see shared/reference/fetch.md), on our own primitive model
`envs_xml/fetch_like.xml`. The task files `fetch_reach.py`, `fetch_push.py` and
`fetch_pick_place.py` only set defaults.

Timing: physics timestep 0.002 s, 20 physics steps per action (dt = 0.04 s, 25 Hz), 50-step
episodes that end by the time limit only (success never ends an episode: `EpisodeEnv(..., terminate_on_success=False)`).

Action: (4,) in [-1, 1] = dx, dy, dz, gripper. dx..dz times `action_scale` (0.05 m) move the
gripper's position target, clipped to a workspace box over the table. The gripper part is a delta
on each finger's current opening (ctrl = opening + a, clipped to 0..0.2, as in Fetch); in Reach
and Push it is ignored and the fingers are held closed.

Observation: one flat float32 vector = [observation, achieved_goal (3), desired_goal (3)]:
  observation, with an object (25): grip_pos 3, object_pos 3, object_rel_pos 3, gripper_state 2,
    object_rot 3 (Euler x-y-z, R = Rz Ry Rx), object_velp - grip_velp 3, object_velr 3 (world
    frame), grip_velp 3, gripper_vel 2; every velocity multiplied by dt;
  observation, Reach (10): grip_pos 3, gripper_state 2, grip_velp 3, gripper_vel 2.
  achieved_goal: the object's position (the grip site's for Reach). desired_goal: the target.
`split_obs` gives the dict view; `goal_spec` the slices; `compute_reward` is vectorised.

Reward: sparse -(d > 0.05) or dense -d, d = |achieved - desired|; success d < 0.05.

Deliberate differences from Fetch:
- no arm and no mocap weld: the gripper rides three stiff, damped slide servos (see the XML),
  because our engines step physics through `ctrl` and keep only qpos/qvel;
- the observation is one flat vector (`split_obs` gives Fetch's dict);
- the scene's own frame: the table's centre at x = y = 0, its top at z = 0.4; the grip site starts
  over the table's centre, `gripper_start_height` (0.1 m) + `gripper_extra_height` above it;
- the object's position takes the first of a fixed number of rejection draws (then a fallback),
  so that reset stays a pure, vmappable function;
- blocked fingers are commanded closed instead of having their qpos overwritten every step;
- domain randomisation (`FetchDRConfig`), which Fetch does not have.
"""

import dataclasses
import math
import os
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.envs.base import EpisodeEnv, EpisodeInfo, State
from mjx_gr00t.kinematics import quat_to_mat
from mjx_gr00t.physics import ENGINES, PhysicsState, make_engine, resolve_engine_name

XML_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "envs_xml")
OBJECT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("grip_pos", 3), ("object_pos", 3), ("object_rel_pos", 3), ("gripper_state", 2), ("object_rot", 3),
    ("object_velp", 3), ("object_velr", 3), ("grip_velp", 3), ("gripper_vel", 2),
)
REACH_LAYOUT: tuple[tuple[str, int], ...] = (
    ("grip_pos", 3), ("gripper_state", 2), ("grip_velp", 3), ("gripper_vel", 2),
)
GOAL_LAYOUT: tuple[tuple[str, int], ...] = (("achieved_goal", 3), ("desired_goal", 3))
FINGER_CTRL_MAX = 0.2  # m, the finger servos' ctrlrange 0..0.2
REJECTION_DRAWS = 16  # object-position draws before the fallback (each fails with p ~ 0.35)


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
    """Configuration shared by the Fetch-like tasks; each task file subclasses it with its defaults.

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
    xml_path: str = os.path.join(XML_DIR, "fetch_like.xml")
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


@struct.dataclass
class FetchInfo:
    """Task record of one env: gripper target, goal, DR ranges and this episode's model overrides."""

    grip_target: jax.Array  # (3,) the xyz servos' position target, m
    goal: jax.Array  # (3,) desired goal, m
    dr_ranges: FetchDRRanges
    overrides: dict[str, jax.Array]  # per-env MjModel fields, drawn at reset


def load_model(config: FetchConfig) -> mujoco.MjModel:
    """Compiles the scene: table size, cube size (its largest DR scale), timestep; no cube for Reach."""
    spec = mujoco.MjSpec.from_file(config.xml_path)
    hx, hy, hz = config.table_half_extents
    table = spec.geom("table")
    table.size[:] = (hx, hy, hz)
    table.pos[:] = (0.0, 0.0, hz)
    for key in list(spec.keys):
        spec.delete(key)  # the env sets every state itself
    if config.has_object:
        spec.geom("object").size[:] = config.object_half_size * config.max_size_scale
    else:
        spec.delete(spec.body("object"))
    spec.option.timestep = config.timestep
    return spec.compile()


def euler_xyz(rot: jax.Array) -> jax.Array:
    """(3, 3) rotation -> (3,) angles (x, y, z) with R = Rz(z) Ry(y) Rx(x)."""
    return jnp.array([
        jnp.arctan2(rot[2, 1], rot[2, 2]),
        jnp.arctan2(-rot[2, 0], jnp.sqrt(rot[0, 0] ** 2 + rot[1, 0] ** 2)),
        jnp.arctan2(rot[1, 0], rot[0, 0]),
    ])


class FetchTask:
    """Physics, observation and reward of one Fetch-like task, for one env (see module docstring)."""

    action_size = 4
    action_names: tuple[str, ...] = ("dx", "dy", "dz", "gripper")
    action_ranges: tuple[tuple[float, float], ...] = ((-1.0, 1.0),) * 4

    def __init__(self, config: FetchConfig) -> None:
        self.config = c = config
        self.has_object, self.block_gripper = c.has_object, c.block_gripper
        self.mj_model = m = load_model(c)
        self.engine_name = resolve_engine_name(c.engine)
        self.engine = make_engine(self.engine_name, m)
        self.dt = c.timestep * c.substeps
        qadr = lambda name: int(m.jnt_qposadr[m.joint(name).id])  # noqa: E731
        vadr = lambda name: int(m.jnt_dofadr[m.joint(name).id])  # noqa: E731
        self.grip_q = np.array([qadr(n) for n in ("grip_x", "grip_y", "grip_z")])
        self.grip_v = np.array([vadr(n) for n in ("grip_x", "grip_y", "grip_z")])
        self.finger_q = np.array([qadr("finger_l"), qadr("finger_r")])
        self.finger_v = np.array([vadr("finger_l"), vadr("finger_r")])
        self.table_top = 2.0 * c.table_half_extents[2]
        hx, hy, _ = c.table_half_extents
        self.ws_low = jnp.array([-hx, -hy, self.table_top + c.workspace_z[0]], jnp.float32)
        self.ws_high = jnp.array([hx, hy, self.table_top + c.workspace_z[1]], jnp.float32)
        start_z = self.table_top + c.gripper_start_height + c.gripper_extra_height
        self.grip_start = jnp.array([*c.gripper_start_xy, start_z], jnp.float32)
        if self.has_object:
            self.object_q, self.object_v = qadr("object"), vadr("object")
            self.object_geom, self.object_body = m.geom("object").id, m.body("object").id
            self._inertia_unit = np.asarray(m.body_inertia[self.object_body]) / c.max_size_scale ** 2
            self._friction_geoms = np.array(
                [m.geom(n).id for n in ("object", "table", "finger_l", "finger_r", "palm")])
        layout = OBJECT_LAYOUT if self.has_object else REACH_LAYOUT
        n = sum(size for _, size in layout)
        self.observation_layout = layout + GOAL_LAYOUT
        self.goal_spec = ((n, n + 3), (n + 3, n + 6))
        self.observation_size = n + 6
        self.default_ranges = FetchDRRanges.from_config(c.dr)

    # ----- goals and reward (vectorised over leading dims) -----
    def split_obs(self, obs: jax.Array) -> dict[str, jax.Array]:
        """(..., observation_size) -> the Fetch dict: observation (..., n), achieved_goal (..., 3),
        desired_goal (..., 3)."""
        (a0, a1), (d0, d1) = self.goal_spec
        return {"observation": obs[..., :a0], "achieved_goal": obs[..., a0:a1],
                "desired_goal": obs[..., d0:d1]}

    def goal_distance(self, achieved: jax.Array, desired: jax.Array) -> jax.Array:
        """(..., 3), (..., 3) -> (...) Euclidean distance."""
        return jnp.linalg.norm(achieved - desired, axis=-1)

    def compute_reward(
        self, achieved: jax.Array, desired: jax.Array, sparse: bool | None = None
    ) -> jax.Array:
        """(..., 3), (..., 3) -> (...) float32: sparse -(d > threshold), dense -d.

        sparse: None uses `config.sparse`. Pure jnp, so it runs inside jit (hindsight relabelling)."""
        d = self.goal_distance(achieved, desired)
        use_sparse = self.config.sparse if sparse is None else sparse
        if use_sparse:
            return -(d > self.config.distance_threshold).astype(jnp.float32)
        return (-d).astype(jnp.float32)

    # ----- reset -----
    def reset(self, key: jax.Array, dr_ranges: FetchDRRanges | None = None) -> State:
        """A fresh episode with DR drawn from `dr_ranges` (the config's when None)."""
        c, m = self.config, self.mj_model
        ranges = self.default_ranges if dr_ranges is None else dr_ranges
        k_obj, k_goal, k_air, k_lift, k_mass, k_fr, k_size, k_gain = jax.random.split(key, 8)
        start = self.grip_start
        gain = randomize.uniform(k_gain, ranges.gripper_gain, (4,))
        overrides = randomize.scale_actuator_gains(
            m.actuator_gainprm, m.actuator_biasprm, np.arange(m.nu), jnp.concatenate([gain, gain[3:]]))
        qpos = [start, jnp.zeros(2)]
        if self.has_object:
            scale = jnp.clip(randomize.uniform(k_size, ranges.object_size), 0.4, c.max_size_scale)
            half = c.object_half_size * scale
            obj = jnp.concatenate([start[:2] + self._object_offset(k_obj), (self.table_top + half)[None]])
            goal = jnp.concatenate([
                start[:2] + jax.random.uniform(k_goal, (2,), minval=-c.target_range, maxval=c.target_range),
                (self.table_top + half)[None]])
            if c.target_in_the_air:
                raised = jax.random.uniform(k_air) < c.air_probability
                lift = jax.random.uniform(k_lift, maxval=c.air_height_max)
                goal = goal.at[2].add(jnp.where(raised, lift, 0.0))
            qpos += [obj, jnp.array([1.0, 0.0, 0.0, 0.0])]
            mass = randomize.uniform(k_mass, ranges.object_mass)
            friction = randomize.uniform(k_fr, ranges.object_friction)
            overrides.update({
                "body_mass": randomize.scale_rows(m.body_mass, np.array([self.object_body]), mass),
                "body_inertia": jnp.asarray(m.body_inertia, jnp.float32).at[self.object_body].set(
                    self._inertia_unit * mass * scale ** 2),
                "geom_size": jnp.asarray(m.geom_size, jnp.float32).at[self.object_geom].set(half),
                "geom_friction": randomize.scale_rows(
                    m.geom_friction, self._friction_geoms, friction, slice(0, 1)),
            })
        else:
            goal = start + jax.random.uniform(k_goal, (3,), minval=-c.target_range, maxval=c.target_range)
        physics = PhysicsState(qpos=jnp.concatenate(qpos).astype(jnp.float32),
                               qvel=jnp.zeros(m.nv, jnp.float32))
        info = FetchInfo(grip_target=start, goal=goal.astype(jnp.float32), dr_ranges=ranges,
                         overrides=overrides)
        obs, metrics, success = self._observe(physics, info.goal)
        zero = jnp.zeros(())
        return State(
            physics=physics, obs=obs, reward=zero, done=zero, truncation=zero, success=zero,
            metrics={k: jnp.zeros(()) for k in metrics}, info=info,
            episode=EpisodeInfo(steps=jnp.zeros((), jnp.int32), rng=jax.random.PRNGKey(0),
                                final_obs=jnp.zeros_like(obs), nan_resets=jnp.zeros((), jnp.int32),
                                episode_return=zero),
        )

    def _object_offset(self, key: jax.Array) -> jax.Array:
        """(2,) object xy offset from the gripper's start: the first of REJECTION_DRAWS uniform draws
        at least min_object_distance away; if none is (p ~ 0.35^16), the first draw pushed out radially."""
        c = self.config
        draws = jax.random.uniform(key, (REJECTION_DRAWS, 2), minval=-c.obj_range, maxval=c.obj_range)
        dist = jnp.linalg.norm(draws, axis=-1)
        ok = dist >= c.min_object_distance
        first = draws[0] / jnp.maximum(dist[0], 1e-6) * c.min_object_distance
        return jnp.where(jnp.any(ok), draws[jnp.argmax(ok)], first)

    # ----- step -----
    def step(self, state: State, action: jax.Array) -> State:
        """action: (4,) in [-1, 1]; one policy step of `substeps` physics steps. `done` stays 0:
        Fetch episodes end by the time limit only; `success` is d < threshold at this step."""
        a = jnp.clip(action, -1.0, 1.0)
        target = state.info.grip_target + a[:3] * self.config.action_scale
        target = jnp.clip(target, self.ws_low, self.ws_high)
        fingers = state.physics.qpos[self.finger_q]
        finger_ctrl = jnp.zeros(2) if self.block_gripper else jnp.clip(fingers + a[3], 0.0, FINGER_CTRL_MAX)
        ctrl = jnp.tile(jnp.concatenate([target, finger_ctrl])[None], (self.config.substeps, 1))
        physics = self.engine.step(state.physics, ctrl, state.info.overrides)
        obs, metrics, success = self._observe(physics, state.info.goal)
        return state.replace(
            physics=physics, obs=obs, reward=metrics["reward/goal"], success=success, done=jnp.zeros(()),
            metrics=metrics, info=state.info.replace(grip_target=target),
        )

    # ----- observation -----
    def positions(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """qpos: (nq,) -> grip site (3,), finger openings (2,), object position (3,) (zeros for Reach)."""
        obj = qpos[self.object_q:self.object_q + 3] if self.has_object else jnp.zeros(3)
        return qpos[self.grip_q], qpos[self.finger_q], obj

    def object_half_size(self, state: State) -> jax.Array:
        """() this episode's cube half-edge, m."""
        if not self.has_object:
            return jnp.zeros(())
        return state.info.overrides["geom_size"][self.object_geom, 0]

    def _observe(
        self, physics: PhysicsState, goal: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array], jax.Array]:
        """-> flat obs (observation_size,), metrics, success ()."""
        qpos, qvel, dt = physics.qpos, physics.qvel, self.dt
        grip, fingers, obj = self.positions(qpos)
        grip_velp, finger_vel = qvel[self.grip_v] * dt, qvel[self.finger_v] * dt
        if self.has_object:
            rot = quat_to_mat(qpos[self.object_q + 3:self.object_q + 7])
            velp = qvel[self.object_v:self.object_v + 3] * dt
            velr = rot @ qvel[self.object_v + 3:self.object_v + 6] * dt  # a free joint's is local
            parts = [grip, obj, obj - grip, fingers, euler_xyz(rot), velp - grip_velp, velr, grip_velp,
                     finger_vel]
            achieved = obj
        else:
            parts = [grip, fingers, grip_velp, finger_vel]
            achieved = grip
        obs = jnp.concatenate(parts + [achieved, goal]).astype(jnp.float32)
        d = self.goal_distance(achieved, goal)
        success = (d < self.config.distance_threshold).astype(jnp.float32)
        metrics = {
            "reward/goal": self.compute_reward(achieved, goal),
            "task/success": success,
            "task/dist_to_goal": d,
        }
        return obs, metrics, success


def make_env(config: FetchConfig) -> EpisodeEnv:
    """The time-limited env of a Fetch-like task config: success is reported every step but never
    ends an episode; only the time limit does (truncation, so learners bootstrap)."""
    return EpisodeEnv(FetchTask(config), config.episode_length, terminate_on_success=False)
