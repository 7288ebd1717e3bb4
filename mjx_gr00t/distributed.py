"""Training on several devices and several hosts: the env mesh, its layouts, `jax.distributed`.

Several devices on one machine need nothing from the user. `ppo.init`/`ppo.make_train_step` and
`sac.init`/`sac.make_train_step` take `mesh=None`, meaning `env_mesh()`: one mesh axis, 'envs', over
all of `jax.devices()`. The env batch axis of the env state (and the env axis of SAC's replay
buffer) is split over it; networks, optimiser states, the normaliser, keys and counters are
replicated. Each iteration stays one jitted call: the code is written for the whole batch, the
layout is given by sharding constraints, and XLA partitions the program, adding the all-reduces
(normaliser sums, loss means, hence gradients averaged over devices). num_envs must be a
multiple of the device count. With one device nothing is constrained and the programs are the
single-device ones, bit for bit.

Several hosts (one process per host, each seeing its local devices; the mesh then spans all
hosts' devices): every process runs the same command with the same flags and calls `initialize()`
before anything else touches JAX, e.g. on two GPU hosts, with host 0 reachable at 10.0.0.1:

    # host 0                                              # host 1
    JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 \\               JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 \\
    JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \\                 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=1 \\
    python -m train.residual_ppo --num-envs 16384           python -m train.residual_ppo --num-envs 16384

(or pass the three values to `initialize` directly). Under SLURM or Open MPI, setting
JAX_COORDINATOR_ADDRESS alone is enough: JAX reads the process count and id from the launcher.
--num-envs is the total over all hosts. Only process 0 should write logs and run files
(`is_main_process`); orbax checkpoints are written by all processes together. Each host needs
the same code and the same run directory path (a shared file system for checkpoints).
The `c` physics engine steps the whole batch in one host callback on the first device, so across
hosts use `mjx` (or `warp`).

To try several devices on a CPU-only machine, emulate them before JAX is imported:
`XLA_FLAGS=--xla_force_host_platform_device_count=2` (tests/test_multidevice.py does).
"""

import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

ENV_AXIS: str = "envs"
"""Name of the mesh axis the envs are split over."""

ENV_VARS: tuple[str, str, str] = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
"""Environment variables `initialize` reads for arguments left as None."""

PyTree = Any


def initialize(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> bool:
    """Joins a several-host run via `jax.distributed.initialize`; True if it did, False if no-op.

    It is called only when an argument is given or JAX_COORDINATOR_ADDRESS is set (arguments left
    as None come from `ENV_VARS`, then from JAX's SLURM/Open MPI detection); otherwise, and when
    already initialised, nothing happens. Must run before any JAX computation. ValueError (saying
    what to fix) for inconsistent values, or when JAX has already started on its own.
    """
    if jax.distributed.is_initialized():
        return False
    address = coordinator_address or os.environ.get(ENV_VARS[0]) or None
    count = num_processes if num_processes is not None else _env_int(ENV_VARS[1])
    index = process_id if process_id is not None else _env_int(ENV_VARS[2])
    if address is None and count is None and index is None:
        return False
    if address is None:
        raise ValueError(
            "a several-host run needs the coordinator's host:port (process 0's address), e.g. "
            f"--coordinator-address 10.0.0.1:1234 or {ENV_VARS[0]}=10.0.0.1:1234")
    if count is not None and count < 1:
        raise ValueError(f"the number of processes must be >= 1, got {count}")
    if index is not None and (index < 0 or (count is not None and index >= count)):
        raise ValueError(f"the process id must be in [0, number of processes = {count}), got {index}")
    try:
        jax.distributed.initialize(coordinator_address=address, num_processes=count, process_id=index)
    except RuntimeError as err:
        raise ValueError(f"jax.distributed.initialize failed: {err} (call initialize() before "
                         "anything else uses JAX)") from err
    return True


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError as err:
        raise ValueError(f"{name} must be an integer, got {value!r}") from err


def is_main_process() -> bool:
    """True on process 0: the one that writes logs, run files and exports in a several-host run."""
    return jax.process_index() == 0


def env_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh ('envs') over `devices` (None: all of `jax.devices()`, every host's)."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("env_mesh needs at least one device")
    return Mesh(np.asarray(devices), (ENV_AXIS,))


def resolve_mesh(mesh: Mesh | None) -> Mesh | None:
    """The mesh a trainer shards over: `mesh` or `env_mesh()`; None when it has only one device.

    None means "do not shard": the trainers then build exactly their single-device programs.
    """
    mesh = env_mesh() if mesh is None else mesh
    if ENV_AXIS not in mesh.axis_names:
        raise ValueError(f"the mesh needs an axis named {ENV_AXIS!r}, got axes {mesh.axis_names}")
    return None if mesh.size == 1 else mesh


def num_shards(mesh: Mesh | None) -> int:
    """How many pieces the env axis is split into (1 without a mesh)."""
    return 1 if mesh is None else int(mesh.shape[ENV_AXIS])


def check_divisible(num_envs: int, mesh: Mesh | None, name: str = "num_envs") -> None:
    """ValueError unless `num_envs` splits evenly over the mesh's devices."""
    shards = num_shards(mesh)
    if num_envs % shards != 0:
        lower = max(shards, num_envs // shards * shards)
        raise ValueError(
            f"{name} = {num_envs} must be a multiple of the {shards} devices the envs are split "
            f"over (jax.devices()); use e.g. {lower} or {lower + shards}")


def shard_axis(tree: PyTree, mesh: Mesh | None, axis: int = 0) -> PyTree:
    """`tree` constrained (inside jit) to have each leaf's `axis` split over the 'envs' axis."""
    if mesh is None:
        return tree
    spec = PartitionSpec(*([None] * axis), ENV_AXIS)
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, spec))


def replicate(tree: PyTree, mesh: Mesh | None) -> PyTree:
    """`tree` constrained (inside jit) to a full copy on every device of the mesh."""
    if mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, PartitionSpec()))


def shard_if_divisible(tree: PyTree, mesh: Mesh | None, axis: int = 0) -> PyTree:
    """`shard_axis` when every leaf's `axis` divides evenly over the mesh; else `tree` unchanged
    (XLA then picks the layout). For batches of samples whose size need not be a device multiple."""
    shards = num_shards(mesh)
    if shards == 1 or any(leaf.shape[axis] % shards for leaf in jax.tree.leaves(tree)):
        return tree
    return shard_axis(tree, mesh, axis)
