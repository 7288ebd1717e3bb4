"""Domain randomisation: factors with on/off switches, per-env draws, and per-env model fields.

A `Factor` is a uniform range that can be switched off. A task's DR config (a frozen dataclass of
factors) becomes `ranges`, a pytree of arrays that lives in the env *state*, so that every reset of
every env slot draws fresh values from it and that changing ranges or draws is data, never a
recompile (ablation arms can even be vmapped). A switched-off factor becomes the identity range
(0..0 for offsets, 1..1 for scales).

Model-field helpers turn drawn scales into `ModelOverrides` (per-env MjModel fields), the same for
every physics engine.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Factor:
    """A uniform DR range that switches on and off on its own."""

    low: float
    """Lower bound of the uniform draw."""
    high: float
    """Upper bound of the uniform draw (>= low)."""
    enabled: bool = True
    """Draw from [low, high]; when False the factor is held at its neutral value."""

    def validate(self, name: str) -> None:
        """Raises ValueError for an inverted range."""
        if not (np.isfinite(self.low) and np.isfinite(self.high)):
            raise ValueError(f"DR factor {name!r}: bounds must be finite, got [{self.low}, {self.high}]")
        if self.low > self.high:
            raise ValueError(
                f"DR factor {name!r} has an inverted range [{self.low}, {self.high}]: low must be <= high"
            )

    def range(self, neutral: float) -> jax.Array:
        """(2,) float32 [low, high], or [neutral, neutral] when disabled."""
        if not self.enabled:
            return jnp.array([neutral, neutral], jnp.float32)
        return jnp.array([self.low, self.high], jnp.float32)


def all_off(config_type: type) -> object:
    """An instance of a DR config dataclass with every `Factor` switched off."""
    default = config_type()
    return config_type(**{f.name: dataclasses.replace(getattr(default, f.name), enabled=False)
                          for f in dataclasses.fields(config_type)})


def validate_factors(config: object) -> None:
    """Validates every `Factor` field of a DR config dataclass."""
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, field.name)
        if isinstance(value, Factor):
            value.validate(field.name)


def uniform(key: jax.Array, bounds: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
    """Draws U(bounds[0], bounds[1]) with the given shape. bounds: (2,)."""
    return jax.random.uniform(key, shape, minval=bounds[0], maxval=bounds[1])


def scale_rows(field: np.ndarray, rows: np.ndarray, scale: jax.Array, cols: slice = slice(None)) -> jax.Array:
    """A copy of a model field with `field[rows, cols]` multiplied by `scale`.

    field: nominal (n, ...) numpy array. rows: int indices. scale: () or broadcastable to the rows.
    """
    out = jnp.asarray(field, jnp.float32)
    selected = out[rows][:, cols] if out.ndim > 1 else out[rows]
    if out.ndim > 1:
        return out.at[rows, cols].set(selected * jnp.reshape(scale, (-1,) + (1,) * (selected.ndim - 1)))
    return out.at[rows].set(selected * scale)


def scale_actuator_gains(
    gainprm: np.ndarray, biasprm: np.ndarray, actuators: np.ndarray, scale: jax.Array
) -> dict[str, jax.Array]:
    """Scales the stiffness of position actuators: gainprm[:, 0] and biasprm[:, 1] (= -kp).

    gainprm, biasprm: nominal (nu, 10). actuators: int indices. scale: (len(actuators),).
    Returns overrides for `actuator_gainprm` and `actuator_biasprm`.
    """
    gain = jnp.asarray(gainprm, jnp.float32)
    bias = jnp.asarray(biasprm, jnp.float32)
    gain = gain.at[actuators, 0].multiply(scale)
    bias = bias.at[actuators, 1].multiply(scale)
    return {"actuator_gainprm": gain, "actuator_biasprm": bias}
