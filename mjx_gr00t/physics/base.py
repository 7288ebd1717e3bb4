"""The physics interface every engine implements.

The env code sees only `PhysicsState` (positions and velocities of one env) and an engine's
`step`, so tasks, rewards and domain randomisation are written once for all engines.

Static structure (the `mujoco.MjModel`, sizes, names) lives in numpy on the engine; what varies per
env (randomised model fields) travels as `ModelOverrides`, a mapping from MjModel field names to
per-env arrays of that field's shape.
"""

from collections.abc import Mapping
from typing import NamedTuple, Protocol

import jax
import mujoco

# MjModel fields that domain randomisation may override per env. Every engine supports all of them.
OVERRIDABLE_FIELDS: tuple[str, ...] = (
    "geom_friction",
    "geom_size",
    "body_mass",
    "body_inertia",
    "actuator_gainprm",
    "actuator_biasprm",
)

ModelOverrides = Mapping[str, jax.Array]
"""Per-env model fields: name -> array with the MjModel field's shape, e.g. geom_friction (ngeom, 3)."""


class PhysicsState(NamedTuple):
    """Physical state of one env.

    qpos: (nq,) generalised positions.  qvel: (nv,) generalised velocities.
    """

    qpos: jax.Array
    qvel: jax.Array


class Engine(Protocol):
    """A physics engine stepping one env; under `jax.vmap` it steps the whole batch."""

    name: str
    mj_model: mujoco.MjModel

    def step(
        self, state: PhysicsState, ctrl: jax.Array, overrides: ModelOverrides
    ) -> PhysicsState:
        """Runs `ctrl.shape[0]` physics steps.

        state: one env's state. ctrl: (nsteps, nu), the control of each physics step.
        overrides: per-env model fields (see `OVERRIDABLE_FIELDS`); may be empty.
        Returns the state after the last step. Warm starts begin at zero on every call, on every
        engine, so a call's result depends on its inputs alone.
        """
        ...


def check_overrides(overrides: ModelOverrides) -> None:
    """Raises ValueError for a field no engine can override."""
    unknown = sorted(set(overrides) - set(OVERRIDABLE_FIELDS))
    if unknown:
        raise ValueError(
            f"cannot override model fields {unknown}; overridable fields are {list(OVERRIDABLE_FIELDS)}"
        )
