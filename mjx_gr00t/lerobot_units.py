"""Joint units of the sim (rad) and of LeRobot's SO-101 (degrees; gripper 0..100 of its range).

Every joint converts linearly, `lerobot = scale * (q_rad - offset)`: offset 0 and scale 180/pi for
the arm, offset lo and scale 100/(hi - lo) for the gripper (0 = the lower limit, closed). Deltas use
the same scale and no offset. Numpy in, numpy out; jax in, jax out (in the input's float dtype).
"""

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = np.ndarray | jax.Array


def lerobot_scale_offset(
    joint_ranges: Sequence[Sequence[float]] | np.ndarray, gripper_index: int | None = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint (scale, offset), each (J,) float64, with `lerobot = scale * (q_rad - offset)`.

    joint_ranges: (J, 2) sim ranges in rad. The joint at `gripper_index` (None: none) maps its range
    to 0..100; the others convert rad to degrees.
    """
    ranges = np.asarray(joint_ranges, np.float64).reshape(-1, 2)
    scale = np.full(len(ranges), 180.0 / math.pi)
    offset = np.zeros(len(ranges))
    if gripper_index is not None:
        lo, hi = ranges[gripper_index]
        scale[gripper_index] = 100.0 / (hi - lo)
        offset[gripper_index] = lo
    return scale, offset


def _like(x: Array, values: np.ndarray) -> Array:
    """`values` in x's float dtype (float32 for non-float x)."""
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else np.float32
    return values.astype(dtype)


def sim_to_lerobot(
    q_rad: Array, joint_ranges: Sequence[Sequence[float]] | np.ndarray, gripper_index: int | None = -1
) -> Array:
    """Joint positions [..., J] in rad -> LeRobot units [..., J] (numpy in, numpy out; jax likewise)."""
    scale, offset = lerobot_scale_offset(joint_ranges, gripper_index)
    return (q_rad - _like(q_rad, offset)) * _like(q_rad, scale)


def lerobot_to_sim(
    q_lerobot: Array, joint_ranges: Sequence[Sequence[float]] | np.ndarray, gripper_index: int | None = -1
) -> Array:
    """LeRobot joint positions [..., J] -> rad [..., J]; inverse of `sim_to_lerobot`."""
    scale, offset = lerobot_scale_offset(joint_ranges, gripper_index)
    return q_lerobot / _like(q_lerobot, scale) + _like(q_lerobot, offset)


def sim_delta_to_lerobot(
    dq_rad: Array, joint_ranges: Sequence[Sequence[float]] | np.ndarray, gripper_index: int | None = -1
) -> Array:
    """Joint deltas [..., J] in rad -> LeRobot units [..., J] (same scale, no offset)."""
    scale, _ = lerobot_scale_offset(joint_ranges, gripper_index)
    return dq_rad * _like(dq_rad, scale)


def lerobot_delta_to_sim(
    dq_lerobot: Array, joint_ranges: Sequence[Sequence[float]] | np.ndarray, gripper_index: int | None = -1
) -> Array:
    """LeRobot joint deltas [..., J] -> rad [..., J]; inverse of `sim_delta_to_lerobot`."""
    scale, _ = lerobot_scale_offset(joint_ranges, gripper_index)
    return dq_lerobot / _like(dq_lerobot, scale)
