"""The seed-style env: our residual paper task as a plain single-process `gymnasium.Env`, for SB3.

What a user of the seed project would train Stable-Baselines3 PPO on: MuJoCo stepped directly with
the `mujoco` bindings (`mj_step` on one MjModel/MjData), NumPy for everything else (`seed_ik`: the
IK base and forward kinematics), no JAX in `reset` or `step`. It is the task `python -m
train.residual_ppo` trains at its defaults:
- scene `envs_xml/so101_paper_card.xml`, compiled as `mjx_gr00t.envs.paper_card.load_model`
  does (square size and place, 360 Hz); MuJoCo's auto-reset off, as in our `c` engine;
- action r (6,) in [-1, 1]: u = alpha * clip(r, -1, 1), total = clip(base + u, -1, 1); the joint
  targets move by act_scale * total (clipped to the ctrl range), reached linearly over the inner
  control ticks of a policy step (6 at 180 Hz, each held for 2 of the 12 physics steps at 360 Hz);
- observation (40,) float32: the task's 34 values, then the IK base's action at that state;
- reward: +10 on success, -2 x distance (m), -0.1 x orientation error (rad), -0.01 per step, minus
  0.001 x ||u||^2. Success terminates; 150 steps truncate; non-finite or diverged physics
  (|qpos| >= 10, |qvel| >= 100) truncates with reward 0 and the last healthy observation;
- info["success"] (and info["is_success"], which SB3 logs): 1.0 when solved at this step;
- domain randomisation drawn with NumPy from the same ranges (`SeedDR`), into the same model fields.
A policy step runs as one call of our `c` engine does: from the state rounded to float32, with the
solver's warm start at zero, so equal controls give bit-identical physics.
`reset(options=...)` starts from a given state and DR draw, `set_state` moves it mid-episode.

Parity with our JAX env (`tests/test_seed_env.py`): the IK base within 1e-4 of an action (JAX is
float32), physics bit-identical, whole episodes synced to the same states equal in every flag.
Free-running from the same start they agree within 1e-3 for about 60 policy steps (median), then
drift apart: the task is chaotic in contact, and the JAX env drifts as soon when its actions are
nudged by 1e-5 (the test prints both). So single episodes differ in outcome, not the task.
`make_seed_vec` builds the SB3 VecEnv; `overhead` times the env against bare `mj_step`.
"""

import dataclasses
import math
import os
import time
from typing import Any

import gymnasium
import mujoco
import numpy as np

from benchmarks.seed_ik import Chain, IKConfig, IKPush, PushGeometry, mat_to_quat, quat_to_mat

ARM_JOINTS: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
XML_PATH: str = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "envs_xml",
                             "so101_paper_card.xml")
MODEL_FIELDS: tuple[str, ...] = ("geom_friction", "body_mass", "body_inertia", "actuator_gainprm", "actuator_biasprm")
RESET_OPTIONS: tuple[str, ...] = ("qpos", "qvel", "ctrl_target", "model_fields")
VEC_ENVS: tuple[str, ...] = ("dummy", "subproc")
Range = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class SeedDR:
    """Uniform DR ranges (low, high), the defaults of `CardDRConfig` (a test reads them from it)."""

    paper_xy: Range = (-0.05, 0.05)
    """Offset of the paper's start position, m, drawn for x and y."""
    paper_yaw: Range = (-0.3, 0.3)
    """Paper start yaw, rad."""
    friction: Range = (0.8, 1.2)
    """Scale of the paper's and the table's sliding friction."""
    paper_mass: Range = (0.9, 1.1)
    """Scale of the paper's mass and inertia."""
    actuator_gain: Range = (0.9, 1.1)
    """Scale of each servo's kp, drawn per actuator."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            low, high = getattr(self, f.name)
            if not (np.isfinite(low) and np.isfinite(high) and low <= high):
                raise ValueError(f"DR range {f.name} must be finite (low, high) with low <= high, got ({low}, {high})")

    @classmethod
    def off(cls) -> "SeedDR":
        """Every factor held at its neutral value."""
        return cls((0.0, 0.0), (0.0, 0.0), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0))


@dataclasses.dataclass(frozen=True)
class SeedConfig:
    """The residual paper task: `PaperCardConfig`'s and `train.residual_ppo`'s defaults."""

    episode_length: int = 150
    """Policy steps before truncation."""
    physics_hz: int = 360
    """Physics rate."""
    control_hz: int = 180
    """Inner control rate (targets interpolated)."""
    policy_hz: int = 30
    """Policy rate."""
    act_scale: float = 0.02
    """Largest joint-target change per policy step, rad."""
    square_half_size: float = 0.08
    """Half-size of the tape square, m."""
    square_centre: tuple[float, float] = (0.22, 0.08)
    """Square centre, m."""
    paper_start: tuple[float, float] = (0.22, -0.05)
    """Nominal paper centre at reset, m."""
    home_qpos: tuple[float, ...] = (0.0, -0.21, 0.2, 1.58, 0.0, 0.0)
    """Arm joint positions at reset, rad."""
    success_bonus: float = 10.0
    """Reward on success."""
    distance_weight: float = 2.0
    """Penalty per metre of paper-to-square distance."""
    orientation_weight: float = 0.1
    """Penalty per radian of orientation error."""
    step_penalty: float = 0.01
    """Penalty per step."""
    alpha: float = 1.0
    """Residual scale (train.residual_ppo --alpha, constant)."""
    residual_penalty: float = 0.001
    """Weight of ||u||^2 on the applied residual."""
    max_abs_qpos: float = 10.0
    """|qpos| at or above which physics counts as diverged."""
    max_abs_qvel: float = 100.0
    """|qvel| at or above which physics counts as diverged."""
    dr: SeedDR = SeedDR()
    """Domain randomisation ranges."""
    ik: IKConfig = IKConfig()
    """The IK base's parameters."""
    xml_path: str = XML_PATH
    """The scene's MJCF."""

    def __post_init__(self) -> None:
        if self.physics_hz % self.control_hz or self.control_hz % self.policy_hz:
            raise ValueError(f"rates must divide evenly: physics_hz {self.physics_hz}, control_hz "
                             f"{self.control_hz}, policy_hz {self.policy_hz}")
        if self.episode_length < 1 or not self.alpha >= 0 or not self.residual_penalty >= 0:
            raise ValueError("episode_length must be >= 1 and alpha, residual_penalty >= 0; got "
                             f"{self.episode_length}, {self.alpha}, {self.residual_penalty}")
        if not os.path.isfile(self.xml_path):
            raise FileNotFoundError(f"scene XML not found: {self.xml_path}; point xml_path at an MJCF file")


def load_model(config: SeedConfig) -> mujoco.MjModel:
    """The scene compiled with the configured square and physics rate (as our JAX env loads it)."""
    spec = mujoco.MjSpec.from_file(config.xml_path)
    h, w = config.square_half_size, 0.005
    for name, pos, size in (("tape_px", (h, 0), (w, h + w)), ("tape_nx", (-h, 0), (w, h + w)),
                            ("tape_py", (0, h), (h + w, w)), ("tape_ny", (0, -h), (h + w, w))):
        spec.geom(name).pos[:2] = pos
        spec.geom(name).size[:2] = size
    spec.body("square").pos[:2] = config.square_centre
    spec.option.timestep = 1.0 / config.physics_hz
    return spec.compile()


class SeedPaperEnv(gymnasium.Env):
    """The residual paper task in one process: MuJoCo C physics, NumPy observation, reward and IK base."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, config: SeedConfig = SeedConfig()) -> None:
        self.config = c = config
        self.model = m = load_model(config)
        m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
        self.data = mujoco.MjData(m)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (34 + m.nu,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (m.nu,), np.float32)
        self._paper_adr = int(m.jnt_qposadr[m.joint("paper").id])
        half = np.array(m.geom("paper").size[:2])
        self._corners_local = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]]) * half
        self._paper_z = float(m.geom("paper").size[2])
        self._square = np.array(config.square_centre)
        self._centre = np.array([*config.square_centre, 0.0])
        self._slip_geoms = np.array([m.geom("paper").id, m.geom("table").id])
        self._paper_body = m.body("paper").id
        self._nominal = {name: getattr(m, name).copy() for name in MODEL_FIELDS}
        self._ctrl_low = m.actuator_ctrlrange[:, 0].astype(np.float32)
        self._ctrl_high = m.actuator_ctrlrange[:, 1].astype(np.float32)
        self._ticks = c.control_hz // c.policy_hz
        self._hold = c.physics_hz // c.policy_hz // self._ticks
        self._fractions = np.arange(1, self._ticks + 1, dtype=np.float32)[:, None] / np.float32(self._ticks)
        self._alpha = np.float32(c.alpha)
        self._act_scale = np.float32(c.act_scale)
        self._home = np.asarray(c.home_qpos, np.float32)
        self.chain = Chain.from_model(m, ARM_JOINTS[:5], "tool")
        self.base = IKPush(self.chain, PushGeometry(
            square=self._square, paper_half=half, tip_radius=float(m.geom("tool_tip").size[0]),
            act_scale=c.act_scale, home_gripper=c.home_qpos[5]), c.ik)
        self._qpos = np.zeros(m.nq, np.float32)  # the state between policy steps, as our env keeps it
        self._qvel = np.zeros(m.nv, np.float32)
        self._target = self._home.copy()
        self._obs = np.zeros(self.observation_space.shape, np.float32)
        self._steps, self._ended = 0, True

    # ----- reset -----
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """A fresh episode, DR drawn with `np_random`; `options` entries replace parts of the draw:
        qpos (nq,), qvel (nv,), ctrl_target (6,) joint targets, model_fields {field: full array}.
        Returns obs (40,) float32 and info {}."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; valid options: {', '.join(RESET_OPTIONS)}")
        m, c, rng = self.model, self.config, self.np_random
        xy = np.asarray(c.paper_start) + rng.uniform(*c.dr.paper_xy, size=2)
        yaw = rng.uniform(*c.dr.paper_yaw)
        friction, mass = rng.uniform(*c.dr.friction), rng.uniform(*c.dr.paper_mass)
        gain = rng.uniform(*c.dr.actuator_gain, size=m.nu)
        fields = {name: value.copy() for name, value in self._nominal.items()}
        fields["geom_friction"][self._slip_geoms, 0] *= friction
        fields["body_mass"][self._paper_body] *= mass
        fields["body_inertia"][self._paper_body] *= mass
        fields["actuator_gainprm"][:, 0] *= gain
        fields["actuator_biasprm"][:, 1] *= gain
        for name, value in dict(options.get("model_fields") or {}).items():
            fields[name] = self._checked(f"reset option model_fields[{name!r}]", value, self._nominal.get(name))
        for name, value in fields.items():
            getattr(m, name)[...] = value
        paper = [xy[0], xy[1], self._paper_z, np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        qpos = np.concatenate([c.home_qpos, paper])
        self._qpos = self._checked("reset option qpos", options.get("qpos", qpos), qpos).astype(np.float32)
        self._qvel = self._checked("reset option qvel", options.get("qvel", np.zeros(m.nv)), np.zeros(m.nv)).astype(np.float32)
        self._target = self._checked("reset option ctrl_target", options.get("ctrl_target", self._home), self._home
                                     ).astype(np.float32)
        self._obs = self._observe()[0]
        self._steps, self._ended = 0, False
        return self._obs.copy(), {}

    def _checked(self, what: str, value: Any, like: np.ndarray | None) -> np.ndarray:
        if like is None:
            raise ValueError(f"{what} is not a DR field; valid fields: {', '.join(MODEL_FIELDS)}")
        value = np.asarray(value, np.float64)
        if value.shape != like.shape or not np.all(np.isfinite(value)):
            raise ValueError(f"{what} must be a finite array of shape {like.shape}, got shape {value.shape}")
        return value

    # ----- state -----
    def set_state(self, qpos: np.ndarray, qvel: np.ndarray, ctrl_target: np.ndarray | None = None) -> np.ndarray:
        """Puts the env in a given state mid-episode (step count kept), as Gymnasium's MujocoEnv does:
        qpos (nq,), qvel (nv,), joint targets (6,) (kept when None). Returns the observation (40,)."""
        self._qpos = self._checked("qpos", qpos, self._qpos).astype(np.float32)
        self._qvel = self._checked("qvel", qvel, self._qvel).astype(np.float32)
        if ctrl_target is not None:
            self._target = self._checked("ctrl_target", ctrl_target, self._target).astype(np.float32)
        self._obs = self._observe()[0]
        return self._obs.copy()

    def simulate(self, ctrl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One policy step of physics from the current state: ctrl (ticks, nu), each row held for
        physics_hz / control_hz steps. As our `c` engine: from the float32 state, warm start at
        zero, result rounded to float32. Returns (qpos (nq,), qvel (nv,)) float32 (and keeps them)."""
        m, d = self.model, self.data
        d.qpos[:], d.qvel[:], d.qacc_warmstart[:] = self._qpos, self._qvel, 0.0
        for tick in ctrl:
            d.ctrl[:] = tick
            mujoco.mj_step(m, d, nstep=self._hold)
        self._qpos, self._qvel = d.qpos.astype(np.float32), d.qvel.astype(np.float32)
        return self._qpos.copy(), self._qvel.copy()

    # ----- step -----
    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """action: (6,) residual r in [-1, 1]. Returns obs (40,) float32, reward, terminated
        (success), truncated (time limit or diverged physics), info {"success", "is_success"}."""
        if self._ended:
            raise RuntimeError("the episode has ended (or never began): call reset() before step()")
        r = np.asarray(action, np.float32).reshape(-1)
        if r.shape != self.action_space.shape or not np.all(np.isfinite(r)):
            raise ValueError(f"action must be {self.action_space.shape[0]} finite numbers, got {np.shape(action)}")
        u = self._alpha * np.clip(r, -1.0, 1.0)
        total = np.clip(self._obs[-self.model.nu:] + u, -1.0, 1.0)  # base action + u
        old = self._target
        target = np.clip(old + total * self._act_scale, self._ctrl_low, self._ctrl_high)
        qpos, qvel = self.simulate(old + self._fractions * (target - old))  # ctrl (ticks, nu) float32
        self._target = target
        obs, reward, success = self._observe()
        reward -= self.config.residual_penalty * float(u @ u)
        self._steps += 1
        c = self.config
        if not (np.isfinite(reward) and np.isfinite(obs).all() and (np.abs(qpos) < c.max_abs_qpos).all()
                and (np.abs(qvel) < c.max_abs_qvel).all()):  # a NaN fails every comparison
            self._ended = True  # diverged physics: end the episode, reward 0, last healthy obs
            return self._obs.copy(), 0.0, False, True, {"success": 0.0, "is_success": 0.0}
        truncated = self._steps >= c.episode_length and not success
        self._obs, self._ended = obs, success or truncated
        return obs.copy(), reward, success, truncated, {"success": float(success), "is_success": float(success)}

    # ----- observation and reward -----
    def _observe(self) -> tuple[np.ndarray, float, bool]:
        """obs (40,) float32 (task obs, then the base action), task reward, success; from the
        float32 state and joint targets."""
        c, qpos = self.config, self._qpos.astype(np.float64)
        tool_pos, tool_rot, _, _ = self.chain.pose(qpos[:5])
        a = self._paper_adr
        paper_pos, quat = qpos[a:a + 3], qpos[a + 3:a + 7]
        rot = quat_to_mat(quat)
        corners = paper_pos[:2] + self._corners_local @ rot[:2, :2].T - self._square  # (4, 2)
        success = bool(np.all(np.abs(corners) < c.square_half_size))
        distance = math.hypot(paper_pos[0] - self._square[0], paper_pos[1] - self._square[1])
        yaw = math.atan2(rot[1, 0], rot[0, 0])
        orientation = 0.5 * abs(math.atan2(math.sin(2 * yaw), math.cos(2 * yaw)))
        quat = quat / np.linalg.norm(quat)
        base = np.clip(self.base(self._target.astype(np.float64), tool_pos, paper_pos, rot), -1.0, 1.0)
        obs = np.concatenate([
            qpos[:6], self._qvel[:6], tool_pos - self._centre, mat_to_quat(tool_rot),
            paper_pos - self._centre, -quat if quat[0] < 0 else quat, corners.reshape(-1), base,
        ]).astype(np.float32)
        reward = (c.success_bonus * success - c.distance_weight * distance - c.orientation_weight * orientation
                  - c.step_penalty)
        return obs, reward, success


def make_seed_env(config: SeedConfig = SeedConfig()) -> SeedPaperEnv:
    """One `SeedPaperEnv` (a picklable factory for SB3's SubprocVecEnv)."""
    return SeedPaperEnv(config)


def make_seed_vec(num_envs: int, seed: int, vec_env: str = "dummy", normalize: bool = False,
                  config: SeedConfig = SeedConfig(), gamma: float = 0.99) -> Any:
    """An SB3 VecEnv of `num_envs` `SeedPaperEnv`s (`sb3_vec`)."""
    return sb3_vec(make_seed_env, config, num_envs, seed, vec_env, normalize, gamma)


def sb3_vec(factory: Any, config: Any, num_envs: int, seed: int, vec_env: str = "dummy", normalize: bool = False,
            gamma: float = 0.99) -> Any:
    """An SB3 VecEnv of `num_envs` envs `factory(config=config)`, each in SB3's `Monitor` (episode stats)
    and seeded seed + rank on its first reset (SB3's `make_vec_env`); the seed-style envs share it.

    vec_env: 'dummy' (one process) or 'subproc' (one subprocess per env). normalize: wrap it in
    `VecNormalize` (observations and rewards, discounted with `gamma`). ValueError for bad input."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    if vec_env not in VEC_ENVS:
        raise ValueError(f"vec_env must be one of {', '.join(VEC_ENVS)}, got {vec_env!r}")
    vec_cls = SubprocVecEnv if vec_env == "subproc" else DummyVecEnv
    vec = make_vec_env(factory, n_envs=num_envs, seed=seed, vec_env_cls=vec_cls, env_kwargs={"config": config})
    return VecNormalize(vec, gamma=gamma) if normalize else vec


def overhead(seconds: float = 6.0, seed: int = 0, rounds: int = 3,
             config: SeedConfig = SeedConfig()) -> dict[str, Any]:
    """What the Python env costs on top of its physics, in one process on one core.

    Alternates `rounds` times (about seconds / (2 rounds) each): `SeedPaperEnv(config).step` with the
    IK base and uniform random residual actions (drawn beforehand; resets included), then raw
    `mujoco.mj_step` on the env's own MjModel/MjData in a bare loop, from the state the env left. Rates are the best round of each (the least disturbed by
    other load). Returns physics steps/s of both (env: policy steps/s x physics_hz / policy_hz),
    overhead = 1 - env / raw, and the Python time per policy step outside physics, ms."""
    if not seconds > 0 or rounds < 1:
        raise ValueError(f"seconds must be > 0 and rounds >= 1, got {seconds}, {rounds}")
    env = SeedPaperEnv(config)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1.0, 1.0, (1024, env.model.nu)).astype(np.float32)
    m, d = env.model, env.data
    per_policy = env.config.physics_hz // env.config.policy_hz
    budget = seconds / (2 * rounds)
    raw_rates, env_rates, episodes = [], [], 0
    hold, ticks = env._hold, per_policy // env._hold
    for _ in range(rounds):
        # The env first; then bare mj_step from the state the env left, with its last controls, in
        # the env's own granularity (ticks x mj_step(nstep=hold)), so both step the same physics.
        n, start = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - start < budget:
            _, _, terminated, truncated, _ = env.step(actions[n % len(actions)])
            n += 1
            if terminated or truncated:
                env.reset()
                episodes += 1
        env_rates.append(n * per_policy / (time.perf_counter() - start))
        n, start = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - start < budget:
            for _ in range(ticks):
                mujoco.mj_step(m, d, nstep=hold)
            n += per_policy
        raw_rates.append(n / (time.perf_counter() - start))
    raw, env_rate = max(raw_rates), max(env_rates)
    return {
        "raw_physics_steps_per_s": raw, "env_physics_steps_per_s": env_rate,
        "env_policy_steps_per_s": env_rate / per_policy, "overhead_fraction": 1.0 - env_rate / raw,
        "python_ms_per_policy_step": 1e3 * per_policy * (1.0 / env_rate - 1.0 / raw),
        "physics_steps_per_policy_step": per_policy, "rounds": rounds, "seconds": seconds,
        "raw_rounds": raw_rates, "env_rounds": env_rates, "episodes_ended": episodes,
    }
