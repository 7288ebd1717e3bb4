"""The paper-return rig's twin: slide an A5 sheet into a red tape frame with an SO-101's fingertips.

One env, pure and vmappable. Physics at 540 Hz, inner control at 180 Hz, policy at 30 Hz (the
config's defaults): each policy step runs 18 physics steps, and the servo targets move linearly to
their new values over the 6 inner-control ticks. Rig, rates and DR: `envs.paper_config`.

Action: (6,) in [-1, 1], joint-position deltas for shoulder_pan ... gripper; 1 means `act_scale`
rad. The commands accumulate, clipped to the joint ranges, and go to the servos as a real SO-101's
would (`envs.servo`): quantised to whole ticks, `latency` policy steps late, through backlash.

Observation, by `obs_mode` (positions relative to the tape frame's centre unless said otherwise):
  robot (31 for the actor + 27 for the critic only; see ROBOT_LAYOUT): joint positions as the servos
    read them (quantised), velocities by finite difference of those, the tool pose by forward
    kinematics in the arm's base frame (position, quaternion w >= 0), and the paper-pose estimate
    (`envs.paper_estimate`): centre, yaw as (cos 2y, sin 2y), four corners in canonical order. The
    critic also reads the true joints, velocities, sheet pose and corners (`spec.critic_only`).
  privileged (34; PRIVILEGED_LAYOUT): the true joint positions and velocities, tool position (frame
    centre) and quaternion, sheet position, quaternion (w >= 0) and corners, all for the actor.

Reward, each term logged under `reward/*`: +10 on success, -2 x sheet-centre-to-frame-centre
distance (m), -0.1 x yaw error (rad, modulo 180 degrees), -0.01 per step. Success, which ends the
episode: all four corners of the sheet inside the tape's outer edge. `task/success_strict` logs the
stricter test, all four inside the tape's centre line.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.host_callback import one_at_a_time
from mjx_gr00t.envs import paper_estimate as estimate
from mjx_gr00t.envs import servo
from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.paper_rig_config import (
    ARM_JOINTS, MAX_DELAY_STEPS, RigDRRanges, PaperRigConfig, load_model, success_regions,
)
from mjx_gr00t.envs.spec import EnvSpec
from mjx_gr00t.perception import image_dr
from mjx_gr00t.kinematics import SerialChain, mat_to_quat, quat_to_mat
from mjx_gr00t.physics import PhysicsState, make_engine, resolve_engine_name

ROBOT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("joint_pos", 6), ("joint_vel", 6), ("tool_pos_base", 3), ("tool_quat_base", 4),
    ("paper_xy_est", 2), ("paper_yaw_est", 2), ("paper_corners_est", 8),
    ("true_joint_pos", 6), ("true_joint_vel", 6), ("true_paper_pos", 3), ("true_paper_quat", 4),
    ("true_paper_corners", 8),
)
ACTOR_SIZE: int = 31
"""Entries of ROBOT_LAYOUT the actor reads (those before the critic-only ones)."""
ROBOT_CRITIC_ONLY: tuple[str, ...] = (
    "true_joint_pos", "true_joint_vel", "true_paper_pos", "true_paper_quat", "true_paper_corners")
PRIVILEGED_LAYOUT: tuple[tuple[str, int], ...] = (
    ("joint_pos", 6), ("joint_vel", 6), ("tool_pos", 3), ("tool_quat", 4), ("paper_pos", 3),
    ("paper_quat", 4), ("paper_corners_xy", 8),
)


@struct.dataclass
class PaperInfo:
    """Task record of one env: commands, the servos' and the estimator's state, DR draws."""

    ctrl_target: jax.Array  # (6,) the accumulated joint command, rad
    applied: jax.Array  # (6,) the target the servos hold now (after latency and backlash), rad
    commands: jax.Array  # (MAX_DELAY_STEPS + 1, 6) last commands sent, newest first
    backlash: jax.Array  # (6,) dead-band half-widths, rad
    latency: jax.Array  # () int32 policy steps
    joints_seen: jax.Array  # (6,) the last quantised joint reading, rad
    estimate: estimate.EstimateState
    key: jax.Array  # for the estimate's per-step noise
    image_dr: jax.Array  # (8,) the episode's camera pose, fovy and light draw (perception.image_dr)
    dr_ranges: RigDRRanges
    overrides: dict[str, jax.Array]  # per-env MjModel fields, drawn at reset


class PaperRigTask:
    """Physics, observation and reward of the twin, for one env (see module docstring)."""

    action_size = 6

    def __init__(self, config: PaperRigConfig) -> None:
        self.config = config
        self.mj_model = m = load_model(config)
        self.engine_name = resolve_engine_name(config.engine)
        self.engine = make_engine(self.engine_name, m)
        self.chain = SerialChain.from_model(m, list(ARM_JOINTS[:5]), "tool")
        self.base_pos, self.base_rot = np.asarray(self.chain.fixed_pos), np.asarray(self.chain.fixed_rot)
        self.base_chain = SerialChain(**{**self.chain.__dict__, "fixed_pos": np.zeros(3), "fixed_rot": np.eye(3)})
        self.paper_qpos = int(m.jnt_qposadr[m.joint("paper").id])
        self.paper_half = np.array(m.geom("paper").size[:2])
        self.paper_z = float(m.geom("paper").size[2])
        self.tip_radius = float(m.geom("fixed_fingertip").size[0])
        self.ctrl_low = jnp.asarray(m.actuator_ctrlrange[:, 0], jnp.float32)
        self.ctrl_high = jnp.asarray(m.actuator_ctrlrange[:, 1], jnp.float32)
        self.frame = jnp.asarray(config.frame_centre, jnp.float32)
        self.success_half, self.strict_half = success_regions(config)
        self.substeps = config.physics_hz // config.policy_hz
        self.ticks = config.control_hz // config.policy_hz
        self.policy_dt = 1.0 / config.policy_hz
        self._slip_geoms = np.array([m.geom("paper").id, m.geom("table").id])
        self._paper_body = np.array([m.body("paper").id])
        self.default_ranges = RigDRRanges.from_config(config.dr)
        self._perception = None
        if config.perception == "camera":  # host code: imported only when asked for
            from mjx_gr00t.perception.frame_anchor import TapeFrame
            from mjx_gr00t.perception.in_the_loop import CameraPerception
            self._perception = CameraPerception(m, config.paper_size, TapeFrame.from_config(config))
            self._perceive = one_at_a_time(self._perception)  # one GL context: calls take turns
        robot = config.obs_mode == "robot"
        layout = ROBOT_LAYOUT if robot else PRIVILEGED_LAYOUT
        self.observation_size = sum(size for _, size in layout)
        self.spec = EnvSpec(
            obs_layout=layout, action_names=ARM_JOINTS,
            action_ranges=tuple((float(lo), float(hi)) for lo, hi in m.actuator_ctrlrange),
            action_scale=config.act_scale, policy_dt=self.policy_dt,
            critic_only=ROBOT_CRITIC_ONLY if robot else (), obs_mode=config.obs_mode,
        )

    # ----- reset -----
    def reset(self, key: jax.Array, dr_ranges: RigDRRanges | None = None) -> State:
        """A fresh episode with DR drawn from `dr_ranges` (the config's when None)."""
        r = self.default_ranges if dr_ranges is None else dr_ranges
        k = jax.random.split(key, 9)
        c, m = self.config, self.mj_model
        xy = jnp.asarray(c.paper_start) + randomize.uniform(k[0], r.paper_xy, (2,))
        yaw = c.paper_start_yaw + randomize.uniform(k[1], r.paper_yaw)
        mass_scale = randomize.uniform(k[3], r.paper_mass)
        overrides = {
            "geom_friction": randomize.scale_rows(
                m.geom_friction, self._slip_geoms, randomize.uniform(k[2], r.friction), slice(0, 1)),
            "body_mass": randomize.scale_rows(m.body_mass, self._paper_body, mass_scale),
            "body_inertia": randomize.scale_rows(m.body_inertia, self._paper_body, mass_scale),
            **randomize.scale_actuator_gains(
                m.actuator_gainprm, m.actuator_biasprm, np.arange(m.nu),
                randomize.uniform(k[4], r.actuator_gain, (m.nu,))),
        }
        home = jnp.asarray(c.home_qpos, jnp.float32)
        paper = jnp.concatenate([
            xy, jnp.array([self.paper_z]), jnp.array([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])])
        physics = PhysicsState(qpos=jnp.concatenate([home, paper]).astype(jnp.float32),
                               qvel=jnp.zeros(m.nv, jnp.float32))
        params = estimate.draw_params(k[5], r.estimate_xy_bias, r.estimate_yaw_bias, r.estimate_xy_noise,
                                      r.estimate_yaw_noise, r.estimate_dropout, r.estimate_delay)
        # The first estimate is the noise model's, also with the camera in the loop: resets run every
        # step for auto-reset, and a frame each would double the rendering.
        pose = jnp.concatenate([xy, jnp.asarray(yaw)[None]])
        sent = servo.quantise(home, c.servo_ticks_per_rev)
        info = PaperInfo(
            ctrl_target=sent, applied=sent,  # the running command starts at the servos' reading, as deployed
            commands=jnp.broadcast_to(sent, (MAX_DELAY_STEPS + 1, 6)),
            backlash=randomize.uniform(k[6], r.backlash, (6,)),
            latency=servo.draw_whole_steps(k[7], r.latency),
            joints_seen=servo.quantise(home, c.servo_ticks_per_rev),
            estimate=estimate.EstimateState.fresh(pose, params, MAX_DELAY_STEPS + 1),
            key=k[8], dr_ranges=r, overrides=overrides,
            image_dr=image_dr.draw_image_dr(jax.random.fold_in(k[8], 1), r.camera_pos, r.camera_angle,
                                            r.camera_fovy, r.light),
        )
        obs, metrics, success, info = self._observe(physics, info, camera=False)
        zero = jnp.zeros(())
        return State(physics=physics, obs=obs, reward=zero, done=zero, truncation=zero, success=zero,
                     metrics={k: jnp.zeros(()) for k in metrics}, info=info)

    # ----- step -----
    def step(self, state: State, action: jax.Array) -> State:
        """action: (6,) in [-1, 1]; one policy step of `substeps` physics steps."""
        info = state.info
        target = self.target(info, action)
        commands = servo.push(info.commands, servo.quantise(target, self.config.servo_ticks_per_rev))
        applied = servo.play(info.applied, servo.delayed(commands, info.latency), info.backlash)
        fractions = jnp.arange(1, self.ticks + 1, dtype=jnp.float32) / self.ticks
        ctrl = info.applied + fractions[:, None] * (applied - info.applied)
        ctrl = jnp.repeat(ctrl, self.substeps // self.ticks, axis=0)  # (substeps, 6)
        physics = self.engine.step(state.physics, ctrl, info.overrides)
        info = info.replace(ctrl_target=target, applied=applied, commands=commands)
        obs, metrics, success, info = self._observe(physics, info)
        reward = sum(v for k, v in metrics.items() if k.startswith("reward/"))
        return state.replace(physics=physics, obs=obs, reward=reward, success=success, done=success,
                             metrics=metrics, info=info)

    def target(self, info: PaperInfo, action: jax.Array) -> jax.Array:
        """The running joint command (6,) rad after `action` (6,) in [-1, 1]: a joint delta of up to
        act_scale on `info.ctrl_target`, within the servos' range."""
        delta = jnp.clip(action, -1.0, 1.0) * self.config.act_scale
        return jnp.clip(info.ctrl_target + delta, self.ctrl_low, self.ctrl_high)

    def sent_goal(self, info: PaperInfo, action: jax.Array) -> jax.Array:
        """The goal (6,) rad that `step` sends the servos for `action`: `target` on their tick grid."""
        return servo.quantise(self.target(info, action), self.config.servo_ticks_per_rev)

    @property
    def camera_perception(self):
        """The camera and estimator in the loop (`perception.in_the_loop.CameraPerception`) where the
        config says perception="camera", else None."""
        return self._perception

    def _camera(self, qpos: jax.Array, draw: jax.Array) -> jax.Array:
        """qpos (nq,), draw (8,) the episode's image DR -> (4,) the camera estimator's x, y, yaw and
        found flag (host callback)."""
        return jax.pure_callback(self._perceive, jax.ShapeDtypeStruct((4,), jnp.float32), qpos, draw,
                                 vmap_method="broadcast_all")

    # ----- geometry -----
    def tool_pose(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array]:
        """qpos: (>= 5,) -> tool position (3,) and rotation (3, 3), world (table) frame."""
        return self.chain.site_pose(qpos[:5])

    def paper_pose(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """qpos: (nq,) -> sheet position (3,), quaternion (4,), corners (4, 2) in world xy, in the
        order (+,+), (+,-), (-,+), (-,-) of the sheet's own half-extents."""
        pos = qpos[self.paper_qpos:self.paper_qpos + 3]
        quat = qpos[self.paper_qpos + 3:self.paper_qpos + 7]
        hx, hy = self.paper_half
        local = jnp.array([[hx, hy, 0.0], [hx, -hy, 0.0], [-hx, hy, 0.0], [-hx, -hy, 0.0]])
        return pos, quat, pos[:2] + (local @ quat_to_mat(quat).T)[:, :2]

    def paper_yaw(self, quat: jax.Array) -> jax.Array:
        """The sheet's yaw (its long edge from x), rad, from its quaternion (4,)."""
        rot = quat_to_mat(quat)
        return jnp.arctan2(rot[1, 0], rot[0, 0])

    def base_inputs(self, state: State) -> tuple[jax.Array, jax.Array, jax.Array]:
        """What a scripted base may read, all from the actor's observation: joint readings (6,),
        sheet centre (2,) and canonical yaw () in the table frame (estimated in `robot` mode)."""
        obs, spec = state.obs, self.spec
        joints = obs[spec.obs_slice("joint_pos")]
        if self.config.obs_mode == "robot":
            xy = obs[spec.obs_slice("paper_xy_est")] + self.frame
            features = obs[spec.obs_slice("paper_yaw_est")]
            return joints, xy, 0.5 * jnp.arctan2(features[1], features[0])
        xy = obs[spec.obs_slice("paper_pos")][:2] + self.frame
        return joints, xy, estimate.canonical_yaw(self.paper_yaw(obs[spec.obs_slice("paper_quat")]))

    # ----- observation and reward -----
    def actor_observation(self, seen: jax.Array, previous: jax.Array, est: jax.Array) -> jax.Array:
        """What the actor reads in `robot` mode, from what a real rig gives (`train.deploy` calls the
        same code on robot readings): seen (6,) joint readings and previous (6,) the last step's, rad;
        est (3,) the paper-pose estimate x, y (m, table frame) and yaw (rad, modulo pi) ->
        (ACTOR_SIZE,) = joints, finite-difference velocities, tool position and quaternion (w >= 0)
        in the arm's base frame, estimated centre (frame-relative), yaw features, corners."""
        tool_pos, tool_rot = self.base_chain.site_pose(seen[:5])
        corners = estimate.corners(est[:2], est[2], jnp.asarray(self.paper_half, jnp.float32))
        return jnp.concatenate([
            seen, (seen - previous) / self.policy_dt, tool_pos, _positive(mat_to_quat(tool_rot)),
            est[:2] - self.frame, estimate.yaw_features(est[2]), (corners - self.frame).reshape(-1),
        ]).astype(jnp.float32)

    def _observe(self, physics: PhysicsState, info: PaperInfo,
                 camera: bool = True) -> tuple[jax.Array, dict[str, jax.Array], jax.Array, PaperInfo]:
        """camera=False: the estimate comes from the noise model even with the camera in the loop."""
        qpos, qvel, c = physics.qpos, physics.qvel, self.config
        paper_pos, paper_quat, corners = self.paper_pose(qpos)
        yaw = self.paper_yaw(paper_quat)
        paper_quat = paper_quat / jnp.linalg.norm(paper_quat)
        paper_quat = jnp.where(paper_quat[0] < 0, -paper_quat, paper_quat)
        rel = corners - self.frame
        success = jnp.all(jnp.abs(rel) < self.success_half).astype(jnp.float32)
        strict = jnp.all(jnp.abs(rel) < self.strict_half).astype(jnp.float32)
        centre = jnp.concatenate([self.frame, jnp.zeros(1)])
        if c.obs_mode == "robot":
            key, k_est = jax.random.split(info.key)
            seen = servo.quantise(qpos[:6], c.servo_ticks_per_rev)
            if self._perception is None or not camera:
                true_pose = jnp.concatenate([paper_pos[:2], yaw[None]])
                est_state, est = estimate.update(info.estimate, true_pose, k_est)
            else:
                seen_pose = self._camera(qpos, info.image_dr)
                est_state, est = estimate.update_measured(info.estimate, seen_pose[:3], seen_pose[3] > 0.5)
            true_corners = estimate.corners(paper_pos[:2], yaw, jnp.asarray(self.paper_half, jnp.float32))
            obs = jnp.concatenate([
                self.actor_observation(seen, info.joints_seen, est),
                qpos[:6], qvel[:6], paper_pos - centre, paper_quat, (true_corners - self.frame).reshape(-1),
            ])
            info = info.replace(key=key, joints_seen=seen, estimate=est_state)
            extra = {"task/estimate_error": jnp.linalg.norm(est[:2] - paper_pos[:2])}
        else:
            tool_pos, tool_rot = self.tool_pose(qpos)
            obs = jnp.concatenate([qpos[:6], qvel[:6], tool_pos - centre, _positive(mat_to_quat(tool_rot)),
                                   paper_pos - centre, paper_quat, rel.reshape(-1)])
            extra = {}
        distance = jnp.linalg.norm(paper_pos[:2] - self.frame)
        orientation = estimate.angle_error(yaw, jnp.zeros(()))
        metrics = {
            "reward/success": c.success_bonus * success,
            "reward/distance": -c.distance_weight * distance,
            "reward/orientation": -c.orientation_weight * orientation,
            "reward/step": -c.step_penalty * jnp.ones(()),
            "task/dist_to_goal": distance,
            "task/orientation_error": orientation,
            "task/success_strict": strict,
            **extra,
        }
        return obs.astype(jnp.float32), metrics, success, info


def _positive(quat: jax.Array) -> jax.Array:
    """The quaternion (4,) with w >= 0 (q and -q are the same rotation)."""
    return jnp.where(quat[0] < 0, -quat, quat)

