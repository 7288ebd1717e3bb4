"""A base read from an action-chunk buffer that lives in the env state (GR00T's open-loop chunks).

A *chunk planner* (host code outside JAX, e.g. `bridge.groot.planner.GrootChunkPlanner` around GR00T
N1.5) returns H (16) absolute joint targets per env. The base executes `n_action_steps` (8) of
them, one per policy step, then plans again; an env that was just reset plans at once.

The chunk, the position in it and the planner's noise key are a per-env `ChunkCarry` in the env
state, so vmapped envs stay pure and a checkpoint resumes exactly. Planning is one
`jax.pure_callback` with `vmap_method="broadcast_all"`: under `vmap` ONE host call receives the
whole batch with a per-env `need` flag, plans only the flagged rows (batched) and returns the old
chunk for the others; with no row flagged it does nothing. (Under vmap a batched `lax.cond`
becomes a select that runs both branches, so the skipping happens on the host.)

Units (the paper task): a chunk element is an absolute joint target in rad; the task's action is
a normalised joint-target delta. The base action is therefore
    clip((chunk[index] - ctrl_target) / act_scale, -1, 1)
where `ctrl_target` (`PaperInfo.ctrl_target`) is the env's current joint target, so with no
residual and no clipping the arm's target lands exactly on the chunk element. GR00T plans at
30 Hz like the task; a target further than `act_scale` (0.02 rad) away is reached over several
steps, as the clip limits each step.
"""

import math
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mjx_gr00t.envs.base import State
from mjx_gr00t.envs.paper_card import PaperCardTask
from mjx_gr00t.envs.paper_rig import PaperRigTask
from mjx_gr00t.envs.paper_rig_config import ARM_JOINTS
from mjx_gr00t.host_callback import one_at_a_time
from mjx_gr00t.perception import image_dr


@struct.dataclass
class ChunkCarry:
    """One env's chunk buffer.

    chunk: (H, J) float32 absolute joint targets, rad. index: () int32, the element the next step
    executes; `>= n_action_steps` means plan first. key: (2,) uint32 raw PRNG key of the next plan.
    seed: () uint32, the noise seed this env gave the plan that made `chunk`.
    """

    chunk: jax.Array
    index: jax.Array
    key: jax.Array
    seed: jax.Array


class ChunkPlanner(Protocol):
    """Host code that plans chunks for a batch of envs (numpy in, numpy out)."""

    horizon: int
    """H: steps per chunk (16 for GR00T N1.5)."""
    n_action_steps: int
    """Steps of each chunk executed before the next plan (1..H)."""

    def __call__(self, qpos: np.ndarray, joint_pos: np.ndarray, need: np.ndarray, chunks: np.ndarray,
                 seeds: np.ndarray, image_dr: np.ndarray) -> np.ndarray:
        """qpos (B, nq), joint_pos (B, J) rad, need (B,) bool, chunks (B, H, J) the current ones,
        seeds (B,) uint32, image_dr (B, 8) each env's camera and light draw (`perception.image_dr`;
        nominal where the task draws none) -> (B, H, J) float32: new chunks for the `need` rows, the
        others unchanged."""
        ...


class ChunkedJointBase:
    """A chunk planner as the paper task's base: `(state, carry) -> (action (6,), carry)`.

    Call it on one env (vmap for a batch). See the module docstring for units and planning.
    """

    name = "groot"

    def __init__(self, task: PaperRigTask | PaperCardTask, planner: ChunkPlanner) -> None:
        if not isinstance(task, (PaperRigTask, PaperCardTask)):
            raise ValueError(
                f"--base groot drives the SO-101 arm's joint targets (scenes paper_square, paper_card); scene task "
                f"{type(task).__name__} has a different action space that GR00T cannot drive "
                "(use --base script or --base zero there)")
        if not 1 <= planner.n_action_steps <= planner.horizon:
            raise ValueError(
                f"n_action_steps must be in 1..{planner.horizon}, got {planner.n_action_steps}")
        self.task = task
        self.planner = planner
        self.horizon = int(planner.horizon)
        self.n_action_steps = int(planner.n_action_steps)
        self.joints = len(ARM_JOINTS)
        self.host_calls = 0
        self._host_plan = one_at_a_time(self._host_plan)  # one planner: shards' calls take turns
        """Host callbacks so far (one per step of a vmapped batch, planning or not)."""

    # ----- the carry -----
    def init_carry(self, state: State, key: jax.Array) -> ChunkCarry:
        """A fresh episode's carry: hold the current targets, and plan at the first call."""
        hold = jnp.broadcast_to(state.info.ctrl_target, (self.horizon, self.joints))
        return ChunkCarry(chunk=hold.astype(jnp.float32), index=jnp.asarray(self.n_action_steps, jnp.int32),
                          key=key, seed=jnp.zeros((), jnp.uint32))

    def advance(self, carry: ChunkCarry) -> ChunkCarry:
        """The carry after one executed step."""
        return carry.replace(index=jnp.minimum(carry.index + 1, self.horizon).astype(jnp.int32))

    # ----- actions -----
    def to_action(self, state: State, target: jax.Array) -> jax.Array:
        """Absolute joint target (J,) rad -> normalised joint delta (J,) in [-1, 1] at `state`."""
        delta = (target - state.info.ctrl_target) / self.task.spec.action_scale
        return jnp.clip(delta, -1.0, 1.0).astype(jnp.float32)

    def estimate(self, state: State, carry: ChunkCarry) -> jax.Array:
        """The base action without planning: the chunk's element at `index` (the last one past its
        end). Used for the final observation of an ended episode, whose next plan never happens."""
        return self.to_action(state, carry.chunk[jnp.minimum(carry.index, self.horizon - 1)])

    def plan(self, state: State, carry: ChunkCarry) -> ChunkCarry:
        """A new chunk where `index >= n_action_steps` (one host call for the whole batch)."""
        need = carry.index >= self.n_action_steps
        k_next, k_seed = jax.random.split(carry.key)
        seed = jnp.where(need, jax.random.bits(k_seed, (), jnp.uint32), carry.seed)
        qpos = state.physics.qpos
        draw = getattr(state.info, "image_dr", None)
        draw = jnp.asarray(image_dr.NOMINAL) if draw is None else draw
        chunk = jax.pure_callback(
            self._host_plan, jax.ShapeDtypeStruct(carry.chunk.shape, jnp.float32),
            qpos, qpos[:self.joints], need, carry.chunk, seed, draw, vmap_method="broadcast_all",
        )
        return ChunkCarry(chunk=chunk, index=jnp.where(need, 0, carry.index).astype(jnp.int32),
                          key=jnp.where(need, k_next, carry.key), seed=seed)

    def __call__(self, state: State, carry: ChunkCarry) -> tuple[jax.Array, ChunkCarry]:
        """One env's state and carry -> (base action (J,) in [-1, 1], carry after any plan)."""
        carry = self.plan(state, carry)
        return self.to_action(state, carry.chunk[carry.index]), carry

    def _host_plan(self, qpos: np.ndarray, joint_pos: np.ndarray, need: np.ndarray, chunks: np.ndarray,
                   seeds: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """The callback: any leading batch dims, flattened for the planner."""
        self.host_calls += 1
        lead = need.shape
        n = math.prod(lead)
        need = np.asarray(need, bool).reshape(n)
        chunks = np.asarray(chunks, np.float32).reshape(n, self.horizon, self.joints)
        if not need.any():
            return chunks.reshape(*lead, self.horizon, self.joints)
        out = self.planner(np.asarray(qpos).reshape(n, -1), np.asarray(joint_pos, np.float32).reshape(n, -1),
                           need, chunks, np.asarray(seeds, np.uint32).reshape(n),
                           np.asarray(draws, np.float32).reshape(n, image_dr.DRAW_SIZE))
        out = np.asarray(out, np.float32)
        if out.shape != chunks.shape:
            raise ValueError(f"the chunk planner returned shape {out.shape}, expected {chunks.shape}")
        return out.reshape(*lead, self.horizon, self.joints)
