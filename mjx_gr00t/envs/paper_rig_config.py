"""Configuration of the paper-return rig's twin (`envs.paper_rig`): geometry, rates, observation
mode, and domain randomisation of the physics, the servos and the paper-pose estimate.

Figures are the real rig's (shared/reference/so101.md, "The real paper-return rig"): world frame on
the table top, x and y along the tape frame; the arm's base at (0.050, -0.029, 0.02) turned 45
degrees; an A5 sheet starting at (0.025, 0.175); a 20 mm red tape frame around an A5 hole centred
at (0.275, 0.175). Every one is a config value.
"""

import dataclasses
import math
import os
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.envs import assets
from mjx_gr00t.physics import ENGINES

ARM_JOINTS: tuple[str, ...] = (
    "shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper",
)
OBS_MODES: tuple[str, ...] = ("robot", "privileged")
PERCEPTIONS: tuple[str, ...] = ("model", "camera")
MAX_DELAY_STEPS: int = 4
"""Longest servo-command latency or estimate delay the env keeps history for, policy steps."""
XML_DIR = assets.xml_dir()
_NONNEGATIVE = ("backlash", "latency", "estimate_xy_noise", "estimate_yaw_noise", "estimate_delay",
                "estimate_dropout")
_SCALES = ("friction", "paper_mass", "actuator_gain", "light")


@dataclasses.dataclass(frozen=True)
class RigDRConfig:
    """Domain randomisation of the twin; every factor switches on and off on its own.

    Physics and servos act on every observation mode; the `estimate_*` factors shape the paper-pose
    estimate that `robot` observations carry. Their defaults are the top-camera estimator's errors,
    measured on rendered frames with the camera's pose, field of view and lights jittered
    (`python -m benchmarks.paper_estimator`, benchmarks/results/paper_estimator_cpu2.json)."""

    paper_xy: randomize.Factor = randomize.Factor(-0.05, 0.05)
    """Offset of the sheet's start position, m, drawn for x and y."""
    paper_yaw: randomize.Factor = randomize.Factor(-0.3, 0.3)
    """Offset of the sheet's start yaw from `paper_start_yaw`, rad."""
    friction: randomize.Factor = randomize.Factor(0.8, 1.2)
    """Scale of the sheet's and the table's sliding friction (> 0)."""
    paper_mass: randomize.Factor = randomize.Factor(0.9, 1.1)
    """Scale of the sheet's mass and inertia (> 0)."""
    actuator_gain: randomize.Factor = randomize.Factor(0.9, 1.1)
    """Scale of each servo's stiffness kp, drawn per servo (> 0)."""
    backlash: randomize.Factor = randomize.Factor(0.0, math.radians(0.5))
    """Half-width of each servo's dead band, rad, drawn per servo (the STS3215's about 0.5 deg)."""
    latency: randomize.Factor = randomize.Factor(0.0, 2.0)
    """Policy steps before a command reaches the servos: a whole number drawn from [low, high]."""
    estimate_xy_bias: randomize.Factor = randomize.Factor(-0.002, 0.002)
    """Per-episode bias of the estimated sheet centre, m, drawn for x and y (measured with the camera
    jittered and the sheet placed against the tape, `benchmarks.paper_estimator`: the per-camera-draw
    mean error has std 0.7 mm in x and 0.4 in y, at most 1.6 mm; U(-2, 2) mm has std 1.2)."""
    estimate_yaw_bias: randomize.Factor = randomize.Factor(-0.008, 0.008)
    """Per-episode bias of the estimated sheet yaw, rad (measured std 0.004 rad)."""
    estimate_xy_noise: randomize.Factor = randomize.Factor(0.0, 0.002)
    """Standard deviation of the estimate's per-step centre noise, m, drawn per episode (>= 0;
    measured within one camera draw: 1.3 mm in x, 0.8 in y)."""
    estimate_yaw_noise: randomize.Factor = randomize.Factor(0.0, 0.015)
    """Standard deviation of the estimate's per-step yaw noise, rad, drawn per episode (>= 0;
    measured 0.009 rad)."""
    estimate_delay: randomize.Factor = randomize.Factor(0.0, 2.0)
    """Policy steps the estimate lags the sheet: a whole number drawn from [low, high]."""
    estimate_dropout: randomize.Factor = randomize.Factor(0.0, 0.03)
    """Per-step probability that the estimator finds no sheet (the last estimate is held), drawn
    per episode, in [0, 1) (measured: 0.8 % of frames, 2.4 % of those where the arm covers part
    of the sheet)."""
    IMAGE_ONLY: ClassVar[tuple[str, ...]] = ("camera_pos", "camera_angle", "camera_fovy", "light")
    """The factors below change rendered images alone: they matter only where something reads frames
    (the camera in the loop, GR00T's frames), never to physics or the noise-model estimate."""
    camera_pos: randomize.Factor = randomize.Factor(-0.005, 0.005)
    """Offset of each camera's position, m, drawn per axis and episode. Image consumers only (the
    camera in the loop, GR00T's frames); the estimator keeps the nominal calibration."""
    camera_angle: randomize.Factor = randomize.Factor(-math.radians(1.0), math.radians(1.0))
    """Turn of each camera about its own axes, rad, drawn per axis and episode (image consumers)."""
    camera_fovy: randomize.Factor = randomize.Factor(-2.0, 2.0)
    """Offset of each camera's vertical field of view, degrees, per episode (image consumers)."""
    light: randomize.Factor = randomize.Factor(0.7, 1.3)
    """Scale of every light's brightness, per episode (> 0; image consumers)."""

    def __post_init__(self) -> None:
        randomize.validate_factors(self)
        for name in _SCALES:
            if getattr(self, name).low <= 0:
                raise ValueError(f"DR factor {name!r} is a scale and must stay > 0, got low {getattr(self, name).low}")
        for name in _NONNEGATIVE:
            if getattr(self, name).low < 0:
                raise ValueError(f"DR factor {name!r} cannot be negative, got low {getattr(self, name).low}")
        for name in ("latency", "estimate_delay"):
            if getattr(self, name).high > MAX_DELAY_STEPS:
                raise ValueError(f"DR factor {name!r} is at most {MAX_DELAY_STEPS} policy steps, got "
                                 f"high {getattr(self, name).high}")
        if self.estimate_dropout.high >= 1:
            raise ValueError(f"DR factor 'estimate_dropout' is a probability below 1, got high {self.estimate_dropout.high}")

    @classmethod
    def off(cls) -> "RigDRConfig":
        """Every factor switched off."""
        return randomize.all_off(cls)


@struct.dataclass
class RigDRRanges:
    """The DR ranges as data (each (2,) [low, high]); they live in the env state."""

    paper_xy: jax.Array
    paper_yaw: jax.Array
    friction: jax.Array
    paper_mass: jax.Array
    actuator_gain: jax.Array
    backlash: jax.Array
    latency: jax.Array
    estimate_xy_bias: jax.Array
    estimate_yaw_bias: jax.Array
    estimate_xy_noise: jax.Array
    estimate_yaw_noise: jax.Array
    estimate_delay: jax.Array
    estimate_dropout: jax.Array
    camera_pos: jax.Array
    camera_angle: jax.Array
    camera_fovy: jax.Array
    light: jax.Array

    @classmethod
    def from_config(cls, dr: RigDRConfig) -> "RigDRRanges":
        """Switched-off factors at their neutral value: 1 for scales, 0 for the rest."""
        return cls(**{f.name: getattr(dr, f.name).range(1.0 if f.name in _SCALES else 0.0)
                      for f in dataclasses.fields(dr)})


@dataclasses.dataclass(frozen=True)
class PaperRigConfig:
    """Configuration of the paper-return rig's twin."""

    num_envs: int = 256
    """Parallel envs (used by trainers and `registry.make` validation)."""
    engine: str = "auto"
    """Physics engine: auto (c on CPU-only machines, mjx on accelerators), mjx, c or warp."""
    obs_mode: str = "robot"
    """What the policy reads. robot: what a real SO-101 + LeRobot + top camera give (quantised
    joints, finite-difference velocities, forward-kinematics tool pose in the arm's base frame, a
    noisy, delayed paper-pose estimate); the critic also sees the true state (asymmetric actor-critic).
    privileged: the simulator's exact state, for the actor too (the pre-twin behaviour)."""
    perception: str = "model"
    """Where `robot` observations' paper-pose estimate comes from. model: the true pose through the
    estimate noise model (DR `estimate_*`; fast, for training). camera: the top camera rendered at
    320 x 240 and the estimator run on each frame on the host (`perception.in_the_loop`), as on the
    real rig; needs an OpenGL backend (OSMesa on a CPU)."""
    episode_length: int = 300
    """Policy steps before truncation (10 s at 30 Hz; the rig's demonstrations last about 11 s, and
    the seed rig allows 400)."""
    physics_hz: int = 540
    """Physics rate. 540 Hz (not the source model's 360) so that the stiff contacts that keep a
    0.5 mm sheet from tunnelling stay stable: `python -m benchmarks.paper_contact`."""
    control_hz: int = 180
    """Inner control rate: targets are interpolated at this rate."""
    policy_hz: int = 30
    """Policy (action) rate."""
    act_scale: float = 0.02
    """Largest joint-target change per policy step, rad."""
    servo_ticks_per_rev: int = 4096
    """Position resolution of the servos (STS3215: 4096 per turn): commands and readings are
    quantised to it; 0 switches quantisation off."""
    base_pos: tuple[float, float, float] = (0.050, -0.029, 0.02)
    """The arm base's position on the table, m."""
    base_yaw: float = math.radians(45.0)
    """The arm base's turn about z, rad."""
    frame_centre: tuple[float, float] = (0.275, 0.175)
    """Centre of the tape frame, m."""
    frame_inner: tuple[float, float] = (0.210, 0.148)
    """Inner edge of the tape frame (x, y), m: an A5 sheet, long edge along x."""
    tape_width: float = 0.020
    """Width of the red tape, m. Success: every corner inside the outer edge (inner + 2 x width);
    the strict variant, logged: inside the tape's centre line (inner + width)."""
    paper_size: tuple[float, float] = (0.210, 0.148)
    """The sheet (A5), long edge first, m."""
    paper_thickness: float = 0.0005
    """The sheet's collision thickness, m (at most 0.5 mm)."""
    paper_start: tuple[float, float] = (0.025, 0.175)
    """Nominal start of the sheet's centre, m (DR adds its offset)."""
    paper_start_yaw: float = 0.0
    """Nominal start yaw of the sheet's long edge from x, rad (DR adds its offset). 0: aligned with
    the frame; the seed rig's demonstrations start it across the frame (pi / 2)."""
    home_qpos: tuple[float, ...] = (-0.38, -0.67, 0.73, 1.51, -0.20, 0.6)
    """Arm joint positions at reset, rad: jaws pointing down and open (0.6 rad: the moving jaw's tip
    8 mm above the fixed one's, so the fixed jaw alone touches down), the tool point 8 cm over
    (0.12, 0.10) on the table, beside the sheet's near edge."""
    success_bonus: float = 10.0
    """Reward on success."""
    distance_weight: float = 2.0
    """Penalty per metre of sheet-to-frame-centre distance."""
    orientation_weight: float = 0.1
    """Penalty per radian of yaw error (modulo the sheet's 180-degree symmetry)."""
    step_penalty: float = 0.01
    """Penalty per step."""
    servo_kp: float = 17.8
    """Servo stiffness, N m / rad: the rig's calibrated STS3215 figure (so101.xml's generic 998 is
    the source model's; it saturates at 0.2 degrees of error and crushes the sheet)."""
    servo_kv: float = 0.0
    """Servo velocity gain, N m s / rad (the joints keep their damping of 0.60)."""
    servo_force: float = 3.35
    """Servo torque limit, N m."""
    contact_solref: tuple[float, float] = (0.004, 1.0)
    """solref of the fingertips', the sheet's and the table's contacts (time constant >= 2 physics
    steps); see `python -m benchmarks.paper_contact`."""
    contact_solimp: tuple[float, float, float] = (0.99, 0.999, 0.0005)
    """solimp (dmin, dmax, width) of the same contacts."""
    solver_iterations: int = 20
    """Constraint solver iterations (and line-search iterations)."""
    dr: RigDRConfig = RigDRConfig()
    """Domain randomisation."""
    xml_path: str = assets.xml_path("so101_paper_rig.xml")
    """The scene's MJCF."""

    def __post_init__(self) -> None:
        checks = (
            (self.num_envs >= 1, f"num_envs must be >= 1, got {self.num_envs}"),
            (self.episode_length >= 1, f"episode_length must be >= 1, got {self.episode_length}"),
            (self.engine in ENGINES, f"unknown physics engine {self.engine!r}; choose one of {list(ENGINES)}"),
            (self.obs_mode in OBS_MODES, f"unknown observation mode {self.obs_mode!r}; choose one of {list(OBS_MODES)}"),
            (self.perception in PERCEPTIONS, f"unknown perception {self.perception!r}; choose one of {list(PERCEPTIONS)}"),
            (self.perception == "model" or self.obs_mode == "robot",
             "perception='camera' feeds the robot observations' paper estimate; it needs obs_mode='robot'"),
            (not (self.physics_hz % self.control_hz or self.control_hz % self.policy_hz),
             f"rates must divide evenly: physics_hz ({self.physics_hz}) by control_hz ({self.control_hz}), "
             f"and control_hz by policy_hz ({self.policy_hz})"),
            (0 < self.act_scale <= 0.5, f"act_scale must be in (0, 0.5] rad, got {self.act_scale}"),
            (self.servo_ticks_per_rev >= 0, f"servo_ticks_per_rev must be >= 0, got {self.servo_ticks_per_rev}"),
            (0 < self.paper_thickness <= 0.0005, f"paper_thickness must be in (0, 0.0005] m, got {self.paper_thickness}"),
            (all(0.03 <= s <= 0.5 for s in self.paper_size), f"paper_size must be in [0.03, 0.5] m, got {self.paper_size}"),
            (all(0.03 <= s <= 0.6 for s in self.frame_inner), f"frame_inner must be in [0.03, 0.6] m, got {self.frame_inner}"),
            (0 < self.tape_width <= 0.1, f"tape_width must be in (0, 0.1] m, got {self.tape_width}"),
            (len(self.home_qpos) == len(ARM_JOINTS), f"home_qpos needs {len(ARM_JOINTS)} values, got {len(self.home_qpos)}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if not os.path.isfile(self.xml_path):
            raise FileNotFoundError(f"scene XML not found: {self.xml_path}; point xml_path at an MJCF file "
                                    f"(the default lives in {XML_DIR})")

    @property
    def success_half(self) -> tuple[float, float]:
        """Half-extents (x, y) of the success region: the tape's outer edge, m."""
        return tuple(0.5 * s + self.tape_width for s in self.frame_inner)

    @property
    def strict_half(self) -> tuple[float, float]:
        """Half-extents (x, y) of the strict success region: the tape's centre line, m."""
        return tuple(0.5 * s + 0.5 * self.tape_width for s in self.frame_inner)


def base_quat(yaw: float) -> tuple[float, float, float, float]:
    """(w, x, y, z) of a turn of `yaw` rad about z."""
    return (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))


def load_model(config: PaperRigConfig) -> mujoco.MjModel:
    """Compiles the rig: the scene with its configured geometry, the arm with the rig's parts
    (`fit_arm`), and the configured physics rate, solver and contact parameters."""
    spec = mujoco.MjSpec.from_file(config.xml_path)
    (ix, iy), w = (0.5 * s for s in config.frame_inner), config.tape_width
    for name, pos, size in (
        ("tape_px", (ix + w / 2, 0), (w / 2, iy + w)), ("tape_nx", (-ix - w / 2, 0), (w / 2, iy + w)),
        ("tape_py", (0, iy + w / 2), (ix + w, w / 2)), ("tape_ny", (0, -iy - w / 2), (ix + w, w / 2)),
    ):
        geom = spec.geom(name)
        geom.pos[:2] = pos
        geom.size[:2] = size
    spec.body("frame").pos[:2] = config.frame_centre
    spec.camera("front").pos[:2] = config.frame_centre
    base = spec.body("base")
    base.pos = list(config.base_pos)
    base.quat = list(base_quat(config.base_yaw))
    spec.geom("mount").pos[:2] = config.base_pos[:2]
    spec.geom("paper").size = [0.5 * config.paper_size[0], 0.5 * config.paper_size[1], 0.5 * config.paper_thickness]
    fit_arm(spec, config)
    for name in ("paper", "table", *FINGERTIPS):
        spec.geom(name).solref = list(config.contact_solref)
        spec.geom(name).solimp = [*config.contact_solimp, 0.5, 2.0]
    spec.option.timestep = 1.0 / config.physics_hz
    spec.option.iterations = config.solver_iterations
    spec.option.ls_iterations = max(config.solver_iterations, 6)
    return spec.compile()


FINGERTIPS: tuple[str, ...] = ("fixed_fingertip", "moving_fingertip")
FINGERTIP_RADIUS: float = 0.008
FINGERTIP_POS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "fixed_fingertip": ("gripper", (-0.0079, -0.000218, -0.1050)),
    "moving_fingertip": ("moving_jaw", (-0.0113, -0.0819, 0.0195)),
}
"""The rig's rubber fingertips: body, and centre in its frame (shared/reference/so101.md)."""


def fit_arm(spec: mujoco.MjSpec, config: PaperRigConfig) -> None:
    """so101.xml as the real rig has it: the tool-tip pad (a part no SO-101 has) removed; both
    jaws' finger boxes and two rubber fingertip spheres (radius 8 mm, sliding friction 2.0) touching
    the table and the sheet; the new-calibration tool point and wrist_roll range; the calibrated
    wrist camera; the rig's servo gains."""
    spec.delete(spec.geom("tool_tip"))
    for name in ("fixed_finger", "moving_finger"):
        spec.geom(name).contype, spec.geom(name).conaffinity = 1, 0
    for name, (body, pos) in FINGERTIP_POS.items():
        spec.body(body).add_geom(
            name=name, type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[FINGERTIP_RADIUS, 0, 0], pos=list(pos),
            friction=[2.0, 0.005, 0.0001], contype=1, conaffinity=0, condim=3, priority=1,
            rgba=[0.1, 0.1, 0.1, 1], group=3)
    spec.site("tool").pos = [-0.0079, -0.000218, -0.0981]
    spec.joint("wrist_roll").range = [-2.7438473, 2.8412]
    spec.actuator("wrist_roll").ctrlrange = [-2.7438473, 2.8412]
    camera = spec.camera("wrist")
    camera.pos = [0.0024, 0.0609, 0.0054]
    half = 0.5 * 1.1345
    camera.quat = [math.cos(half), math.sin(half), 0.0, 0.0]
    camera.fovy = 75.0
    for actuator in spec.actuators:
        actuator.gainprm[0] = config.servo_kp
        actuator.biasprm[1] = -config.servo_kp
        actuator.biasprm[2] = -config.servo_kv
        actuator.forcerange = [-config.servo_force, config.servo_force]


def success_regions(config: PaperRigConfig) -> tuple[jax.Array, jax.Array]:
    """(2,) half-extents of the success region and of the strict one, float32."""
    return jnp.asarray(config.success_half, jnp.float32), jnp.asarray(config.strict_half, jnp.float32)
