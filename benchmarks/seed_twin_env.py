"""The seed-style twin env: the residual `paper_square` task as a plain single-process `gymnasium.Env`.

What a user of the seed project would train Stable-Baselines3 PPO on for the rig's digital twin:
MuJoCo stepped directly (`mj_step` on one MjModel/MjData), NumPy for everything else
(`seed_twin_base`: servos, paper estimate, the IK drag base; `seed_ik`: forward kinematics), no JAX
in `reset` or `step`. It is the task `python -m train.residual_ppo --recipe paper_square/ik/ppo` trains:
- the scene `envs_xml/so101_paper_rig.xml` compiled as `PaperRigConfig` does (540 Hz, 20 solver
  iterations, fingertips, servo gains); MuJoCo's auto-reset off, as in our `c` engine;
- action r (6,) in [-1, 1]: u = alpha * clip(r, -1, 1), total = clip(base + u, -1, 1); the joint
  command moves by act_scale * total (clipped to the ctrl range) and goes to the servos as a real
  SO-101's would: quantised to whole ticks (4096 a turn), `latency` policy steps late, through
  backlash; the applied target is reached linearly over 6 inner ticks (180 Hz), each held for 3
  of the policy step's 18 physics steps;
- observation (37,) float32: the actor's 31 entries of our `robot` mode (quantised joint readings,
  their finite-difference velocities, the tool pose by FK in the arm's base frame, the noisy,
  biased, delayed, dropped-out paper-pose estimate: centre, yaw features, corners), then the drag
  base's action at that state. Our JAX env's critic also reads 27 true-state entries; SB3's PPO has
  one observation for actor and critic (no asymmetric critic), so it gets what the robot has, and
  its value function sees no true state;
- reward from the true state: +10 on success (every sheet corner inside the tape's outer edge),
  -2 x centre distance (m), -0.1 x yaw error (rad, modulo pi), -0.01 per step, minus 0.001 x
  ||u||^2. Success terminates; 300 steps truncate; non-finite or diverged physics (|qpos| >= 10,
  |qvel| >= 100) truncates with reward 0 and the last healthy observation;
- info["success"] and info["is_success"] (SB3 logs it): 1.0 when solved at this step;
- domain randomisation drawn with NumPy from `RigDRConfig`'s ranges (`TwinDR`) into the same model
  fields, which are float32 as our env's overrides are (so DR off still rounds them to float32).
A policy step runs as one call of our `c` engine: from the state rounded to float32 (the engine's
full-physics state, time 0), warm start zero, result rounded to float32; equal controls give
bit-identical physics. `reset(options=...)` starts from a given state and draws, `set_state`
moves the env mid-episode (servo and estimator state included), so a test can sync it to ours.

Parity with our JAX env (`tests/test_seed_twin_env.py`; estimate noise and dropout off there, the
per-episode draws copied): the scene byte for byte, physics and joint readings bit for bit, the
drag base within 1e-4 of an action (measured 4.3e-5; JAX is float32), the rest of the observation
within 1e-4, the reward within 1e-5, whole synced episodes equal in every flag. Free-running from the
same start, most episodes stay within 1e-3 to their end (servo quantisation absorbs the rounding).
`make_seed_twin_vec` builds the SB3 VecEnv.
"""

import math
from typing import Any

import gymnasium
import mujoco
import numpy as np

from benchmarks.seed_env import sb3_vec
from benchmarks.seed_ik import Chain, mat_to_quat, quat_to_mat
from benchmarks.seed_twin_base import (
    ARM_JOINTS, FINGERTIP_BELOW_TOOL, MAX_DELAY_STEPS, DragIK, TwinConfig, canonical_yaw, corners, load_model,
    play, push, quantise, whole_steps, yaw_features,
)

MODEL_FIELDS: tuple[str, ...] = ("geom_friction", "body_mass", "body_inertia", "actuator_gainprm", "actuator_biasprm")
DRAWS: tuple[str, ...] = ("backlash", "latency", "estimate_bias", "estimate_std", "estimate_dropout", "estimate_delay")
"""Per-episode draws of the servo and estimate models that `reset(options=...)` may set."""
RESET_OPTIONS: tuple[str, ...] = ("qpos", "qvel", "model_fields", *DRAWS)
ACTOR_SIZE: int = 31
"""The actor's entries of our `robot` observation (ROBOT_LAYOUT up to the critic-only ones)."""


class SeedTwinEnv(gymnasium.Env):
    """The residual twin task in one process: MuJoCo C physics; NumPy servos, estimate, observation,
    reward and drag base (see the module docstring)."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, config: TwinConfig = TwinConfig()) -> None:
        self.config = c = config
        self.model = m = load_model(config)
        m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
        self.data = mujoco.MjData(m)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (ACTOR_SIZE + m.nu,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (m.nu,), np.float32)
        self._paper_adr = int(m.jnt_qposadr[m.joint("paper").id])
        self._half = np.array(m.geom("paper").size[:2])
        self._half32 = self._half.astype(np.float32)
        self._paper_z = float(m.geom("paper").size[2])
        self._frame = np.asarray(c.frame_centre, np.float64)
        self._frame32 = self._frame.astype(np.float32)
        self._success_half = c.success_half.astype(np.float64)
        self._slip_geoms = np.array([m.geom("paper").id, m.geom("table").id])
        self._paper_body = m.body("paper").id
        self._nominal = {name: getattr(m, name).astype(np.float32) for name in MODEL_FIELDS}
        self._ctrl_low = m.actuator_ctrlrange[:, 0].astype(np.float32)
        self._ctrl_high = m.actuator_ctrlrange[:, 1].astype(np.float32)
        self._ticks = c.control_hz // c.policy_hz
        self._hold = c.physics_hz // c.policy_hz // self._ticks
        self._fractions = np.arange(1, self._ticks + 1, dtype=np.float32)[:, None] / np.float32(self._ticks)
        self._inv_dt = np.float32(1.0) / np.float32(1.0 / c.policy_hz)  # XLA's x / dt is x * float32(1 / dt)
        self._nstate = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        self._home = np.asarray(c.home_qpos, np.float32)
        self.chain = Chain.from_model(m, ARM_JOINTS[:5], "tool")  # world frame
        self.base_chain = Chain(**{**self.chain.__dict__, "base": np.eye(4)})  # the arm's base frame
        press_z = 2.0 * self._paper_z + float(m.geom("fixed_fingertip").size[0]) + FINGERTIP_BELOW_TOOL \
            - c.drag.press_depth
        self.base = DragIK(self.chain, self._frame, self._half, press_z, c.act_scale, c.home_qpos[5], c.drag)
        self._qpos, self._qvel = np.zeros(m.nq, np.float32), np.zeros(m.nv, np.float32)
        self._target, self._applied = self._home.copy(), self._home.copy()  # servo command, applied target
        self._commands = np.tile(self._home, (MAX_DELAY_STEPS + 1, 1))  # (5, 6) newest first
        self._seen = self._home.copy()  # the last joint reading
        self._history = np.zeros((MAX_DELAY_STEPS + 1, 3), np.float32)  # estimates x, y, yaw, newest first
        self._draws: dict[str, Any] = {}
        self._obs = np.zeros(self.observation_space.shape, np.float32)
        self._steps, self._ended = 0, True

    # ----- reset -----
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """A fresh episode, DR drawn with `np_random`; `options` entries replace parts of the draw:
        qpos (nq,), qvel (nv,), model_fields {field: full array}, backlash (6,), latency (int),
        estimate_bias (3,) x, y, yaw, estimate_std (3,), estimate_dropout (), estimate_delay (int).
        Returns obs (37,) float32 and info {}."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; valid options: {', '.join(RESET_OPTIONS)}")
        m, c, dr, rng = self.model, self.config, self.config.dr, self.np_random
        xy = np.asarray(c.paper_start) + rng.uniform(*dr.paper_xy, size=2)
        yaw = c.paper_start_yaw + rng.uniform(*dr.paper_yaw)
        friction, mass = np.float32(rng.uniform(*dr.friction)), np.float32(rng.uniform(*dr.paper_mass))
        gain = rng.uniform(*dr.actuator_gain, size=m.nu).astype(np.float32)
        fields = {name: value.copy() for name, value in self._nominal.items()}  # float32, as our overrides
        fields["geom_friction"][self._slip_geoms, 0] *= friction
        fields["body_mass"][self._paper_body] *= mass
        fields["body_inertia"][self._paper_body] *= mass
        fields["actuator_gainprm"][:, 0] *= gain
        fields["actuator_biasprm"][:, 1] *= gain
        for name, value in dict(options.get("model_fields") or {}).items():
            fields[name] = self._checked(f"reset option model_fields[{name!r}]", value, self._nominal.get(name))
        for name, value in fields.items():
            getattr(m, name)[...] = value
        xy_std = rng.uniform(*dr.estimate_xy_noise)
        draws = {
            "backlash": rng.uniform(*dr.backlash, size=m.nu), "latency": whole_steps(rng, dr.latency),
            "estimate_bias": np.append(rng.uniform(*dr.estimate_xy_bias, size=2), rng.uniform(*dr.estimate_yaw_bias)),
            "estimate_std": np.array([xy_std, xy_std, rng.uniform(*dr.estimate_yaw_noise)]),
            "estimate_dropout": rng.uniform(*dr.estimate_dropout),
            "estimate_delay": whole_steps(rng, dr.estimate_delay),
        }
        for name in DRAWS:
            if name in options:
                draws[name] = self._draw(name, options[name], draws[name])
        self._draws = {k: v.astype(np.float32) if isinstance(v, np.ndarray) else v for k, v in draws.items()}
        paper = [xy[0], xy[1], self._paper_z, math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
        qpos = np.concatenate([c.home_qpos, paper])
        self._qpos = self._checked("reset option qpos", options.get("qpos", qpos), qpos).astype(np.float32)
        qvel = np.zeros(m.nv)
        self._qvel = self._checked("reset option qvel", options.get("qvel", qvel), qvel).astype(np.float32)
        # The servos hold their reading of home; the estimator starts at its biased first estimate.
        sent = quantise(self._home, c.servo_ticks_per_rev)
        self._target, self._applied, self._seen = sent.copy(), sent.copy(), sent.copy()
        self._commands = np.tile(sent, (MAX_DELAY_STEPS + 1, 1))
        pos, yaw_now = self._paper_pose()
        first = np.array([pos[0], pos[1], yaw_now]) + self._draws["estimate_bias"]
        first[2] = canonical_yaw(first[2])
        self._history = np.tile(first.astype(np.float32), (MAX_DELAY_STEPS + 1, 1))
        self._obs = self._observe(self._seen, self._estimate())
        self._seen = quantise(self._qpos[:6], c.servo_ticks_per_rev)
        self._steps, self._ended = 0, False
        return self._obs.copy(), {}

    def _checked(self, what: str, value: Any, like: np.ndarray | None) -> np.ndarray:
        if like is None:
            raise ValueError(f"{what} is not a DR field; valid fields: {', '.join(MODEL_FIELDS)}")
        value = np.asarray(value, np.float64)
        if value.shape != np.shape(like) or not np.all(np.isfinite(value)):
            raise ValueError(f"{what} must be a finite array of shape {np.shape(like)}, got shape {value.shape}")
        return value

    def _draw(self, name: str, value: Any, like: Any) -> Any:
        """A per-episode draw given as a reset option, checked."""
        if name in ("latency", "estimate_delay"):
            if not (float(value) == int(value) and 0 <= int(value) <= MAX_DELAY_STEPS):
                raise ValueError(f"reset option {name} must be a whole number of steps in [0, {MAX_DELAY_STEPS}], "
                                 f"got {value!r}")
            return int(value)
        out = self._checked(f"reset option {name}", value, like)
        if name != "estimate_bias" and not (np.all(out >= 0) and (name != "estimate_dropout" or out < 1)):
            raise ValueError(f"reset option {name} must be >= 0 (a dropout probability below 1), got {value!r}")
        return float(out) if out.ndim == 0 else out

    # ----- state -----
    def set_state(self, qpos: np.ndarray, qvel: np.ndarray, ctrl_target: np.ndarray | None = None,
                  applied: np.ndarray | None = None, commands: np.ndarray | None = None,
                  estimate_history: np.ndarray | None = None, previous_seen: np.ndarray | None = None) -> np.ndarray:
        """Puts the env in a given state mid-episode (step count and draws kept), as our env holds it
        after an observation: qpos (nq,), qvel (nv,); the servos' command (6,), applied target (6,)
        and command history (5, 6) and the estimator's history (5, 3) x, y, yaw (each kept when None);
        previous_seen (6,): the joint reading one step before (for the velocities; None: the reading
        now, i.e. zero). Recomputes the observation without advancing the estimator. Returns it (37,)."""
        self._qpos = self._checked("qpos", qpos, self._qpos).astype(np.float32)
        self._qvel = self._checked("qvel", qvel, self._qvel).astype(np.float32)
        given = (("ctrl_target", "_target", ctrl_target), ("applied", "_applied", applied),
                 ("commands", "_commands", commands), ("estimate_history", "_history", estimate_history))
        for name, attr, value in given:
            if value is not None:
                setattr(self, attr, self._checked(name, value, getattr(self, attr)).astype(np.float32))
        seen = quantise(self._qpos[:6], self.config.servo_ticks_per_rev)
        previous = seen if previous_seen is None else self._checked("previous_seen", previous_seen, seen)
        self._obs = self._observe(previous.astype(np.float32), self._history[self._draws.get("estimate_delay", 0)])
        self._seen = seen
        return self._obs.copy()

    def simulate(self, ctrl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One policy step of physics from the current state: ctrl (ticks, nu), each row held for
        physics_hz / control_hz steps. As our `c` engine: the full-physics state set from zeros and
        the float32 qpos, qvel, warm start at zero, result rounded to float32. Returns (qpos (nq,),
        qvel (nv,)) float32 (and keeps them)."""
        m, d = self.model, self.data
        state = np.zeros(self._nstate)
        state[1:1 + m.nq], state[1 + m.nq:1 + m.nq + m.nv] = self._qpos, self._qvel
        mujoco.mj_setState(m, d, state, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        d.qacc_warmstart[:] = 0.0
        for tick in ctrl:
            d.ctrl[:] = tick
            mujoco.mj_step(m, d, nstep=self._hold)
        self._qpos, self._qvel = d.qpos.astype(np.float32), d.qvel.astype(np.float32)
        return self._qpos.copy(), self._qvel.copy()

    # ----- step -----
    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """action: (6,) residual r in [-1, 1]. Returns obs (37,) float32, reward, terminated
        (success), truncated (time limit or diverged physics), info {"success", "is_success"}."""
        if self._ended:
            raise RuntimeError("the episode has ended (or never began): call reset() before step()")
        r = np.asarray(action, np.float32).reshape(-1)
        if r.shape != self.action_space.shape or not np.all(np.isfinite(r)):
            raise ValueError(f"action must be {self.action_space.shape[0]} finite numbers, got {np.shape(action)}")
        c = self.config
        u = np.float32(c.alpha) * np.clip(r, -1.0, 1.0)
        total = np.clip(self._obs[-self.model.nu:] + u, -1.0, 1.0)  # base action + u
        target = np.clip(self._target + total * np.float32(c.act_scale), self._ctrl_low, self._ctrl_high)
        commands = push(self._commands, quantise(target, c.servo_ticks_per_rev))
        applied = play(self._applied, commands[self._draws["latency"]], self._draws["backlash"])
        qpos, qvel = self.simulate(self._applied + self._fractions * (applied - self._applied))  # ctrl (ticks, nu)
        self._target, self._applied, self._commands = target, applied, commands
        obs = self._observe(self._seen, self._estimate())
        self._seen = quantise(qpos[:6], c.servo_ticks_per_rev)
        reward, success = self._reward()
        reward -= c.residual_penalty * float(u.astype(np.float64) @ u)
        self._steps += 1
        if not (np.isfinite(reward) and np.isfinite(obs).all() and (np.abs(qpos) < c.max_abs_qpos).all()
                and (np.abs(qvel) < c.max_abs_qvel).all()):  # a NaN fails every comparison
            self._ended = True  # diverged physics: end the episode, reward 0, last healthy obs
            return self._obs.copy(), 0.0, False, True, {"success": 0.0, "is_success": 0.0}
        truncated = self._steps >= c.episode_length and not success
        self._obs, self._ended = obs, success or truncated
        return obs.copy(), reward, success, truncated, {"success": float(success), "is_success": float(success)}

    # ----- observation and reward -----
    def _paper_pose(self) -> tuple[np.ndarray, float]:
        """The sheet's true position (3,) and yaw (its long edge from x), from the float32 state."""
        a = self._paper_adr
        rot = quat_to_mat(self._qpos[a + 3:a + 7].astype(np.float64))
        return self._qpos[a:a + 3].astype(np.float64), math.atan2(rot[1, 0], rot[0, 0])

    def _estimate(self) -> np.ndarray:
        """Advances the estimator one step (per-step noise, dropout holds the last estimate, yaw
        canonical) and returns the estimate (3,) x, y, yaw the policy sees now, `delay` steps late."""
        pos, yaw = self._paper_pose()
        draws, rng = self._draws, self.np_random
        noise = draws["estimate_std"] * rng.standard_normal(3)
        measured = np.array([pos[0], pos[1], yaw]) + draws["estimate_bias"] + noise
        measured[2] = canonical_yaw(measured[2])
        if rng.random() < draws["estimate_dropout"]:
            measured = self._history[0]
        self._history = push(self._history, measured.astype(np.float32))
        return self._history[draws["estimate_delay"]]

    def _observe(self, previous: np.ndarray, est: np.ndarray) -> np.ndarray:
        """previous (6,) the last joint reading, est (3,) the estimate now -> obs (37,) float32: the
        actor's observation from the current state, then the drag base's action read from it."""
        seen = quantise(self._qpos[:6], self.config.servo_ticks_per_rev)
        est = est.astype(np.float64)
        tool_pos, tool_rot, _, _ = self.base_chain.pose(seen[:5].astype(np.float64))
        obs = np.empty(self.observation_space.shape, np.float32)
        obs[:6], obs[6:12] = seen, (seen - previous) * self._inv_dt
        obs[12:31] = np.concatenate([
            tool_pos, mat_to_quat(tool_rot), est[:2] - self._frame, yaw_features(est[2]),
            (corners(est[:2], est[2], self._half32) - self._frame).reshape(-1)])
        # The base reads the actor's observation (float32), as ours does: readings, centre, yaw.
        centre = (obs[19:21] + self._frame32).astype(np.float64)
        yaw = 0.5 * math.atan2(obs[22], obs[21])
        obs[31:] = np.clip(self.base(self._target, obs[:6], centre, yaw), -1.0, 1.0)
        return obs

    def _reward(self) -> tuple[float, bool]:
        """The task's reward and success, from the true (float32) state."""
        c = self.config
        pos, yaw = self._paper_pose()
        rot = quat_to_mat(self._qpos[self._paper_adr + 3:self._paper_adr + 7].astype(np.float64))
        signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])
        rel = pos[:2] + (signs * self._half) @ rot[:2, :2].T - self._frame  # (4, 2) corners from the centre
        success = bool(np.all(np.abs(rel) < self._success_half))
        distance = math.hypot(pos[0] - self._frame[0], pos[1] - self._frame[1])
        reward = (c.success_bonus * success - c.distance_weight * distance
                  - c.orientation_weight * abs(canonical_yaw(yaw)) - c.step_penalty)
        return reward, success


def make_seed_twin_env(config: TwinConfig = TwinConfig()) -> SeedTwinEnv:
    """One `SeedTwinEnv` (a picklable factory for SB3's SubprocVecEnv)."""
    return SeedTwinEnv(config)


def make_seed_twin_vec(num_envs: int, seed: int, vec_env: str = "dummy", normalize: bool = False,
                       config: TwinConfig = TwinConfig(), gamma: float = 0.99) -> Any:
    """An SB3 VecEnv of `num_envs` `SeedTwinEnv`s (`seed_env.sb3_vec`: Monitor, seeds, VecNormalize)."""
    return sb3_vec(make_seed_twin_env, config, num_envs, seed, vec_env, normalize, gamma)
