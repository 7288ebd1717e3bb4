"""MJX engines: MuJoCo's JAX implementation (`mjx`) and its Warp implementation (`warp`)."""

import importlib.util

import jax
import mujoco
from mujoco import mjx

from mjx_gr00t.physics.base import ModelOverrides, PhysicsState, check_overrides


class MjxEngine:
    """Steps one env with `mjx.step`; vmap it for a batch. Per-env overrides replace model fields."""

    name = "mjx"
    impl = "jax"

    def __init__(self, mj_model: mujoco.MjModel) -> None:
        self.mj_model = mj_model
        self.model = mjx.put_model(mj_model, impl=self.impl)
        self._data0 = mjx.make_data(self.model, impl=self.impl)

    def step(
        self, state: PhysicsState, ctrl: jax.Array, overrides: ModelOverrides
    ) -> PhysicsState:
        """state: one env; ctrl: (nsteps, nu). See `Engine.step`."""
        check_overrides(overrides)
        model = self.model.replace(**overrides) if overrides else self.model
        data = self._data0.replace(qpos=state.qpos, qvel=state.qvel)

        def one_step(d: mjx.Data, u: jax.Array) -> tuple[mjx.Data, None]:
            return mjx.step(model, d.replace(ctrl=u)), None

        data, _ = jax.lax.scan(one_step, data, ctrl)
        return PhysicsState(qpos=data.qpos, qvel=data.qvel)


class WarpEngine(MjxEngine):
    """MJX's NVIDIA Warp implementation, where `warp-lang` installs (best on NVIDIA GPUs)."""

    name = "warp"
    impl = "warp"

    def __init__(self, mj_model: mujoco.MjModel) -> None:
        if importlib.util.find_spec("warp") is None:
            raise RuntimeError(
                "engine 'warp' needs NVIDIA Warp, which is not installed: run "
                "`pip install warp-lang` (works best on an NVIDIA GPU), or pick --engine mjx or c"
            )
        try:
            super().__init__(mj_model)
        except Exception as err:  # Warp fails in many ways on unsupported hosts; say which.
            raise RuntimeError(
                f"engine 'warp' could not start on this machine ({type(err).__name__}: {err}); "
                "pick --engine mjx or c"
            ) from err
