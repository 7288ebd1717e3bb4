"""Domain randomisation: factors with on/off switches, per-env draws, and per-env model fields.

A `Factor` is a uniform range that can be switched off. A task's DR config (a frozen dataclass of
factors) becomes `ranges`, a pytree of arrays that lives in the env *state*, so that every reset of
every env slot draws fresh values from it and that changing ranges or draws is data, never a
recompile (ablation arms can even be vmapped). A switched-off factor becomes the identity range
(0..0 for offsets, 1..1 for scales).

Model-field helpers turn drawn scales into `ModelOverrides` (per-env MjModel fields), the same for
every physics engine. For ablations, `factor_names`, `with_enabled` (some factors alone) and
`widened` (every range scaled about its neutral value, for wider test distributions) build new
DR configs from a default one.
"""

import dataclasses
from collections.abc import Callable

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


# ----- DR configs as data for ablations: which factors, each alone, and wider ranges -----

def factor_names(config: object) -> tuple[str, ...]:
    """Names of the `Factor` fields of a DR config dataclass (instance or type), in field order."""
    default = config() if isinstance(config, type) else config
    return tuple(f.name for f in dataclasses.fields(default)  # type: ignore[arg-type]
                 if isinstance(getattr(default, f.name), Factor))


def with_enabled(config: object, names: tuple[str, ...] | list[str]) -> object:
    """`config` with exactly the named factors switched on (ranges kept) and every other one off.

    Raises ValueError naming the valid factors for a name that is not one."""
    valid = factor_names(config)
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"unknown DR factor(s) {unknown}; valid factors: {', '.join(valid)}")
    return dataclasses.replace(config, **{  # type: ignore[type-var]
        n: dataclasses.replace(getattr(config, n), enabled=n in names) for n in valid})


def neutral_values(config_type: type, ranges_from_config: Callable[[object], object]) -> dict[str, float]:
    """Each factor's neutral value (what a switched-off factor is held at), read from the task's
    own ranges: `ranges_from_config(all_off(config_type))` holds [neutral, neutral] per factor.

    ranges_from_config: e.g. `CardDRRanges.from_config`, whose fields are named like the factors."""
    off = ranges_from_config(all_off(config_type))
    return {n: float(np.asarray(getattr(off, n))[0]) for n in factor_names(config_type)}


def widened(config: object, width: float, neutral: dict[str, float]) -> object:
    """Every factor of `config` switched on, its range scaled by `width` about its neutral value:
    [n + width * (low - n), n + width * (high - n)]. width 1 keeps the ranges; 1.5 is 50 % wider.

    neutral: factor name -> neutral value (see `neutral_values`); a factor with a positive neutral
    value is a scale, and a width that takes its low bound to <= 0 is a ValueError."""
    if not (np.isfinite(width) and width >= 0):
        raise ValueError(f"width must be a finite number >= 0, got {width}")
    changes = {}
    for name in factor_names(config):
        factor, n = getattr(config, name), neutral[name]
        low, high = n + width * (factor.low - n), n + width * (factor.high - n)
        if n > 0 and low <= 0:
            raise ValueError(
                f"width {width} takes DR factor {name!r} (a scale, [{factor.low}, {factor.high}] about "
                f"{n}) to a low of {low:.3g} <= 0; use a width below {n / (n - factor.low):.3g}")
        changes[name] = Factor(float(low), float(high), enabled=True)
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]
