"""The `c` engine: MuJoCo's C engine stepping the whole batch on threads via `mujoco.rollout`.

It is called from inside jitted code through `jax.pure_callback` with `vmap_method="broadcast_all"`:
the env code stays per-env, and under `vmap` one host call receives the whole batch with leading
batch dims, which it flattens into one multi-threaded rollout.

Per-env model fields (domain randomisation) are written into one `MjModel` copy per env, and only
for the envs whose values changed since the last call, so a step with unchanged randomisation
costs no model writes.
"""

import atexit
import copy
import math
import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import rollout

from mjx_gr00t.host_callback import one_at_a_time
from mjx_gr00t.physics.base import ModelOverrides, PhysicsState, check_overrides


class CEngine:
    """Steps a batch of envs with `mujoco.rollout` on `nthread` threads (default: all cores)."""

    name = "c"

    def __init__(self, mj_model: mujoco.MjModel, nthread: int | None = None) -> None:
        self.mj_model = _copy_model(mj_model)
        # Non-finite physics must reach the env (which resets that env and counts it), so stop
        # MuJoCo from silently resetting the data to qpos0 on its own.
        self.mj_model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
        self.nthread = nthread or os.cpu_count() or 1
        self._pool: rollout.Rollout | None = rollout.Rollout(nthread=self.nthread)
        # Join the pool's C++ threads before interpreter teardown, which otherwise aborts.
        atexit.register(self.close)
        self._datas = [mujoco.MjData(self.mj_model) for _ in range(self.nthread)]
        self._models: list[mujoco.MjModel] = []
        self._written: dict[str, np.ndarray] = {}
        # The pool, buffers and model copies are shared: a grid split over devices calls in from
        # one thread per device, so the calls take turns.
        self._host_step = one_at_a_time(self._host_step)
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self._nstate = mujoco.mj_stateSize(self.mj_model, spec)
        m = self.mj_model
        self._qpos = slice(1, 1 + m.nq)  # FULLPHYSICS starts with time, then qpos, qvel, ...
        self._qvel = slice(1 + m.nq, 1 + m.nq + m.nv)

    def close(self) -> None:
        """Stops the thread pool; idempotent."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def step(
        self, state: PhysicsState, ctrl: jax.Array, overrides: ModelOverrides
    ) -> PhysicsState:
        """state: one env; ctrl: (nsteps, nu). See `Engine.step`."""
        check_overrides(overrides)
        names = tuple(sorted(overrides))
        values = tuple(overrides[n] for n in names)
        out_shape = PhysicsState(
            qpos=jax.ShapeDtypeStruct(state.qpos.shape, state.qpos.dtype),
            qvel=jax.ShapeDtypeStruct(state.qvel.shape, state.qvel.dtype),
        )

        def host(qpos: np.ndarray, qvel: np.ndarray, u: np.ndarray, *vals: np.ndarray):
            return self._host_step(qpos, qvel, u, dict(zip(names, vals)))

        return jax.pure_callback(
            host, out_shape, state.qpos, state.qvel, jnp.asarray(ctrl), *values,
            vmap_method="broadcast_all",
        )

    def _host_step(
        self, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray, fields: dict[str, np.ndarray]
    ) -> PhysicsState:
        m = self.mj_model
        lead = qpos.shape[:-1]
        batch = math.prod(lead)
        nsteps = ctrl.shape[-2]
        init = np.zeros((batch, self._nstate))
        init[:, self._qpos] = qpos.reshape(batch, m.nq)
        init[:, self._qvel] = qvel.reshape(batch, m.nv)
        control = np.ascontiguousarray(ctrl.reshape(batch, nsteps, m.nu), dtype=np.float64)
        out = np.empty((batch, nsteps, self._nstate))
        sensordata = np.empty((batch, nsteps, m.nsensordata))
        models = self._models_for(fields, batch) if fields else self.mj_model
        if self._pool is None:
            raise RuntimeError("the c engine was closed; build a new env")
        self._pool.rollout(
            models, self._datas, init, control,
            nstep=nsteps, initial_warmstart=np.zeros((batch, m.nv)),
            state=out, sensordata=sensordata,
        )
        last = out[:, -1]
        return PhysicsState(
            qpos=last[:, self._qpos].reshape(*lead, m.nq).astype(qpos.dtype),
            qvel=last[:, self._qvel].reshape(*lead, m.nv).astype(qvel.dtype),
        )

    def _models_for(self, fields: dict[str, np.ndarray], batch: int) -> list[mujoco.MjModel]:
        """One model per env with its fields written; rewrites only envs whose values changed."""
        while len(self._models) < batch:
            self._models.append(_copy_model(self.mj_model))
        for name in [n for n in self._written if n not in fields]:
            # A field left out of this call goes back to its nominal value in every copy.
            nominal = getattr(self.mj_model, name)
            for model in self._models:
                getattr(model, name)[...] = nominal
            del self._written[name]
        for name, value in fields.items():
            value = np.asarray(value, dtype=np.float64)
            field_shape = getattr(self.mj_model, name).shape
            value = value.reshape(batch, *field_shape)
            previous = self._written.get(name)
            if previous is None or previous.shape[0] < batch:
                changed = np.arange(batch)
            else:
                diff = value != previous[:batch]
                changed = np.flatnonzero(diff.reshape(batch, -1).any(axis=1))
            for i in changed:
                getattr(self._models[i], name)[...] = value[i]
            if previous is None or previous.shape[0] < batch:
                self._written[name] = value.copy()
            else:
                previous[:batch] = value
        return self._models[:batch]


def _copy_model(mj_model: mujoco.MjModel) -> mujoco.MjModel:
    """A deep copy of an MjModel."""
    return copy.deepcopy(mj_model)
