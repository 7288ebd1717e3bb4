"""The sheet's pose as a camera can know it, and the noise model of that estimate (one env).

A rectangle's pose from an image is its centre and its yaw modulo 180 degrees: a sheet turned half a
turn looks the same. `canonical_yaw` maps any yaw into [-pi/2, pi/2); `corners` lists the four
corners in an order set by that canonical yaw, so the order does not flip when the sheet is turned
half a turn (it jumps only where the sheet stands across, at +-90 degrees).

The noise model (used by the `robot` observation mode, and shaped by DR): per-episode bias of the
centre and yaw, per-step Gaussian noise with per-episode standard deviations, dropouts that hold the
last estimate, and a per-episode delay of whole policy steps.

    pose = jnp.array([x, y, yaw])                       # (3,)
    est = EstimateState.fresh(pose, params)             # at reset
    est, seen = update(est, pose, key)                  # every policy step; seen: (3,) x, y, yaw
"""

import math

import jax
import jax.numpy as jnp
from flax import struct

from mjx_gr00t.envs import servo


def canonical_yaw(yaw: jax.Array) -> jax.Array:
    """(...) rad -> the same line's yaw in [-pi/2, pi/2)."""
    return jnp.mod(yaw + 0.5 * math.pi, math.pi) - 0.5 * math.pi


def corners(centre: jax.Array, yaw: jax.Array, half: jax.Array) -> jax.Array:
    """centre (2,), yaw (), half-extents (2,) -> (4, 2) corners in the order (+,+), (+,-), (-,+),
    (-,-) of the half-extents along the canonical yaw's axes (see the module docstring)."""
    yaw = canonical_yaw(yaw)
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    axes = jnp.array([[c, s], [-s, c]])  # rows: long axis, short axis
    signs = jnp.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    return centre + (signs * half) @ axes


def yaw_features(yaw: jax.Array) -> jax.Array:
    """() -> (2,) (cos 2 yaw, sin 2 yaw): the yaw modulo 180 degrees, continuous."""
    return jnp.stack([jnp.cos(2 * yaw), jnp.sin(2 * yaw)])


def angle_error(a: jax.Array, b: jax.Array) -> jax.Array:
    """|a - b| modulo 180 degrees, in [0, pi/2]."""
    return jnp.abs(canonical_yaw(a - b))


@struct.dataclass
class EstimateParams:
    """One episode's draw of the noise model."""

    bias: jax.Array  # (3,) x, y (m), yaw (rad)
    noise_std: jax.Array  # (3,)
    dropout: jax.Array  # () probability per step
    delay: jax.Array  # () int32 policy steps


@struct.dataclass
class EstimateState:
    """history: (MAX_DELAY_STEPS + 1, 3) estimates, newest first; params: this episode's draw."""

    history: jax.Array
    params: EstimateParams

    @classmethod
    def fresh(cls, pose: jax.Array, params: EstimateParams, depth: int) -> "EstimateState":
        """At reset: every slot of the history holds the first (biased) estimate of `pose` (3,)."""
        first = pose + params.bias
        first = first.at[2].set(canonical_yaw(first[2]))
        return cls(history=jnp.broadcast_to(first, (depth, 3)), params=params)


def draw_params(key: jax.Array, xy_bias: jax.Array, yaw_bias: jax.Array, xy_noise: jax.Array,
                yaw_noise: jax.Array, dropout: jax.Array, delay: jax.Array) -> EstimateParams:
    """One episode's noise model; every argument but `key` is a (2,) DR range."""
    k = jax.random.split(key, 6)
    u = lambda key, r, shape=(): jax.random.uniform(key, shape, minval=r[0], maxval=r[1])  # noqa: E731
    bias = jnp.concatenate([u(k[0], xy_bias, (2,)), u(k[1], yaw_bias, (1,))])
    xy_std = u(k[2], xy_noise)
    std = jnp.stack([xy_std, xy_std, u(k[3], yaw_noise)])
    return EstimateParams(bias=bias, noise_std=std, dropout=u(k[4], dropout),
                          delay=servo.draw_whole_steps(k[5], delay))


def update(est: EstimateState, pose: jax.Array, key: jax.Array) -> tuple[EstimateState, jax.Array]:
    """The noise model. pose: (3,) the true x, y, yaw now -> the new state and the estimate (3,) the
    policy sees now (yaw canonical)."""
    k_noise, k_drop = jax.random.split(key)
    p = est.params
    measured = pose + p.bias + p.noise_std * jax.random.normal(k_noise, (3,))
    return update_measured(est, measured, ~jax.random.bernoulli(k_drop, p.dropout))


def update_measured(est: EstimateState, measured: jax.Array, found: jax.Array) -> tuple[EstimateState, jax.Array]:
    """A measurement from outside (the camera and estimator in the loop): measured (3,) x, y, yaw;
    found () bool, False for a dropout (the last estimate is held) -> the new state and the
    estimate (3,) the policy sees now, `params.delay` steps late."""
    measured = measured.at[2].set(canonical_yaw(measured[2]))
    measured = jnp.where(found, measured, est.history[0])
    history = servo.push(est.history, measured)
    return est.replace(history=history), servo.delayed(history, est.params.delay)
