"""One interface over interchangeable physics engines: `mjx`, `c`, `warp`, and `auto`.

    engine = make_engine("auto", mj_model)
    next_state = engine.step(state, ctrl, overrides)   # per env; vmap for a batch
"""

import jax
import mujoco

from mjx_gr00t.physics.base import OVERRIDABLE_FIELDS, Engine, ModelOverrides, PhysicsState

ENGINES: tuple[str, ...] = ("auto", "mjx", "c", "warp")


def resolve_engine_name(name: str) -> str:
    """Maps `auto` to `c` on a CPU-only machine and to `mjx` on an accelerator."""
    if name not in ENGINES:
        raise ValueError(f"unknown physics engine {name!r}; choose one of {list(ENGINES)}")
    if name == "auto":
        return "c" if jax.default_backend() == "cpu" else "mjx"
    return name


def make_engine(name: str, mj_model: mujoco.MjModel) -> Engine:
    """Builds the named engine for `mj_model`. Raises ValueError for an unknown name."""
    resolved = resolve_engine_name(name)
    if resolved == "c":
        from mjx_gr00t.physics.c_engine import CEngine

        return CEngine(mj_model)
    from mjx_gr00t.physics.mjx_engine import MjxEngine, WarpEngine

    return WarpEngine(mj_model) if resolved == "warp" else MjxEngine(mj_model)


__all__ = [
    "ENGINES", "OVERRIDABLE_FIELDS", "Engine", "ModelOverrides", "PhysicsState",
    "make_engine", "resolve_engine_name",
]
