"""The rig's twin (`paper_square`) for the seed-style env, in NumPy: config, DR ranges, the compiled
scene, the servo and paper-estimate models, and the scripted IK drag base.

NumPy ports, with no JAX, of what `benchmarks.seed_twin_env` needs from
- `mjx_gr00t.envs.paper_rig_config`: the defaults (`TwinConfig`, `TwinDR`) and `load_model` (the
  scene with the rig's fingertips, servo gains, contact and solver settings);
- `mjx_gr00t.envs.servo`: `quantise` (whole ticks of 2 pi / 4096), `push`, `play` (backlash);
- `mjx_gr00t.envs.paper_estimate`: `canonical_yaw`, `corners`, `yaw_features`;
- `mjx_gr00t.bases.rig_drag`: the damped-least-squares drag (`DragIK`), Jacobian analytic.
Float32 where our env is float32 and the result is compared bit for bit (servo quantisation, which
XLA computes as q * float32(1 / tick)); float64 elsewhere, so FK, the estimate's geometry and the
DLS step agree with JAX to float32 rounding (`tests/test_seed_twin_env.py` names the tolerances).
"""

import dataclasses
import math
import os

import mujoco
import numpy as np

from benchmarks.seed_ik import Chain

ARM_JOINTS: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
XML_PATH: str = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "envs_xml",
                             "so101_paper_rig.xml")
MAX_DELAY_STEPS: int = 4
"""Longest servo latency or estimate delay, policy steps (histories hold MAX_DELAY_STEPS + 1)."""
FINGERTIPS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "fixed_fingertip": ("gripper", (-0.0079, -0.000218, -0.1050)),
    "moving_fingertip": ("moving_jaw", (-0.0113, -0.0819, 0.0195)),
}
"""The rig's rubber fingertip spheres: body and centre in it (shared/reference/so101.md)."""
FINGERTIP_RADIUS: float = 0.008
FINGERTIP_BELOW_TOOL: float = 0.0069
"""The fixed fingertip's centre below the tool point along the approach axis, m."""
Range = tuple[float, float]
_SCALES: tuple[str, ...] = ("friction", "paper_mass", "actuator_gain")
_WHOLE_STEPS: tuple[str, ...] = ("latency", "estimate_delay")


@dataclasses.dataclass(frozen=True)
class TwinDR:
    """Uniform DR ranges (low, high): `RigDRConfig`'s defaults for every factor that changes physics,
    the servos or the paper estimate (its image-only factors change rendered frames alone)."""

    paper_xy: Range = (-0.05, 0.05)
    """Offset of the sheet's start, m, drawn for x and y."""
    paper_yaw: Range = (-0.3, 0.3)
    """Offset of the sheet's start yaw, rad."""
    friction: Range = (0.8, 1.2)
    """Scale of the sheet's and the table's sliding friction."""
    paper_mass: Range = (0.9, 1.1)
    """Scale of the sheet's mass and inertia."""
    actuator_gain: Range = (0.9, 1.1)
    """Scale of each servo's kp, drawn per servo."""
    backlash: Range = (0.0, math.radians(0.5))
    """Half-width of each servo's dead band, rad, drawn per servo."""
    latency: Range = (0.0, 2.0)
    """Policy steps a command reaches the servos late: a whole number from [low, high]."""
    estimate_xy_bias: Range = (-0.002, 0.002)
    """Per-episode bias of the estimated sheet centre, m, drawn for x and y."""
    estimate_yaw_bias: Range = (-0.008, 0.008)
    """Per-episode bias of the estimated yaw, rad."""
    estimate_xy_noise: Range = (0.0, 0.002)
    """Per-episode standard deviation of the per-step centre noise, m (one for x and y)."""
    estimate_yaw_noise: Range = (0.0, 0.015)
    """Per-episode standard deviation of the per-step yaw noise, rad."""
    estimate_delay: Range = (0.0, 2.0)
    """Policy steps the estimate lags the sheet: a whole number from [low, high]."""
    estimate_dropout: Range = (0.0, 0.03)
    """Per-episode probability per step that the estimate is held (the sheet not found)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            low, high = getattr(self, f.name)
            if not (np.isfinite(low) and np.isfinite(high) and low <= high):
                raise ValueError(f"DR range {f.name} must be finite (low, high) with low <= high, got ({low}, {high})")
            if low < 0 and f.name not in ("paper_xy", "paper_yaw", "estimate_xy_bias", "estimate_yaw_bias"):
                raise ValueError(f"DR range {f.name} cannot go below 0, got low {low}")
        for name in _SCALES:
            if getattr(self, name)[0] <= 0:
                raise ValueError(f"DR range {name} is a scale and must stay > 0, got low {getattr(self, name)[0]}")
        for name in _WHOLE_STEPS:
            if getattr(self, name)[1] > MAX_DELAY_STEPS:
                raise ValueError(f"DR range {name} is at most {MAX_DELAY_STEPS} policy steps, got high "
                                 f"{getattr(self, name)[1]}")
        if self.estimate_dropout[1] >= 1:
            raise ValueError(f"DR range estimate_dropout is a probability below 1, got high {self.estimate_dropout[1]}")

    @classmethod
    def off(cls) -> "TwinDR":
        """Every factor at its neutral value (1 for scales, 0 for the rest), as `RigDRConfig.off()`."""
        return cls(**{f.name: (1.0, 1.0) if f.name in _SCALES else (0.0, 0.0) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class DragConfig:
    """The scripted drag's parameters: `RigDragConfig`'s defaults (a test holds every field to it)."""

    hover_height: float = 0.04
    """Tool-point height over the table while moving to the drag point, m."""
    press_depth: float = 0.005
    """How far below the sheet's top the fingertip is commanded while dragging, m."""
    grip_offset: float = 0.05
    """Drag point: this far from the sheet's centre along its long axis, towards the frame, m."""
    lead: float = 0.03
    """How far ahead of the drag point the target sits, m."""
    align_radius: float = 0.01
    """Horizontal distance to the drag point below which the tool descends, m."""
    edge_margin: float = 0.01
    """The drag goes on while the fingertip is this far inside the sheet's edges, m."""
    stop_radius: float = 0.01
    """Sheet-to-frame-centre distance at which the drag stops, m."""
    damping: float = 0.01
    """DLS damping."""
    tilt_weight: float = 0.1
    """Weight of keeping the approach axis vertical, m per unit axis error."""


@dataclasses.dataclass(frozen=True)
class TwinConfig:
    """The residual twin task: `PaperRigConfig`'s defaults (obs_mode robot, perception model) and
    `train.residual_ppo --recipe paper_square/ik/ppo`'s alpha and penalty."""

    episode_length: int = 300
    """Policy steps before truncation."""
    physics_hz: int = 540
    """Physics rate."""
    control_hz: int = 180
    """Inner control rate (servo targets interpolated)."""
    policy_hz: int = 30
    """Policy rate."""
    act_scale: float = 0.02
    """Largest joint-command change per policy step, rad."""
    servo_ticks_per_rev: int = 4096
    """Servo resolution: commands and readings are whole ticks (0: no quantisation)."""
    base_pos: tuple[float, float, float] = (0.050, -0.029, 0.02)
    """The arm base's position, m."""
    base_yaw: float = math.radians(45.0)
    """The arm base's turn about z, rad."""
    frame_centre: tuple[float, float] = (0.275, 0.175)
    """Centre of the tape frame, m."""
    frame_inner: tuple[float, float] = (0.210, 0.148)
    """Inner edge of the tape frame (x, y), m."""
    tape_width: float = 0.020
    """Tape width, m; success: every corner inside the outer edge."""
    paper_size: tuple[float, float] = (0.210, 0.148)
    """The sheet (A5), m."""
    paper_thickness: float = 0.0005
    """The sheet's collision thickness, m."""
    paper_start: tuple[float, float] = (0.025, 0.175)
    """Nominal start of the sheet's centre, m."""
    paper_start_yaw: float = 0.0
    """Nominal start yaw, rad."""
    home_qpos: tuple[float, ...] = (-0.38, -0.67, 0.73, 1.51, -0.20, 0.6)
    """Arm joint positions at reset, rad."""
    success_bonus: float = 10.0
    """Reward on success."""
    distance_weight: float = 2.0
    """Penalty per metre of sheet-to-frame-centre distance."""
    orientation_weight: float = 0.1
    """Penalty per radian of yaw error (modulo 180 degrees)."""
    step_penalty: float = 0.01
    """Penalty per step."""
    servo_kp: float = 17.8
    """Servo stiffness, N m / rad."""
    servo_kv: float = 0.0
    """Servo velocity gain, N m s / rad."""
    servo_force: float = 3.35
    """Servo torque limit, N m."""
    contact_solref: tuple[float, float] = (0.004, 1.0)
    """solref of the fingertips', sheet's and table's contacts."""
    contact_solimp: tuple[float, float, float] = (0.99, 0.999, 0.0005)
    """solimp (dmin, dmax, width) of the same contacts."""
    solver_iterations: int = 20
    """Constraint solver (and line-search) iterations."""
    alpha: float = 1.0
    """Residual scale (train.residual_ppo --alpha, constant)."""
    residual_penalty: float = 0.001
    """Weight of ||u||^2 on the applied residual."""
    max_abs_qpos: float = 10.0
    """|qpos| at or above which physics counts as diverged."""
    max_abs_qvel: float = 100.0
    """|qvel| at or above which physics counts as diverged."""
    dr: TwinDR = TwinDR()
    """Domain randomisation ranges."""
    drag: DragConfig = DragConfig()
    """The drag base's parameters."""
    xml_path: str = XML_PATH
    """The scene's MJCF."""

    def __post_init__(self) -> None:
        if self.physics_hz % self.control_hz or self.control_hz % self.policy_hz:
            raise ValueError(f"rates must divide evenly: physics_hz {self.physics_hz}, control_hz "
                             f"{self.control_hz}, policy_hz {self.policy_hz}")
        if self.episode_length < 1 or not self.alpha >= 0 or not self.residual_penalty >= 0:
            raise ValueError("episode_length must be >= 1 and alpha, residual_penalty >= 0; got "
                             f"{self.episode_length}, {self.alpha}, {self.residual_penalty}")
        if len(self.home_qpos) != len(ARM_JOINTS) or self.servo_ticks_per_rev < 0:
            raise ValueError(f"home_qpos needs {len(ARM_JOINTS)} values and servo_ticks_per_rev >= 0, got "
                             f"{self.home_qpos}, {self.servo_ticks_per_rev}")
        if not os.path.isfile(self.xml_path):
            raise FileNotFoundError(f"scene XML not found: {self.xml_path}; point xml_path at an MJCF file")

    @property
    def success_half(self) -> np.ndarray:
        """(2,) half-extents of the success region (the tape's outer edge), float32 as our env's."""
        return np.asarray([0.5 * s + self.tape_width for s in self.frame_inner], np.float32)


def load_model(config: TwinConfig) -> mujoco.MjModel:
    """The rig compiled as our JAX env compiles it: tape frame and sheet from the config, the arm
    as the real rig has it (fingertip spheres, calibrated tool point and wrist camera, servo gains),
    contact, solver and physics rate from the config."""
    spec = mujoco.MjSpec.from_file(config.xml_path)
    (ix, iy), w = (0.5 * s for s in config.frame_inner), config.tape_width
    for name, pos, size in (
        ("tape_px", (ix + w / 2, 0), (w / 2, iy + w)), ("tape_nx", (-ix - w / 2, 0), (w / 2, iy + w)),
        ("tape_py", (0, iy + w / 2), (ix + w, w / 2)), ("tape_ny", (0, -iy - w / 2), (ix + w, w / 2)),
    ):
        spec.geom(name).pos[:2] = pos
        spec.geom(name).size[:2] = size
    spec.body("frame").pos[:2] = config.frame_centre
    spec.camera("front").pos[:2] = config.frame_centre
    spec.body("base").pos = list(config.base_pos)
    spec.body("base").quat = [math.cos(config.base_yaw / 2), 0.0, 0.0, math.sin(config.base_yaw / 2)]
    spec.geom("mount").pos[:2] = config.base_pos[:2]
    spec.geom("paper").size = [0.5 * config.paper_size[0], 0.5 * config.paper_size[1], 0.5 * config.paper_thickness]
    # The arm as on the rig: no tool-tip pad, finger boxes and rubber fingertips touch the sheet.
    spec.delete(spec.geom("tool_tip"))
    for name in ("fixed_finger", "moving_finger"):
        spec.geom(name).contype, spec.geom(name).conaffinity = 1, 0
    for name, (body, pos) in FINGERTIPS.items():
        spec.body(body).add_geom(
            name=name, type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[FINGERTIP_RADIUS, 0, 0], pos=list(pos),
            friction=[2.0, 0.005, 0.0001], contype=1, conaffinity=0, condim=3, priority=1,
            rgba=[0.1, 0.1, 0.1, 1], group=3)
    spec.site("tool").pos = [-0.0079, -0.000218, -0.0981]
    spec.joint("wrist_roll").range = [-2.7438473, 2.8412]
    spec.actuator("wrist_roll").ctrlrange = [-2.7438473, 2.8412]
    camera = spec.camera("wrist")
    camera.pos = [0.0024, 0.0609, 0.0054]
    camera.quat = [math.cos(0.5 * 1.1345), math.sin(0.5 * 1.1345), 0.0, 0.0]
    camera.fovy = 75.0
    for actuator in spec.actuators:
        actuator.gainprm[0] = config.servo_kp
        actuator.biasprm[1] = -config.servo_kp
        actuator.biasprm[2] = -config.servo_kv
        actuator.forcerange = [-config.servo_force, config.servo_force]
    for name in ("paper", "table", *FINGERTIPS):
        spec.geom(name).solref = list(config.contact_solref)
        spec.geom(name).solimp = [*config.contact_solimp, 0.5, 2.0]
    spec.option.timestep = 1.0 / config.physics_hz
    spec.option.iterations = config.solver_iterations
    spec.option.ls_iterations = max(config.solver_iterations, 6)
    return spec.compile()


# ----- servos and the paper estimate (float32 where our env's results are compared bit for bit) -----
def quantise(q: np.ndarray, ticks_per_rev: int) -> np.ndarray:
    """q (...) float32 rad -> the nearest whole tick (half to even), float32; as XLA computes it:
    q times the float32 reciprocal of the float32 tick, rounded, times the tick."""
    q = np.asarray(q, np.float32)
    if ticks_per_rev == 0:
        return q
    tick = np.float32(2.0 * math.pi / ticks_per_rev)
    return np.round(q * (np.float32(1.0) / tick)) * tick


def push(history: np.ndarray, newest: np.ndarray) -> np.ndarray:
    """history (H, J) newest first, newest (J,) -> (H, J) with newest in front, the oldest dropped."""
    return np.concatenate([np.asarray(newest, history.dtype)[None], history[:-1]])


def play(previous: np.ndarray, command: np.ndarray, backlash: np.ndarray) -> np.ndarray:
    """Backlash: previous applied target (J,), command (J,), half-widths (J,) -> (J,) the new applied
    target, within `backlash` of `command`, moved only as far as the command pushes it."""
    return np.clip(previous, command - backlash, command + backlash)


def whole_steps(rng: np.random.Generator, bounds: Range) -> int:
    """A whole number of steps uniform in [bounds[0], bounds[1]] (both rounded)."""
    low, high = round(bounds[0]), round(bounds[1])
    return int(rng.integers(low, high + 1))


def canonical_yaw(yaw: float) -> float:
    """yaw (rad) -> the same line's yaw in [-pi/2, pi/2)."""
    return (yaw + 0.5 * math.pi) % math.pi - 0.5 * math.pi


def corners(centre: np.ndarray, yaw: float, half: np.ndarray) -> np.ndarray:
    """centre (2,), yaw, half-extents (2,) -> (4, 2) corners (+,+), (+,-), (-,+), (-,-) along the
    canonical yaw's axes (so a half turn does not reorder them)."""
    yaw = canonical_yaw(yaw)
    c, s = math.cos(yaw), math.sin(yaw)
    signs = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    return np.asarray(centre, np.float64) + (signs * half) @ np.array([[c, s], [-s, c]])


def yaw_features(yaw: float) -> np.ndarray:
    """yaw -> (2,) (cos 2 yaw, sin 2 yaw)."""
    return np.array([math.cos(2 * yaw), math.sin(2 * yaw)])


class DragIK:
    """The scripted drag (`mjx_gr00t.bases.rig_drag`) on host arrays, for one env: reads the joint
    readings and the estimated sheet centre and yaw, and steps the joint *commands* by DLS."""

    def __init__(self, chain: Chain, frame: np.ndarray, paper_half: np.ndarray, press_z: float,
                 act_scale: float, home_gripper: float, config: DragConfig = DragConfig()) -> None:
        """chain: world-frame FK to the tool point; frame (2,) the frame's centre; paper_half (2,);
        press_z: tool-point height while pressing, m."""
        self.chain, self.config = chain, config
        self.frame, self.paper_half = np.asarray(frame, np.float64), np.asarray(paper_half, np.float64)
        self.press_z, self.act_scale, self.home_gripper = press_z, act_scale, home_gripper
        self._damping = config.damping ** 2 * np.eye(6)

    def tool_target(self, joints: np.ndarray, centre: np.ndarray, yaw: float) -> np.ndarray:
        """joint readings (6,), estimated centre (2,) and yaw -> the tool's target (3,), table frame."""
        c = self.config
        tool = self.chain.pose(np.asarray(joints[:5], np.float64))[0]
        to_goal = self.frame - centre
        dist = math.hypot(to_goal[0], to_goal[1])
        direction = to_goal / max(dist, 1e-6)
        axis = np.array([math.cos(yaw), math.sin(yaw)])
        if axis @ direction < 0:
            axis = -axis
        grip = centre + c.grip_offset * axis
        local = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]]) @ (tool[:2] - centre)
        on_sheet = bool(np.all(np.abs(local) < self.paper_half - c.edge_margin))
        low = tool[2] < self.press_z + 0.008
        working = dist > c.stop_radius
        descend = not low and math.hypot(*(tool[:2] - grip)) < c.align_radius and working
        drag = low and on_sheet and working
        if drag:  # the pressed fingertip carries the sheet: move by the sheet's remaining error
            xy = tool[:2] + min(c.lead, dist) * direction
        elif low:  # lift off where it is
            xy = tool[:2]
        else:
            xy = grip
        return np.array([xy[0], xy[1], self.press_z if drag or descend else c.hover_height])

    def __call__(self, commands: np.ndarray, joints: np.ndarray, centre: np.ndarray, yaw: float) -> np.ndarray:
        """Joint commands (6,), readings (6,), estimated centre (2,) and yaw -> the base action (6,)
        in [-1, 1]: the DLS step to the tool target at the commands, approach axis down, shrunk to
        the action limit; the gripper driven to its home angle."""
        c, scale = self.config, self.act_scale
        goal = self.tool_target(joints, centre, yaw)
        pos, rot, axes, anchors = self.chain.pose(np.asarray(commands[:5], np.float64), jacobian=True)
        approach = rot[:, 0]  # the site's x axis, kept pointing down
        error = np.concatenate([goal - pos, c.tilt_weight * (np.array([0.0, 0.0, -1.0]) - approach)])
        jac = np.concatenate([np.cross(axes, pos - anchors).T, c.tilt_weight * np.cross(axes, approach).T])  # (6, 5)
        dq = jac.T @ np.linalg.solve(jac @ jac.T + self._damping, error)
        out = np.empty(6)
        out[:5] = dq / scale / max(1.0, float(np.abs(dq).max()) / scale)
        out[5] = min(1.0, max(-1.0, (self.home_gripper - float(commands[5])) / scale))
        return out
