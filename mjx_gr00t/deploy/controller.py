"""The deployed controller of `train.deploy`: an export's residual next to its base, fed with robot
readings exactly as the twin's `robot` observations were built in training.

    residual = bridge.deploy_side.load_residual(export_dir)      # the torch residual (ResidualPolicy)
    policy = DeployPolicy.for_export(residual, task)              # task: the twin (geometry, FK, base)
    target, parts = policy(seen, previous, estimate, command)    # all rad / m; -> (6,) joint target, rad

The residual is any callable obs (37,) float32 -> r (6,) in [-1, 1] with `meta` (residual.json),
`alpha` and `act_scale`: torch's `bridge.residual_torch.ResidualPolicy` in `train.deploy`, handed in
so that this library never imports torch.

Per tick: the actor's inputs (`PaperRigTask.actor_observation`: joints, finite-difference
velocities, forward-kinematics tool pose, the paper-pose estimate), the base action (the IK drag base
reads only those, or zero), the residual on [actor inputs, base action] as the export's layout
records it, total = clip(base + alpha * r, -1, 1), and the running joint target
clip(command + total * act_scale) within the joint ranges, as the twin's step keeps it.

`base_delay_ticks` > 0 hands the residual and the target the base action computed that many ticks
earlier (a base whose answer arrives late, as an asynchronous planner's does).
"""

import collections
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mjx_gr00t.bases.rig_drag import RigDragBase, RigDragConfig
from mjx_gr00t.envs.paper_rig import ACTOR_SIZE, ROBOT_CRITIC_ONLY, ROBOT_LAYOUT, PaperRigTask
from mjx_gr00t.envs.paper_rig_config import ARM_JOINTS

BASES: tuple[str, ...] = ("ik", "zero", "groot")
"""Bases the deploy loop runs: the IK drag base and zero in process; GR00T N1.5 through
`bridge.groot.async_chunks` (in process or over ZMQ)."""


class ExportMismatch(ValueError):
    """The export cannot drive this robot: another scene, observation mode, layout or joints."""


@struct.dataclass
class _Commands:
    ctrl_target: jax.Array


@struct.dataclass
class _View:
    """What the scripted base reads of a state: the observation and the running command."""

    obs: jax.Array
    info: _Commands


def check_export(meta: dict[str, Any], task: PaperRigTask) -> None:
    """ExportMismatch (one line saying what differs) unless `meta` (residual.json) is a paper-task
    residual on `robot` observations with the twin's actor layout, joints and a base we run."""
    layout = [(name, size) for name, size in ROBOT_LAYOUT if name not in ROBOT_CRITIC_ONLY]
    want = [list(e) for e in (*layout, ("base_action", 6))]
    got = [[e.get("name"), e.get("size")] for e in meta.get("observation_layout", [])]
    if meta.get("scene") != "paper_square":
        raise ExportMismatch(f"the export is for scene {meta.get('scene')!r}; train.deploy drives the paper rig "
                             f"(paper_square)")
    if meta.get("obs_mode") != "robot":
        raise ExportMismatch(f"the export reads {meta.get('obs_mode') or 'privileged'!r} observations, which a real "
                             f"SO-101 cannot give; train it with the default obs_mode=robot")
    if got != want:
        raise ExportMismatch(f"the export's input layout {got} is not the robot layout this deploy builds {want}")
    if tuple(meta.get("joint_names", ())) != ARM_JOINTS:
        raise ExportMismatch(f"the export's joints {meta.get('joint_names')} are not the SO-101's {list(ARM_JOINTS)}")
    ranges = np.asarray([j.get("range_rad") for j in meta.get("units", {}).get("joints", [])], np.float64)
    if ranges.shape != (6, 2) or not np.allclose(ranges, task.mj_model.jnt_range[:6], atol=1e-4):
        raise ExportMismatch(f"the export's joint ranges {ranges.tolist()} differ from the twin's "
                             f"{task.mj_model.jnt_range[:6].tolist()}: exported from another arm model")
    if meta.get("base") not in BASES:
        raise ExportMismatch(f"the export's base is {meta.get('base')!r}; train.deploy runs bases {list(BASES)}")


class DeployPolicy:
    """Base + residual from robot readings; see the module docstring."""

    def __init__(self, residual: Any, task: PaperRigTask, base: str, base_delay_ticks: int = 0,
                 base_config: RigDragConfig = RigDragConfig(), chunks: Any = None) -> None:
        """chunks: with base 'groot', a `bridge.groot.async_chunks.AsyncChunks` of the GR00T base."""
        if base_delay_ticks < 0:
            raise ValueError(f"base_delay_ticks must be >= 0, got {base_delay_ticks}")
        if abs(residual.act_scale - task.config.act_scale) > 1e-9:
            raise ExportMismatch(f"the export's act_scale {residual.act_scale} differs from the twin's "
                                 f"{task.config.act_scale}")
        if (base == "groot") != (chunks is not None):
            raise ValueError("a GR00T base needs its AsyncChunks, and only a GR00T base takes them")
        self.residual, self.task, self.base_name, self.chunks = residual, task, base, chunks
        self.base_delay_ticks = base_delay_ticks
        self._late: collections.deque[np.ndarray] = collections.deque(maxlen=base_delay_ticks + 1)
        critic = jnp.zeros(task.observation_size - ACTOR_SIZE, jnp.float32)  # the base never reads these
        drag = RigDragBase(task, base_config) if base == "ik" else None
        self.base_config = base_config
        low, high = task.ctrl_low, task.ctrl_high

        def features(seen: jax.Array, previous: jax.Array, est: jax.Array, command: jax.Array):
            actor = task.actor_observation(seen, previous, est)
            if drag is None:
                base_action = jnp.zeros(6, jnp.float32)
            else:
                base_action = jnp.clip(drag(_View(obs=jnp.concatenate([actor, critic]),
                                                  info=_Commands(ctrl_target=command))), -1.0, 1.0)
            return actor, base_action

        def target(command: jax.Array, total: jax.Array) -> jax.Array:
            return jnp.clip(command + total * task.config.act_scale, low, high)

        self._act_scale = task.config.act_scale
        self._features = jax.jit(features)
        self._target = jax.jit(target)
        home = jnp.asarray(task.config.home_qpos, jnp.float32)  # compile now, not on the first tick
        self._features(home, home, jnp.array([*task.config.paper_start, 0.0], jnp.float32), home)
        self._target(home, jnp.zeros(6, jnp.float32))
        self.residual(np.zeros(int(residual.meta["obs_dim"]), np.float32))

    @classmethod
    def for_export(cls, residual: Any, task: PaperRigTask, base_delay_ticks: int = 0, chunks: Any = None) -> "DeployPolicy":
        """The controller of a loaded export (`residual`, see the module docstring), checked against
        the twin (ExportMismatch: one line). chunks: the GR00T base's `AsyncChunks` for an export on
        base 'groot'."""
        check_export(residual.meta, task)
        if residual.meta["base"] == "groot":
            if chunks is None:
                raise ExportMismatch("the export's base is GR00T: load it and pass its AsyncChunks")
            return cls(residual, task, "groot", base_delay_ticks, chunks=chunks)
        recorded = residual.meta.get("base_config") or {}  # exports before it was recorded: the defaults
        try:
            config = RigDragConfig(**recorded)
        except TypeError as e:
            raise ExportMismatch(f"the export's base_config {recorded} does not fit RigDragConfig ({e})") from e
        return cls(residual, task, residual.meta["base"], base_delay_ticks, config)

    def reset(self) -> None:
        """Forgets late base actions and GR00T's chunk (call at each episode's start)."""
        self._late.clear()
        if self.chunks is not None:
            self.chunks.start_episode()

    def __call__(self, seen: np.ndarray, previous: np.ndarray, est: np.ndarray, command: np.ndarray,
                 observation: dict[str, Any] | None = None) -> tuple[np.ndarray | None, dict[str, Any]]:
        """seen, previous (6,) joint readings now and a tick ago, rad; est (3,) sheet x, y (m) and
        yaw (rad); command (6,) the running joint target, rad; observation: the robot's (camera
        frames, for GR00T) -> (target (6,) rad, parts: obs (37,), base (6,), residual (6,), total
        (6,)); target None (hold) with parts {"fault": ...} when the GR00T base has no usable chunk."""
        f32 = lambda x: jnp.asarray(np.asarray(x, np.float32))  # noqa: E731
        actor, base = self._features(f32(seen), f32(previous), f32(est), f32(command))
        if self.chunks is not None:
            chunk_target = self.chunks.tick({**(observation or {}), "joints": np.asarray(seen, np.float64)})
            if chunk_target is None:
                return None, {"fault": self.chunks.last_fault}
            base = np.clip((chunk_target - np.asarray(command)) / self._act_scale, -1.0, 1.0).astype(np.float32)
        self._late.append(np.asarray(base))
        base = self._late[0] if len(self._late) > self.base_delay_ticks else np.zeros(6, np.float32)
        obs = np.concatenate([np.asarray(actor), base]).astype(np.float32)
        r = np.asarray(self.residual(obs), np.float32)
        total = np.clip(base + self.residual.alpha * r, -1.0, 1.0).astype(np.float32)
        target = np.asarray(self._target(f32(command), jnp.asarray(total)), np.float64)
        return target, {"obs": obs, "base": base, "residual": r, "total": total}
