"""Physics, observation and reward of the Fetch-like tasks: `FetchTask` (one env) and `make_env`
(its time-limited env). See the package docstring (`mjx_gr00t.envs.fetch`) for the semantics."""

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from mjx_gr00t import randomize
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.envs.fetch.config import FetchConfig, FetchDRRanges
from mjx_gr00t.envs.spec import EnvSpec, GoalSpec
from mjx_gr00t.kinematics import quat_to_mat
from mjx_gr00t.physics import PhysicsState, make_engine, resolve_engine_name

OBJECT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("grip_pos", 3), ("object_pos", 3), ("object_rel_pos", 3), ("gripper_state", 2), ("object_rot", 3),
    ("object_velp", 3), ("object_velr", 3), ("grip_velp", 3), ("gripper_vel", 2),
)
REACH_LAYOUT: tuple[tuple[str, int], ...] = (
    ("grip_pos", 3), ("gripper_state", 2), ("grip_velp", 3), ("gripper_vel", 2),
)
GOAL_LAYOUT: tuple[tuple[str, int], ...] = (("achieved_goal", 3), ("desired_goal", 3))
ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "gripper")
FINGER_CTRL_MAX = 0.2  # m, the finger servos' ctrlrange 0..0.2
REJECTION_DRAWS = 16  # object-position draws before the fallback (each fails with p ~ 0.35)


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
    """Physics, observation and reward of one Fetch-like task, for one env (see the package docstring)."""

    action_size = 4

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
        self.observation_size = n + 6
        self.spec = EnvSpec(
            obs_layout=layout + GOAL_LAYOUT, action_names=ACTION_NAMES, action_ranges=((-1.0, 1.0),) * 4,
            action_scale=c.action_scale, policy_dt=self.dt,
            goal=GoalSpec(achieved=(n, n + 3), desired=(n + 3, n + 6), compute_reward=self.compute_reward),
        )
        self.default_ranges = FetchDRRanges.from_config(c.dr)

    # ----- goals and reward (vectorised over leading dims) -----
    def split_obs(self, obs: jax.Array) -> dict[str, jax.Array]:
        """(..., observation_size) -> the Fetch dict: observation (..., n), achieved_goal (..., 3),
        desired_goal (..., 3)."""
        achieved, desired = self.spec.obs_slice("achieved_goal"), self.spec.obs_slice("desired_goal")
        return {"observation": obs[..., :achieved.start], "achieved_goal": obs[..., achieved],
                "desired_goal": obs[..., desired]}

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
