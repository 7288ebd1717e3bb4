"""`sim`: a stand-in SO-101 backed by the digital twin (`envs.paper_rig`), behind the `Robot` interface.

    robot = SimRobot(SimRobotConfig(seed=0, command_latency_steps=1))
    robot.connect()
    robot.start_episode()               # the sheet placed by the twin's DR, as in training
    obs = robot.get_observation()       # '<motor>.pos' as a calibrated SO-101 reports (quantised), frames
    robot.send_action(goal)             # one policy step of physics (1/30 s)
    robot.success, robot.steps

What it models, all from the twin: the servos' tick quantisation, command latency (DR, or fixed),
backlash and gain; the sheet's pose, friction and mass by DR; both cameras at 320 x 240 with the
episode's camera and light jitter. It steps physics when a goal is sent (one policy step per goal),
so it runs as fast as the CPU allows; pacing to 30 Hz is the loop's (`--realtime`).

A goal farther than `act_scale` rad from the last one moves by `act_scale` (the twin's per-step
command limit, which the trained loop never exceeds); `send_action` returns what was applied.
`paper_estimate()` hands out the twin's estimate noise model (a sim-only sensor, for parity with
training); a real deployment estimates from the top camera's frame.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t import randomize
from mjx_gr00t.deploy.robot import MOTORS, JointUnits, position_keys
from mjx_gr00t.envs.paper_rig import PaperRigTask
from mjx_gr00t.envs.paper_rig_config import PaperRigConfig

CAMERAS: tuple[str, ...] = ("front", "wrist")
"""The rig's cameras: LeRobot `observation.images.main` (top) and `secondary_0` (wrist)."""
WIDTH, HEIGHT = 320, 240


@dataclasses.dataclass(frozen=True)
class SimRobotConfig:
    """The stand-in's settings."""

    seed: int = 0
    """Seed of the episodes' DR draws (episode i uses fold_in(seed, i))."""
    command_latency_steps: int | None = None
    """Policy steps before a goal reaches the servos (0 to 2); None: drawn per episode by the
    twin's DR, as in training."""
    cameras: tuple[str, ...] = CAMERAS
    """Cameras rendered into each observation at 320 x 240 (none: no rendering)."""
    use_degrees: bool = True
    """Report the arm's joints in degrees (LeRobot's default), else -100..100 of their range."""
    dr: bool = True
    """The twin's domain randomisation (sheet pose, physics, servos, estimate, cameras)."""
    scene: PaperRigConfig = PaperRigConfig()
    """The twin's config (its `dr` is replaced per `dr` and `command_latency_steps`)."""

    def __post_init__(self) -> None:
        if self.command_latency_steps is not None and not 0 <= self.command_latency_steps <= 2:
            raise ValueError(f"command_latency_steps must be 0, 1 or 2 policy steps, got {self.command_latency_steps}")
        unknown = [c for c in self.cameras if c not in CAMERAS]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; the rig has {list(CAMERAS)}")


class SimRobot:
    """The twin as a robot; see the module docstring. One env, on the C engine."""

    name = "sim"

    def __init__(self, config: SimRobotConfig = SimRobotConfig()) -> None:
        self.config = config
        dr = config.scene.dr if config.dr else type(config.scene.dr).off()
        if config.command_latency_steps is not None:
            n = float(config.command_latency_steps)
            dr = dataclasses.replace(dr, latency=randomize.Factor(n, n))
        self.scene = dataclasses.replace(config.scene, dr=dr, engine="c", num_envs=1, obs_mode="robot",
                                         perception="model")
        self.task: PaperRigTask | None = None
        self.units: JointUnits | None = None
        self.episode, self.steps, self.success = -1, 0, False
        self._state: Any = None
        self._renderer: Any = None

    # ----- Robot interface -----
    @property
    def is_connected(self) -> bool:
        return self.task is not None

    def connect(self, calibrate: bool = True) -> None:
        """Builds the twin (and the renderer when cameras are asked for) and starts episode 0."""
        del calibrate  # the twin is calibrated by construction
        self.task = task = PaperRigTask(self.scene)
        self.units = JointUnits.nominal(task.mj_model.jnt_range[:len(MOTORS)], self.config.use_degrees)
        self._reset = jax.jit(task.reset)
        self._step = jax.jit(task.step)
        if self.config.cameras:
            from mjx_gr00t.render import BatchRenderer

            self._renderer = BatchRenderer(task.mj_model, self.config.cameras, HEIGHT, WIDTH)
        self.start_episode()
        self._step(self._state, jnp.zeros(6, jnp.float32))  # compile now, not on the first tick

    def start_episode(self, key: jax.Array | None = None) -> None:
        """A fresh episode: the arm at home, the sheet placed by DR. key: the twin's reset key
        (default: fold_in(seed, episode index))."""
        self._need()
        self.episode += 1
        if key is None:
            key = jax.random.fold_in(jax.random.PRNGKey(self.config.seed), self.episode)
        self._state = self._reset(key)
        self.steps, self.success = 0, False

    def get_observation(self) -> dict[str, Any]:
        """'<motor>.pos' in the robot's units, quantised as the servos read them, and the frames."""
        self._need()
        seen = np.asarray(self._state.info.joints_seen, np.float64)  # the twin's servos: whole ticks
        reading = self.units.reading_of_ticks(self.units.ticks_of_rad(seen))
        obs: dict[str, Any] = dict(zip(position_keys(), map(float, reading)))
        if self._renderer is not None:
            qpos = np.asarray(self._state.physics.qpos)[None]
            draws = np.asarray(self._state.info.image_dr)[None]
            obs.update({cam: frames[0] for cam, frames in self._renderer.render(qpos, draws).items()})
        return obs

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        """Goals by '<motor>.pos' (robot units); runs one policy step. Returns the goals applied."""
        self._need()
        keys = position_keys()
        missing = [k for k in keys if k not in action]
        if missing:
            raise ValueError(f"send_action needs every motor's goal; missing {missing}")
        goal = self.units.to_rad(np.array([action[k] for k in keys], np.float64))
        task, info = self.task, self._state.info
        delta = (goal - np.asarray(info.ctrl_target)) / task.config.act_scale
        self._state = self._step(self._state, jnp.asarray(np.clip(delta, -1.0, 1.0), jnp.float32))
        self.steps += 1
        self.success = self.success or bool(self._state.success > 0.5)
        applied = self.units.from_rad(np.asarray(self._state.info.ctrl_target, np.float64))
        return dict(zip(keys, map(float, applied)))

    def disconnect(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.task = None

    # ----- sim-only -----
    def paper_estimate(self) -> np.ndarray:
        """(3,) the twin's estimate noise model's sheet x, y (m, table frame) and yaw (rad, modulo
        pi), as training's observation held it at this step (a sensor only the stand-in has)."""
        task = self.task
        obs = self._state.obs
        xy = np.asarray(obs[task.spec.obs_slice("paper_xy_est")]) + np.asarray(task.frame)
        features = np.asarray(obs[task.spec.obs_slice("paper_yaw_est")])
        return np.array([*xy, 0.5 * np.arctan2(features[1], features[0])])

    @property
    def state(self) -> Any:
        """The twin's current state (for tests and scoring)."""
        return self._state

    def _need(self) -> None:
        if self.task is None:
            raise RuntimeError("the sim robot is not connected; call connect() first")
