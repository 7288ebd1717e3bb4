"""A device-resident circular replay buffer that keeps episode structure, for SAC and HER.

    buf = init(capacity, example_transition, num_envs)      # explicit size, memory-checked
    buf = add(buf, transitions, dones)                      # one env step of all envs: [N, ...]
    batch = sample(buf, key, batch_size)                    # [M, ...], valid rows only

Layout: every leaf of the stored pytree is [S, N, ...], S = capacity // num_envs steps per env and N
envs: one ring per env, all written in lockstep at the same row `insert` (time-major, so one `add`
writes one contiguous row). Each stored step also records its episode id (a per-env counter that
goes up after every step whose `done` is 1) and its step within that episode. Because rows are
written in time order, `future_time` can find, for any stored step, the later steps of the same
episode that are already stored, without crossing an episode boundary or the ring's write head.

All functions are pure and jit-friendly; shapes are static (capacity, num_envs, the example's).
On several devices (`place`), each device holds the rings of its own envs: the env axis N is split
over the mesh, so `add` writes locally; a sampled batch is gathered across devices by XLA.
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh

from mjx_gr00t import distributed

PyTree = Any

_BOOKKEEPING_BYTES_PER_STEP: int = 8
"""episode_id and episode_step, int32 each."""


@struct.dataclass
class Transition:
    """One env step. Leaves are per step (add `[N]` or `[M]` in front for a batch).

    obs: (obs_dim,) raw observation the action was chosen from.
    action: (A,) the action the env was stepped with (for residual SAC: the scaled residual u).
    reward: () float32. done: () float32, 1 when the episode ended at this step.
    truncation: () float32, 1 when it ended by the time limit or a physics failure (bootstrap).
    next_obs: (obs_dim,) the observation after the step; for an ended episode its final
        observation (`State.episode.final_obs`), not the next episode's first one.
    obs_context, next_context: (C,) the base's goal context at obs and at next_obs (the final
        one for an ended episode), stored only when hindsight relabelling recomputes a
        goal-conditioned base (`her.BaseRebase`); else None (no memory).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    done: jax.Array
    truncation: jax.Array
    next_obs: jax.Array
    obs_context: jax.Array | None = None
    next_context: jax.Array | None = None


@struct.dataclass
class ReplayBuffer:
    """The buffer. data: pytree with leaves [S, N, ...]. episode_id, episode_step: [S, N] int32.

    next_episode_id, next_episode_step: [N] int32, the id and step the next added row gets.
    insert: () int32, the row the next `add` writes. size: () int32, rows holding data (<= S).
    """

    data: PyTree
    episode_id: jax.Array
    episode_step: jax.Array
    next_episode_id: jax.Array
    next_episode_step: jax.Array
    insert: jax.Array
    size: jax.Array

    @property
    def max_steps(self) -> int:
        """S: steps kept per env (static)."""
        return self.episode_id.shape[0]

    @property
    def num_envs(self) -> int:
        """N: envs (static)."""
        return self.episode_id.shape[1]


@struct.dataclass
class SampleIndex:
    """Where sampled rows live. time, env: [M] int32 (row and column of the [S, N] ring)."""

    time: jax.Array
    env: jax.Array


def memory_bytes(capacity: int, example: PyTree) -> int:
    """Bytes a buffer of `capacity` transitions like `example` (one unbatched step) occupies."""
    per_step = sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(example))
    return int(capacity) * (per_step + _BOOKKEEPING_BYTES_PER_STEP)


def available_memory_bytes() -> int:
    """Free memory where the buffer will live.

    On an accelerator: its `bytes_limit - bytes_in_use`. On the CPU: `MemAvailable` from
    /proc/meminfo (free pages from `os.sysconf` where that file is missing).
    """
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))


def check_capacity(capacity: int, num_envs: int) -> None:
    """ValueError unless capacity is a positive multiple of num_envs (one ring per env)."""
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    if not isinstance(capacity, int) or capacity < num_envs:
        raise ValueError(f"replay capacity must be an int >= num_envs = {num_envs}, got {capacity!r}")
    if capacity % num_envs != 0:
        lower = capacity // num_envs * num_envs
        raise ValueError(
            f"replay capacity {capacity} is not a multiple of num_envs = {num_envs} (one ring per "
            f"env); use e.g. {lower} or {lower + num_envs}"
        )


def check_memory(capacity: int, example: PyTree, available_bytes: int | None = None) -> int:
    """The buffer's size in bytes; ValueError when that exceeds `available_bytes`.

    available_bytes: None reads `available_memory_bytes()` (device memory on an accelerator).
    """
    need = memory_bytes(capacity, example)
    have = available_memory_bytes() if available_bytes is None else int(available_bytes)
    if need > have:
        per_step = memory_bytes(1, example)
        raise ValueError(
            f"a replay buffer of {capacity:,} transitions needs {need:,} bytes "
            f"({need / 2**30:.2f} GiB, {per_step} bytes each) but only {have:,} bytes "
            f"({have / 2**30:.2f} GiB) are available; use a capacity of at most {have // per_step:,}"
        )
    return need


def init(
    capacity: int, example: PyTree, num_envs: int, available_bytes: int | None = None
) -> ReplayBuffer:
    """An empty buffer for `capacity` transitions shaped like `example` (one unbatched step).

    capacity: total transitions over all envs, a multiple of num_envs; each env keeps the last
    capacity // num_envs steps. Raises ValueError for a bad capacity or when the buffer would not
    fit in `available_bytes` (see `check_memory`). Works under jit (the checks use shapes only).
    """
    check_capacity(capacity, num_envs)
    check_memory(capacity, example, available_bytes)
    return allocate(capacity, example, num_envs)


def allocate(capacity: int, example: PyTree, num_envs: int) -> ReplayBuffer:
    """`init` without the memory check (for callers that checked already, outside jit)."""
    check_capacity(capacity, num_envs)
    steps = capacity // num_envs
    data = jax.tree.map(lambda x: jnp.zeros((steps, num_envs) + x.shape, x.dtype), example)
    zeros_sn = jnp.zeros((steps, num_envs), jnp.int32)
    zeros_n = jnp.zeros((num_envs,), jnp.int32)
    zero = jnp.zeros((), jnp.int32)
    return ReplayBuffer(
        data=data, episode_id=zeros_sn, episode_step=zeros_sn, next_episode_id=zeros_n,
        next_episode_step=zeros_n, insert=zero, size=zero,
    )


def place(buffer: ReplayBuffer, mesh: Mesh | None) -> ReplayBuffer:
    """Inside jit: the env axis split over the mesh (data, episode ids/steps: [S, N]; next ids and
    steps: [N]), `insert` and `size` replicated. No-op without a mesh."""
    if mesh is None:
        return buffer
    return buffer.replace(
        data=distributed.shard_axis(buffer.data, mesh, axis=1),
        episode_id=distributed.shard_axis(buffer.episode_id, mesh, axis=1),
        episode_step=distributed.shard_axis(buffer.episode_step, mesh, axis=1),
        next_episode_id=distributed.shard_axis(buffer.next_episode_id, mesh),
        next_episode_step=distributed.shard_axis(buffer.next_episode_step, mesh),
        insert=distributed.replicate(buffer.insert, mesh),
        size=distributed.replicate(buffer.size, mesh),
    )


def add(buffer: ReplayBuffer, batch: PyTree, dones: jax.Array | None = None) -> ReplayBuffer:
    """Writes one step of all envs at row `insert`, overwriting the oldest row when full.

    batch: leaves [N, ...] matching the buffer. dones: [N], 1 where the episode ended at this
    step, so the env's next row starts a new episode; None: no episode ends.
    """
    n = buffer.num_envs
    for leaf in jax.tree.leaves(batch):
        if leaf.shape[:1] != (n,):
            raise ValueError(f"add expects leaves [num_envs={n}, ...], got shape {leaf.shape}")
    row = buffer.insert
    data = jax.tree.map(
        lambda store, x: jax.lax.dynamic_update_index_in_dim(store, x.astype(store.dtype), row, 0),
        buffer.data, batch,
    )
    episode_id = buffer.episode_id.at[row].set(buffer.next_episode_id)
    episode_step = buffer.episode_step.at[row].set(buffer.next_episode_step)
    ended = jnp.zeros((n,), bool) if dones is None else jnp.asarray(dones) > 0.5
    return buffer.replace(
        data=data,
        episode_id=episode_id,
        episode_step=episode_step,
        next_episode_id=buffer.next_episode_id + ended.astype(jnp.int32),
        next_episode_step=jnp.where(ended, 0, buffer.next_episode_step + 1),
        insert=(row + 1) % buffer.max_steps,
        size=jnp.minimum(buffer.size + 1, buffer.max_steps),
    )


def num_transitions(buffer: ReplayBuffer) -> jax.Array:
    """() int32, transitions held over all envs."""
    return buffer.size * buffer.num_envs


def sample_indices(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> SampleIndex:
    """`batch_size` uniform draws (with replacement) over the rows holding data. Needs size >= 1."""
    k_time, k_env = jax.random.split(key)
    time = jax.random.randint(k_time, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    env = jax.random.randint(k_env, (batch_size,), 0, buffer.num_envs)
    return SampleIndex(time=time.astype(jnp.int32), env=env.astype(jnp.int32))


def gather(buffer: ReplayBuffer, index: SampleIndex) -> PyTree:
    """The stored steps at `index`: leaves [M, ...]."""
    return jax.tree.map(lambda x: x[index.time, index.env], buffer.data)


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> PyTree:
    """`batch_size` uniformly drawn stored steps, leaves [M, ...]. Needs size >= 1."""
    return gather(buffer, sample_indices(buffer, key, batch_size))


def episode_tail_length(buffer: ReplayBuffer, index: SampleIndex) -> jax.Array:
    """[M] int32 L: rows time+1 .. time+L (mod S) of that env are later steps of the same episode.

    Only rows written after `index` count (never past the newest row, the one before `insert`).
    Episode ids grow along the ring from any row to the newest, so the rows of the same episode
    form a prefix, found by a binary search of ceil(log2(S + 1)) gathers.
    """
    s = buffer.max_steps
    own = buffer.episode_id[index.time, index.env]
    lo = jnp.zeros_like(index.time)
    hi = (buffer.insert - 1 - index.time) % s  # rows written after `time`
    for _ in range(int(s).bit_length()):
        mid = (lo + hi + 1) // 2
        same = buffer.episode_id[(index.time + mid) % s, index.env] == own
        lo = jnp.where(same, mid, lo)
        hi = jnp.where(same, hi, mid - 1)
    return lo


def future_time(buffer: ReplayBuffer, key: jax.Array, index: SampleIndex) -> jax.Array:
    """[M] int32 rows of a uniformly drawn step t' >= t of the same episode (t itself included)."""
    tail = episode_tail_length(buffer, index)
    offset = jnp.floor(jax.random.uniform(key, tail.shape) * (tail + 1).astype(jnp.float32))
    offset = jnp.minimum(offset.astype(jnp.int32), tail)
    return (index.time + offset) % buffer.max_steps
