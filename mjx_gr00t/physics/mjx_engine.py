"""MJX engines: MuJoCo's JAX implementation (`mjx`) and its Warp implementation (`warp`).

`warp` runs MuJoCo Warp kernels (vendored in mujoco-mjx, compiled by `warp-lang`) through XLA's FFI:
on an NVIDIA GPU, or on the CPU, where Warp compiles its kernels for its `cpu` device. Warp keeps
one contact buffer for all the envs of a batch, so the buffer is sized when the batch size is
known: `WarpEngine.step` defines its own vmap rule, which flattens any nesting of vmaps into one
batch of worlds and allocates `nconmax` contacts for each.
"""

import importlib.util
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from mjx_gr00t.physics.base import ModelOverrides, PhysicsState, check_overrides

Values = tuple[jax.Array, ...]
"""Override values in the order of their sorted field names."""
Stepper = Callable[[jax.Array, jax.Array, jax.Array, Values], tuple[jax.Array, jax.Array]]
"""One env's (qpos, qvel, ctrl, values) -> (qpos, qvel)."""


def _scan_steps(
    model: mjx.Model, data0: mjx.Data, qpos: jax.Array, qvel: jax.Array, ctrl: jax.Array,
    overrides: ModelOverrides,
) -> tuple[jax.Array, jax.Array]:
    """One env from `data0` (zero warm start): qpos (nq,), qvel (nv,), ctrl (nsteps, nu)."""
    model = model.replace(**overrides) if overrides else model
    data = data0.replace(qpos=qpos, qvel=qvel)

    def one_step(d: mjx.Data, u: jax.Array) -> tuple[mjx.Data, None]:
        return mjx.step(model, d.replace(ctrl=u)), None

    data, _ = jax.lax.scan(one_step, data, ctrl)
    return data.qpos, data.qvel


class MjxEngine:
    """Steps one env with `mjx.step`; vmap it for a batch. Per-env overrides replace model fields."""

    name = "mjx"

    def __init__(self, mj_model: mujoco.MjModel) -> None:
        self.mj_model = mj_model
        self.model = mjx.put_model(mj_model, impl="jax")
        self._data0 = mjx.make_data(self.model, impl="jax")

    def step(
        self, state: PhysicsState, ctrl: jax.Array, overrides: ModelOverrides
    ) -> PhysicsState:
        """state: one env; ctrl: (nsteps, nu). See `Engine.step`."""
        check_overrides(overrides)
        return PhysicsState(*_scan_steps(self.model, self._data0, state.qpos, state.qvel, ctrl, overrides))


class WarpEngine:
    """MJX's MuJoCo Warp implementation (`warp-lang`): on an NVIDIA GPU, or Warp's CPU device.

    Per env, like the other engines; under vmap (nested or not) one Warp call steps every env.
    Per-env overrides of every `OVERRIDABLE_FIELDS` entry become per-world Warp model fields.
    """

    name = "warp"

    def __init__(self, mj_model: mujoco.MjModel) -> None:
        if importlib.util.find_spec("warp") is None:
            raise RuntimeError(
                "engine 'warp' needs NVIDIA Warp, which is not installed: run "
                "`pip install warp-lang==1.19.0` (CPU or NVIDIA GPU), or pick --engine mjx or c"
            )
        self.mj_model = mj_model
        try:
            self.model = _quiet_solver_limits(mjx.put_model(mj_model, impl="warp"))
            one = mjx.make_data(mj_model, impl="warp")
        except Exception as err:  # Warp fails in many ways on unsupported hosts; say which.
            raise RuntimeError(
                f"engine 'warp' could not start on this machine ({type(err).__name__}: {err}); "
                "pick --engine mjx or c"
            ) from err
        self.nconmax = int(one._impl.naconmax)  # contacts per world (MuJoCo Warp's default guess)
        self._datas: dict[int, mjx.Data] = {1: one}
        self._steppers: dict[tuple[str, ...], Stepper] = {}

    def step(
        self, state: PhysicsState, ctrl: jax.Array, overrides: ModelOverrides
    ) -> PhysicsState:
        """state: one env; ctrl: (nsteps, nu). See `Engine.step`."""
        check_overrides(overrides)
        names = tuple(sorted(overrides))
        values = tuple(jnp.asarray(overrides[n], jnp.float32) for n in names)
        if names not in self._steppers:
            self._steppers[names] = _make_stepper(self, names)
        qpos, qvel = self._steppers[names](state.qpos, state.qvel, jnp.asarray(ctrl), values)
        return PhysicsState(qpos, qvel)

    def data_for(self, nworld: int) -> mjx.Data:
        """Warp data of one env whose contact buffer holds `nconmax` contacts for each of `nworld`."""
        if nworld not in self._datas:
            with jax.ensure_compile_time_eval():  # concrete arrays, also when called while tracing
                self._datas[nworld] = mjx.make_data(self.mj_model, impl="warp", naconmax=self.nconmax * nworld)
        return self._datas[nworld]


def _make_stepper(engine: WarpEngine, names: tuple[str, ...]) -> Stepper:
    """Per-env step with the override fields `names`: (qpos (nq,), qvel (nv,), ctrl (nsteps, nu),
    values) -> (qpos, qvel). Any vmap of it becomes one call of `batch`."""

    @jax.custom_batching.custom_vmap
    def batch(qpos: jax.Array, qvel: jax.Array, ctrl: jax.Array, values: Values) -> tuple[jax.Array, jax.Array]:
        """nworld envs in one Warp call: qpos (nworld, nq), ctrl (nworld, nsteps, nu), ..."""
        data0 = engine.data_for(qpos.shape[0])

        def one(q: jax.Array, v: jax.Array, u: jax.Array, vals: Values) -> tuple[jax.Array, jax.Array]:
            return _scan_steps(engine.model, data0, q, v, u, dict(zip(names, vals)))

        return jax.vmap(one)(qpos, qvel, ctrl, values)

    @batch.def_vmap
    def batch_rule(axis_size: int, in_batched: list[Any], *args: Any) -> tuple[Any, tuple[bool, bool]]:
        """vmap of a batch: (axis_size, nworld, ...) flattened into one batch of axis_size x nworld."""
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), _broadcast(args, in_batched, axis_size))
        q, v = batch(*flat)
        return (q.reshape((axis_size, -1) + q.shape[1:]), v.reshape((axis_size, -1) + v.shape[1:])), (True, True)

    @jax.custom_batching.custom_vmap
    def one(qpos: jax.Array, qvel: jax.Array, ctrl: jax.Array, values: Values) -> tuple[jax.Array, jax.Array]:
        """One env, not under vmap: a batch of one."""
        q, v = batch(qpos[None], qvel[None], ctrl[None], tuple(x[None] for x in values))
        return q[0], v[0]

    @one.def_vmap
    def one_rule(axis_size: int, in_batched: list[Any], *args: Any) -> tuple[Any, tuple[bool, bool]]:
        """vmap over envs: the batch."""
        return batch(*_broadcast(args, in_batched, axis_size)), (True, True)

    return one


def _quiet_solver_limits(model: mjx.Model) -> mjx.Model:
    """Stops Warp printing from its kernels whenever the solver or line search uses all its
    iterations (every step of a scene with few iterations, as C MuJoCo does silently); warnings
    that a buffer overflowed (contacts, constraints) stay on."""
    from mujoco.mjx.third_party.mujoco_warp._src.types import OverflowType

    quiet = ~(OverflowType.ITERATIONS | OverflowType.LS_ITERATIONS)
    opt_impl = model.opt._impl.replace(warn_overflow=int(model.opt._impl.warn_overflow) & int(quiet))
    return model.replace(opt=model.opt.replace(_impl=opt_impl))


def _broadcast(args: tuple[Any, ...], batched: list[Any], axis_size: int) -> tuple[Any, ...]:
    """Gives every leaf of `args` not batched by vmap (per `batched`) a leading axis of axis_size."""
    return jax.tree.map(
        lambda x, b: x if b else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x)), args, tuple(batched)
    )
