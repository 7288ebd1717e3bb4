"""Physics, observation and reward of the SO-101 goal tasks: `So101GoalTask` (one env) and `make_env`.
See the package docstring (`mjx_gr00t.envs.so101_goal`) for the semantics."""

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from mjx_gr00t import ik_dls, randomize
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.envs.fetch.task import GOAL_LAYOUT, euler_xyz
from mjx_gr00t.envs.paper_rig_config import FINGERTIP_POS, FINGERTIP_RADIUS, fit_arm
from mjx_gr00t.envs.so101_goal.config import JAW_CLOSED, So101GoalConfig, So101GoalDRRanges
from mjx_gr00t.envs.spec import EnvSpec, GoalSpec
from mjx_gr00t.kinematics import SerialChain, quat_to_mat
from mjx_gr00t.physics import PhysicsState, make_engine, resolve_engine_name

ARM: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll")
IK_JOINTS: int = 4
"""The IK moves pan, lift, elbow and wrist flex; the wrist roll is held (config.wrist_roll)."""
OBJECT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("grip_pos", 3), ("object_pos", 3), ("object_rel_pos", 3), ("gripper_state", 2), ("object_rot", 3),
    ("object_velp", 3), ("object_velr", 3), ("grip_velp", 3), ("gripper_vel", 2),
)
REACH_LAYOUT: tuple[tuple[str, int], ...] = (
    ("grip_pos", 3), ("gripper_state", 2), ("grip_velp", 3), ("gripper_vel", 2),
)
ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "gripper")
GRASP_CLEARANCE: float = 0.003
"""The grasp point sits this far beyond the largest cube's face from the fixed fingertip, m."""
REJECTION_DRAWS: int = 16


@struct.dataclass
class So101GoalInfo:
    """grip_target (3,): the grasp point's target, m. joint_target (6,): the servos' targets, rad.
    goal (3,). dr_ranges, and this episode's model overrides."""

    grip_target: jax.Array
    joint_target: jax.Array
    goal: jax.Array
    dr_ranges: So101GoalDRRanges
    overrides: dict[str, jax.Array]


def load_model(config: So101GoalConfig) -> mujoco.MjModel:
    """The scene with the twin's arm parts (`fit_arm`), the grasp point site, the cube at its largest
    DR size, the physics step; no cube for Reach."""
    spec = mujoco.MjSpec.from_file(config.xml_path)
    spec.body("base").pos = [0.0, 0.0, 0.02]
    fit_arm(spec, config)
    body, fixed = FINGERTIP_POS["fixed_fingertip"]
    offset = FINGERTIP_RADIUS + config.object_half_size * config.max_size_scale + GRASP_CLEARANCE
    # The jaws open along the gripper body's +x (the moving jaw swings away from the fixed one).
    spec.body(body).add_site(name="grasp", pos=[fixed[0] + offset, fixed[1], fixed[2] + 0.001],
                             quat=[1.0, 0.0, 1.0, 0.0], size=[0.004, 0, 0], group=4)
    spec.body(FINGERTIP_POS["moving_fingertip"][0]).add_site(
        name="moving_tip", pos=list(FINGERTIP_POS["moving_fingertip"][1]), size=[0.003, 0, 0], group=4)
    if config.has_object:
        spec.geom("object").size[:] = config.object_half_size * config.max_size_scale
    else:
        spec.delete(spec.body("object"))
    # Stiff contacts (time constant 2 physics steps) where the jaws squeeze the cube and press on the
    # table: MuJoCo's default (20 ms) lets a squeezed 30 mm cube sink 9 mm into the fingertips and
    # pop out, and the fingertips sink into the table.
    for name in ("table", *FINGERTIP_POS, "fixed_finger", "moving_finger") + (("object",) if config.has_object else ()):
        spec.geom(name).solref = [2.0 * config.timestep, 1.0]
        spec.geom(name).solimp = [0.95, 0.99, 0.001, 0.5, 2.0]
    for key in list(spec.keys):
        spec.delete(key)
    spec.option.timestep = config.timestep
    return spec.compile()


class So101GoalTask:
    """Physics, observation and reward of one SO-101 goal task, for one env (package docstring)."""

    action_size = 4

    def __init__(self, config: So101GoalConfig) -> None:
        self.config = c = config
        self.has_object, self.block_gripper = c.has_object, c.block_gripper
        self.mj_model = m = load_model(c)
        self.engine_name = resolve_engine_name(c.engine)
        self.engine = make_engine(self.engine_name, m)
        self.dt = c.dt
        self.arm_q = np.array([m.jnt_qposadr[m.joint(j).id] for j in ARM])
        self.arm_v = np.array([m.jnt_dofadr[m.joint(j).id] for j in ARM])
        self.jaw_q, self.jaw_v = int(m.jnt_qposadr[m.joint("gripper").id]), int(m.jnt_dofadr[m.joint("gripper").id])
        self.chain = SerialChain.from_model(m, list(ARM), "grasp")
        self.jaw_chain = SerialChain.from_model(m, ["gripper"], "moving_tip")
        self.ctrl_low = jnp.asarray(m.actuator_ctrlrange[:, 0], jnp.float32)
        self.ctrl_high = jnp.asarray(m.actuator_ctrlrange[:, 1], jnp.float32)
        data = mujoco.MjData(m)
        mujoco.mj_kinematics(m, data)  # every joint at 0: where jaw_chain's fixed part puts the jaw
        self._fixed_tip0 = jnp.asarray(data.geom("fixed_fingertip").xpos, jnp.float32)
        self.ws_low = jnp.asarray(c.workspace_low, jnp.float32)
        self.ws_high = jnp.asarray(c.workspace_high, jnp.float32)
        self.home = self._home_joints()
        if self.has_object:
            self.object_q, self.object_v = int(m.jnt_qposadr[m.joint("object").id]), int(m.jnt_dofadr[m.joint("object").id])
            self.object_geom, self.object_body = m.geom("object").id, m.body("object").id
            self._inertia_unit = np.asarray(m.body_inertia[self.object_body]) / c.max_size_scale ** 2
            self._friction_geoms = np.array([m.geom("object").id, m.geom("table").id])
        layout = OBJECT_LAYOUT if self.has_object else REACH_LAYOUT
        n = sum(size for _, size in layout)
        self.observation_size = n + 6
        self.spec = EnvSpec(
            obs_layout=layout + GOAL_LAYOUT, action_names=ACTION_NAMES, action_ranges=((-1.0, 1.0),) * 4,
            action_scale=c.action_scale, policy_dt=self.dt,
            goal=GoalSpec(achieved=(n, n + 3), desired=(n + 3, n + 6), compute_reward=self.compute_reward),
        )
        self.default_ranges = So101GoalDRRanges.from_config(c.dr)

    # ----- kinematics -----
    def grasp_pose(self, arm: jax.Array) -> tuple[jax.Array, jax.Array]:
        """arm joints (5,) -> the grasp point (3,) and its frame (3, 3); column 0 is the jaws' approach axis."""
        return self.chain.site_pose(arm)

    def opening(self, jaw: jax.Array) -> jax.Array:
        """() jaw angle -> () half the gap between the fingertips' surfaces, m (Fetch's finger opening)."""
        tip, _ = self.jaw_chain.site_pose(jaw[None])
        return 0.5 * (jnp.linalg.norm(tip - self._fixed_tip0) - 2.0 * FINGERTIP_RADIUS)

    def ik(self, q_arm: jax.Array, target: jax.Array) -> jax.Array:
        """(5,) joint targets, (3,) grasp-point target -> (5,) joint targets that reach it with the jaws
        pointing down (DLS from `q_arm`, the wrist roll held)."""
        c = self.config
        roll = jnp.asarray(c.wrist_roll, jnp.float32)

        def features(q4: jax.Array) -> jax.Array:
            pos, rot = self.grasp_pose(jnp.concatenate([q4, roll[None]]))
            return jnp.concatenate([pos, c.tilt_weight * rot[:, 0]])

        wanted = jnp.concatenate([target, c.tilt_weight * jnp.array([0.0, 0.0, -1.0], jnp.float32)])
        q4 = ik_dls.solve(features, q_arm[:IK_JOINTS], wanted, c.ik_damping, c.ik_iterations,
                        self.ctrl_low[:IK_JOINTS], self.ctrl_high[:IK_JOINTS])
        q = jnp.concatenate([q4, roll[None]])
        return jnp.clip(q, self.ctrl_low[:5], self.ctrl_high[:5])

    def _home_joints(self) -> jax.Array:
        """(6,) joints that put the grasp point at `config.start`, jaws down and open."""
        guess = jnp.array([0.0, -0.67, 0.73, 1.51, self.config.wrist_roll], jnp.float32)
        q = guess
        for _ in range(10):
            q = self.ik(q, jnp.asarray(self.config.start, jnp.float32))
        jaw = JAW_CLOSED if self.block_gripper else 0.6
        return jnp.concatenate([q, jnp.array([jaw], jnp.float32)])

    # ----- goals and reward -----
    def goal_distance(self, achieved: jax.Array, desired: jax.Array) -> jax.Array:
        return jnp.linalg.norm(achieved - desired, axis=-1)

    def compute_reward(self, achieved: jax.Array, desired: jax.Array, sparse: bool | None = None) -> jax.Array:
        """(..., 3), (..., 3) -> (...) float32: sparse -(d > threshold), dense -d; pure jnp (HER)."""
        d = self.goal_distance(achieved, desired)
        if self.config.sparse if sparse is None else sparse:
            return -(d > self.config.distance_threshold).astype(jnp.float32)
        return (-d).astype(jnp.float32)

    # ----- reset -----
    def reset(self, key: jax.Array, dr_ranges: So101GoalDRRanges | None = None) -> State:
        """A fresh episode: the arm at home, the cube and goal drawn, DR drawn from `dr_ranges`."""
        c, m = self.config, self.mj_model
        ranges = self.default_ranges if dr_ranges is None else dr_ranges
        k_obj, k_goal, k_air, k_lift, k_mass, k_fr, k_size, k_gain = jax.random.split(key, 8)
        gains = randomize.uniform(k_gain, ranges.servo_gain, (m.nu,))
        overrides = randomize.scale_actuator_gains(m.actuator_gainprm, m.actuator_biasprm, np.arange(m.nu), gains)
        qpos = jnp.zeros(m.nq, jnp.float32).at[self.arm_q].set(self.home[:5]).at[self.jaw_q].set(self.home[5])
        xy_low, xy_high = jnp.asarray(c.object_xy_low), jnp.asarray(c.object_xy_high)
        if self.has_object:
            scale = jnp.clip(randomize.uniform(k_size, ranges.object_size), 0.4, c.max_size_scale)
            half = c.object_half_size * scale
            obj_xy = self._object_xy(k_obj, xy_low, xy_high)
            yaw = jnp.arctan2(obj_xy[1], obj_xy[0])  # faces square to the jaws, which open across the reach
            quat = jnp.array([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])
            qpos = qpos.at[self.object_q:self.object_q + 7].set(jnp.concatenate([obj_xy, half[None], quat]))
            goal = jnp.concatenate([jax.random.uniform(k_goal, (2,), minval=xy_low, maxval=xy_high), half[None]])
            if c.target_in_the_air:
                raised = jax.random.uniform(k_air) < c.air_probability
                goal = goal.at[2].add(jnp.where(raised, jax.random.uniform(k_lift, maxval=c.air_height_max), 0.0))
            mass = randomize.uniform(k_mass, ranges.object_mass)
            friction = randomize.uniform(k_fr, ranges.object_friction)
            overrides.update({
                "body_mass": randomize.scale_rows(m.body_mass, np.array([self.object_body]), mass),
                "body_inertia": jnp.asarray(m.body_inertia, jnp.float32).at[self.object_body].set(
                    self._inertia_unit * mass * scale ** 2),
                "geom_size": jnp.asarray(m.geom_size, jnp.float32).at[self.object_geom].set(half),
                "geom_friction": randomize.scale_rows(m.geom_friction, self._friction_geoms, friction, slice(0, 1)),
            })
        else:
            goal = jax.random.uniform(k_goal, (3,), minval=jnp.asarray(c.reach_low), maxval=jnp.asarray(c.reach_high))
        physics = PhysicsState(qpos=qpos, qvel=jnp.zeros(m.nv, jnp.float32))
        info = So101GoalInfo(grip_target=jnp.asarray(c.start, jnp.float32), joint_target=self.home,
                             goal=goal.astype(jnp.float32), dr_ranges=ranges, overrides=overrides)
        obs, metrics, _ = self._observe(physics, info.goal)
        zero = jnp.zeros(())
        return State(physics=physics, obs=obs, reward=zero, done=zero, truncation=zero, success=zero,
                     metrics={k: jnp.zeros(()) for k in metrics}, info=info)

    def _object_xy(self, key: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
        """(2,) the first of REJECTION_DRAWS draws at least min_object_distance from the start (else the first)."""
        draws = jax.random.uniform(key, (REJECTION_DRAWS, 2), minval=low, maxval=high)
        ok = jnp.linalg.norm(draws - jnp.asarray(self.config.start[:2]), axis=-1) >= self.config.min_object_distance
        return jnp.where(jnp.any(ok), draws[jnp.argmax(ok)], draws[0])

    # ----- step -----
    def step(self, state: State, action: jax.Array) -> State:
        """action (4,) in [-1, 1]: the grasp point's target moves by action[:3] x action_scale (clipped
        to the workspace) and becomes joint targets through the DLS IK; the jaw's target is its
        angle + action[3] x jaw_scale. `done` stays 0 (Fetch: the time limit ends episodes)."""
        c = self.config
        a = jnp.clip(action, -1.0, 1.0)
        target = jnp.clip(state.info.grip_target + a[:3] * c.action_scale, self.ws_low, self.ws_high)
        arm = self.ik(state.info.joint_target[:5], target)
        jaw_now = state.physics.qpos[self.jaw_q]
        jaw = JAW_CLOSED if self.block_gripper else jnp.clip(jaw_now + a[3] * c.jaw_scale, JAW_CLOSED, c.jaw_open)
        joints = jnp.concatenate([arm, jnp.reshape(jaw, (1,))]).astype(jnp.float32)
        # The targets ramp from the previous ones over the action's physics steps (a servo fed at the
        # physics rate, not a step input that sets the soft arm swinging).
        ramp = jnp.arange(1, c.substeps + 1, dtype=jnp.float32)[:, None] / c.substeps
        ctrl = state.info.joint_target[None] + ramp * (joints - state.info.joint_target)[None]
        physics = self.engine.step(state.physics, ctrl, state.info.overrides)
        obs, metrics, success = self._observe(physics, state.info.goal)
        return state.replace(physics=physics, obs=obs, reward=metrics["reward/goal"], success=success,
                             done=jnp.zeros(()), metrics=metrics,
                             info=state.info.replace(grip_target=target, joint_target=joints))

    # ----- observation -----
    def positions(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """qpos -> grasp point (3,), fingertip opening (2,: the same half-gap twice, Fetch's finger
        pair), cube position (3,) (zeros for Reach). What `bases.fetch_script` reads."""
        grip, _ = self.grasp_pose(qpos[self.arm_q])
        opening = self.opening(qpos[self.jaw_q])
        obj = qpos[self.object_q:self.object_q + 3] if self.has_object else jnp.zeros(3)
        return grip, jnp.stack([opening, opening]), obj

    def object_half_size(self, state: State) -> jax.Array:
        """() this episode's cube half-edge, m."""
        if not self.has_object:
            return jnp.zeros(())
        return state.info.overrides["geom_size"][self.object_geom, 0]

    def _observe(self, physics: PhysicsState, goal: jax.Array) -> tuple[jax.Array, dict[str, jax.Array], jax.Array]:
        """-> flat obs (observation_size,), metrics, success (). Velocities are per step (x dt)."""
        qpos, qvel, dt = physics.qpos, physics.qvel, self.dt
        grip, fingers, obj = self.positions(qpos)
        grip_velp = jax.jvp(lambda q: self.grasp_pose(q)[0], (qpos[self.arm_q],), (qvel[self.arm_v],))[1] * dt
        jaw_vel = jax.jvp(self.opening, (qpos[self.jaw_q],), (qvel[self.jaw_v],))[1] * dt
        finger_vel = jnp.stack([jaw_vel, jaw_vel])
        if self.has_object:
            rot = quat_to_mat(qpos[self.object_q + 3:self.object_q + 7])
            velp = qvel[self.object_v:self.object_v + 3] * dt
            velr = rot @ qvel[self.object_v + 3:self.object_v + 6] * dt
            parts = [grip, obj, obj - grip, fingers, euler_xyz(rot), velp - grip_velp, velr, grip_velp, finger_vel]
            achieved = obj
        else:
            parts = [grip, fingers, grip_velp, finger_vel]
            achieved = grip
        obs = jnp.concatenate(parts + [achieved, goal]).astype(jnp.float32)
        d = self.goal_distance(achieved, goal)
        success = (d < self.config.distance_threshold).astype(jnp.float32)
        metrics = {"reward/goal": self.compute_reward(achieved, goal), "task/success": success,
                   "task/dist_to_goal": d}
        return obs, metrics, success


def make_env(config: So101GoalConfig) -> EpisodeEnv:
    """The time-limited env: success never ends an episode, the time limit does (truncation)."""
    return EpisodeEnv(So101GoalTask(config), config.episode_length, terminate_on_success=False)
