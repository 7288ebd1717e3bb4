"""Scene `paper_card`: the paper task before the rig's twin. Slide a sheet of card until all four
corners are inside a red tape square, pushed by a tool-tip pad that reaches below the jaw tips and
passes through the table (a part and a contact no SO-101 has). Kept for the yardsticks and runs
measured on it; the paper task is `paper_square`, the real rig's twin (envs/paper_rig.py).

One env, pure and vmappable. Physics at 360 Hz, inner control at 180 Hz, policy at 30 Hz: each
policy step runs 12 physics steps, and the joint targets move linearly to their new values over
the 6 inner-control ticks (each held for 2 physics steps).

Action: (6,) in [-1, 1], joint-position deltas for shoulder_pan ... gripper; 1 means `act_scale`
rad (0.02 by default). Targets accumulate and are clipped to the joint ranges.

Observation (34,), all positions relative to the square's centre:
  [0:6] joint positions, [6:12] joint velocities, [12:15] tool position, [15:19] tool quaternion
  (w >= 0), [19:22] paper position, [22:26] paper quaternion (w >= 0), [26:34] the paper's four
  corners (x, y), in the order (+,+), (+,-), (-,+), (-,-) of the paper's half-extents.

Reward, each term logged under `reward/*`: +10 on success, -2 x paper-to-square distance (m),
-0.1 x orientation error (rad, modulo the sheet's 180-degree symmetry), -0.01 per step. Success
(all four corners inside the square) terminates the episode.
"""

import dataclasses
import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.envs import assets
from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.paper_rig_config import ARM_JOINTS
from mjx_gr00t.envs.spec import EnvSpec
from mjx_gr00t.kinematics import SerialChain, mat_to_quat, quat_to_mat
from mjx_gr00t.physics import ENGINES, PhysicsState, make_engine, resolve_engine_name

OBS_LAYOUT: tuple[tuple[str, int], ...] = (
    ("joint_pos", 6), ("joint_vel", 6), ("tool_pos", 3), ("tool_quat", 4), ("paper_pos", 3),
    ("paper_quat", 4), ("paper_corners_xy", 8),
)
XML_DIR = assets.xml_dir()


@dataclasses.dataclass(frozen=True)
class CardDRConfig:
    """Domain randomisation of the paper task; every factor switches on and off on its own."""

    paper_xy: randomize.Factor = randomize.Factor(-0.05, 0.05)
    """Offset of the paper's start position, m, drawn for x and y."""
    paper_yaw: randomize.Factor = randomize.Factor(-0.3, 0.3)
    """Paper start yaw, rad."""
    friction: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of the paper's and the table's sliding friction."""
    paper_mass: randomize.Factor = randomize.Factor(0.9, 1.1)
    """Scale of the paper's mass (and inertia)."""
    actuator_gain: randomize.Factor = randomize.Factor(0.9, 1.1)
    """Scale of each servo's stiffness kp, drawn per actuator."""

    def __post_init__(self) -> None:
        randomize.validate_factors(self)

    @classmethod
    def off(cls) -> "CardDRConfig":
        """Every factor switched off."""
        return randomize.all_off(cls)


@struct.dataclass
class CardDRRanges:
    """The DR ranges as data (each (2,) [low, high]); they live in the env state."""

    paper_xy: jax.Array
    paper_yaw: jax.Array
    friction: jax.Array
    paper_mass: jax.Array
    actuator_gain: jax.Array

    @classmethod
    def from_config(cls, dr: CardDRConfig) -> "CardDRRanges":
        return cls(
            paper_xy=dr.paper_xy.range(0.0), paper_yaw=dr.paper_yaw.range(0.0),
            friction=dr.friction.range(1.0), paper_mass=dr.paper_mass.range(1.0),
            actuator_gain=dr.actuator_gain.range(1.0),
        )


@dataclasses.dataclass(frozen=True)
class PaperCardConfig:
    """Configuration of the paper-in-square scene."""

    num_envs: int = 256
    """Parallel envs (used by trainers and `registry.make` validation)."""
    engine: str = "auto"
    """Physics engine: auto (c on CPU-only machines, mjx on accelerators), mjx, c or warp."""
    episode_length: int = 150
    """Policy steps before truncation (5 s at 30 Hz)."""
    physics_hz: int = 360
    """Physics rate."""
    control_hz: int = 180
    """Inner control rate: targets are interpolated at this rate."""
    policy_hz: int = 30
    """Policy (action) rate."""
    act_scale: float = 0.02
    """Largest joint-target change per policy step, rad."""
    square_half_size: float = 0.08
    """Half-size of the red tape square, m."""
    square_centre: tuple[float, float] = (0.22, 0.08)
    """Square centre on the table, m, in the arm's base frame."""
    paper_start: tuple[float, float] = (0.22, -0.05)
    """Nominal start of the paper's centre, m (DR adds its offset)."""
    home_qpos: tuple[float, ...] = (0.0, -0.21, 0.2, 1.58, 0.0, 0.0)
    """Arm joint positions at reset, rad: tool 8 cm above the table, pointing down, between paper
    and square."""
    success_bonus: float = 10.0
    """Reward on success."""
    distance_weight: float = 2.0
    """Penalty per metre of paper-to-square distance."""
    orientation_weight: float = 0.1
    """Penalty per radian of orientation error."""
    step_penalty: float = 0.01
    """Penalty per step."""
    dr: CardDRConfig = CardDRConfig()
    """Domain randomisation."""
    xml_path: str = assets.xml_path("so101_paper_card.xml")
    """The scene's MJCF."""

    def __post_init__(self) -> None:
        if self.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {self.num_envs}")
        if self.episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {self.episode_length}")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown physics engine {self.engine!r}; choose one of {list(ENGINES)}")
        if self.physics_hz % self.control_hz or self.control_hz % self.policy_hz:
            raise ValueError(
                f"rates must divide evenly: physics_hz ({self.physics_hz}) by control_hz "
                f"({self.control_hz}), and control_hz by policy_hz ({self.policy_hz})"
            )
        if not 0 < self.act_scale <= 0.5:
            raise ValueError(f"act_scale must be in (0, 0.5] rad, got {self.act_scale}")
        if not 0.03 <= self.square_half_size <= 0.3:
            raise ValueError(f"square_half_size must be in [0.03, 0.3] m, got {self.square_half_size}")
        if len(self.home_qpos) != len(ARM_JOINTS):
            raise ValueError(f"home_qpos needs {len(ARM_JOINTS)} values, got {len(self.home_qpos)}")
        if not os.path.isfile(self.xml_path):
            raise FileNotFoundError(
                f"scene XML not found: {self.xml_path}; point xml_path at an MJCF file "
                f"(the default lives in {XML_DIR})"
            )


@struct.dataclass
class PaperInfo:
    """Task record of one env: joint targets, DR ranges and this episode's model overrides."""

    ctrl_target: jax.Array  # (6,) current joint targets, rad
    dr_ranges: CardDRRanges
    overrides: dict[str, jax.Array]  # per-env MjModel fields, drawn at reset


def load_model(config: PaperCardConfig) -> mujoco.MjModel:
    """Compiles the scene with the configured square size and physics rate."""
    spec = mujoco.MjSpec.from_file(config.xml_path)
    h, w = config.square_half_size, 0.005
    for name, pos, size in (
        ("tape_px", (h, 0), (w, h + w)), ("tape_nx", (-h, 0), (w, h + w)),
        ("tape_py", (0, h), (h + w, w)), ("tape_ny", (0, -h), (h + w, w)),
    ):
        geom = spec.geom(name)
        geom.pos[:2] = pos
        geom.size[:2] = size
    spec.body("square").pos[:2] = config.square_centre
    spec.option.timestep = 1.0 / config.physics_hz
    return spec.compile()


class PaperCardTask:
    """Physics, observation and reward of the paper task, for one env (see module docstring)."""

    observation_size = 34
    action_size = 6

    def __init__(self, config: PaperCardConfig) -> None:
        self.config = config
        self.mj_model = load_model(config)
        m = self.mj_model
        self.engine_name = resolve_engine_name(config.engine)
        self.engine = make_engine(self.engine_name, m)
        self.chain = SerialChain.from_model(m, list(ARM_JOINTS[:5]), "tool")
        self.paper_qpos = int(m.jnt_qposadr[m.joint("paper").id])
        self.paper_half = np.array(m.geom("paper").size[:2])
        self.paper_z = float(m.geom("paper").size[2])
        self.tip_radius = float(m.geom("tool_tip").size[0])
        self.ctrl_low = jnp.asarray(m.actuator_ctrlrange[:, 0], jnp.float32)
        self.ctrl_high = jnp.asarray(m.actuator_ctrlrange[:, 1], jnp.float32)
        self.square = jnp.asarray(config.square_centre, jnp.float32)
        self.substeps = config.physics_hz // config.policy_hz
        self.ticks = config.control_hz // config.policy_hz
        self._slip_geoms = np.array([m.geom("paper").id, m.geom("table").id])
        self._paper_body = np.array([m.body("paper").id])
        self.default_ranges = CardDRRanges.from_config(config.dr)
        self.spec = EnvSpec(
            obs_layout=OBS_LAYOUT, action_names=ARM_JOINTS,
            action_ranges=tuple((float(lo), float(hi)) for lo, hi in m.actuator_ctrlrange),
            action_scale=config.act_scale, policy_dt=1.0 / config.policy_hz,
        )

    # ----- reset -----
    def reset(self, key: jax.Array, dr_ranges: CardDRRanges | None = None) -> State:
        """A fresh episode with DR drawn from `dr_ranges` (the config's when None)."""
        ranges = self.default_ranges if dr_ranges is None else dr_ranges
        k_xy, k_yaw, k_fr, k_mass, k_gain = jax.random.split(key, 5)
        xy = jnp.asarray(self.config.paper_start) + randomize.uniform(k_xy, ranges.paper_xy, (2,))
        yaw = randomize.uniform(k_yaw, ranges.paper_yaw)
        m = self.mj_model
        mass_scale = randomize.uniform(k_mass, ranges.paper_mass)
        overrides = {
            "geom_friction": randomize.scale_rows(
                m.geom_friction, self._slip_geoms, randomize.uniform(k_fr, ranges.friction), slice(0, 1)),
            "body_mass": randomize.scale_rows(m.body_mass, self._paper_body, mass_scale),
            "body_inertia": randomize.scale_rows(m.body_inertia, self._paper_body, mass_scale),
            **randomize.scale_actuator_gains(
                m.actuator_gainprm, m.actuator_biasprm, np.arange(m.nu),
                randomize.uniform(k_gain, ranges.actuator_gain, (m.nu,))),
        }
        home = jnp.asarray(self.config.home_qpos, jnp.float32)
        paper = jnp.concatenate([
            xy, jnp.array([self.paper_z]), jnp.array([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])])
        qpos = jnp.concatenate([home, paper]).astype(jnp.float32)
        physics = PhysicsState(qpos=qpos, qvel=jnp.zeros(m.nv, jnp.float32))
        info = PaperInfo(ctrl_target=home, dr_ranges=ranges, overrides=overrides)
        obs, metrics, success = self._observe(physics)
        zero = jnp.zeros(())
        return State(
            physics=physics, obs=obs, reward=zero, done=zero, truncation=zero, success=zero,
            metrics={k: jnp.zeros(()) for k in metrics}, info=info,
        )

    # ----- step -----
    def step(self, state: State, action: jax.Array) -> State:
        """action: (6,) in [-1, 1]; one policy step of `substeps` physics steps."""
        delta = jnp.clip(action, -1.0, 1.0) * self.config.act_scale
        old = state.info.ctrl_target
        target = jnp.clip(old + delta, self.ctrl_low, self.ctrl_high)
        fractions = jnp.arange(1, self.ticks + 1, dtype=jnp.float32) / self.ticks
        ctrl = old + fractions[:, None] * (target - old)
        ctrl = jnp.repeat(ctrl, self.substeps // self.ticks, axis=0)  # (substeps, 6)
        physics = self.engine.step(state.physics, ctrl, state.info.overrides)
        obs, metrics, success = self._observe(physics)
        reward = sum(v for k, v in metrics.items() if k.startswith("reward/"))
        return state.replace(
            physics=physics, obs=obs, reward=reward, success=success, done=success,
            metrics=metrics, info=state.info.replace(ctrl_target=target),
        )

    # ----- observation and reward -----
    def tool_pose(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array]:
        """qpos: (nq,) -> tool position (3,) and rotation (3, 3), world frame."""
        return self.chain.site_pose(qpos[:5])

    def paper_pose(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """qpos: (nq,) -> paper position (3,), quaternion (4,), corners (4, 2) in world xy."""
        pos = qpos[self.paper_qpos:self.paper_qpos + 3]
        quat = qpos[self.paper_qpos + 3:self.paper_qpos + 7]
        rot = quat_to_mat(quat)
        hx, hy = self.paper_half
        local = jnp.array([[hx, hy, 0.0], [hx, -hy, 0.0], [-hx, hy, 0.0], [-hx, -hy, 0.0]])
        corners = pos[:2] + (local @ rot.T)[:, :2]
        return pos, quat, corners

    def _observe(self, physics: PhysicsState) -> tuple[jax.Array, dict[str, jax.Array], jax.Array]:
        qpos, qvel = physics.qpos, physics.qvel
        tool_pos, tool_rot = self.tool_pose(qpos)
        paper_pos, paper_quat, corners = self.paper_pose(qpos)
        centre = jnp.concatenate([self.square, jnp.zeros(1)])
        rel_corners = corners - self.square
        success = jnp.all(jnp.abs(rel_corners) < self.config.square_half_size).astype(jnp.float32)
        distance = jnp.linalg.norm(paper_pos[:2] - self.square)
        rot = quat_to_mat(paper_quat)
        yaw = jnp.arctan2(rot[1, 0], rot[0, 0])
        orientation = 0.5 * jnp.abs(jnp.arctan2(jnp.sin(2 * yaw), jnp.cos(2 * yaw)))
        paper_quat = paper_quat / jnp.linalg.norm(paper_quat)
        obs = jnp.concatenate([
            qpos[:6], qvel[:6], tool_pos - centre, mat_to_quat(tool_rot),
            paper_pos - centre, jnp.where(paper_quat[0] < 0, -paper_quat, paper_quat),
            rel_corners.reshape(-1),
        ]).astype(jnp.float32)
        c = self.config
        metrics = {
            "reward/success": c.success_bonus * success,
            "reward/distance": -c.distance_weight * distance,
            "reward/orientation": -c.orientation_weight * orientation,
            "reward/step": -c.step_penalty * jnp.ones(()),
            "task/dist_to_goal": distance,
            "task/orientation_error": orientation,
        }
        return obs, metrics, success
