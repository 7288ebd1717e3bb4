"""Joint units of the sim (rad) and of LeRobot's SO-101 (degrees; gripper 0..100 of its range).

Every joint converts linearly, `lerobot = scale * (q_rad - offset)`: offset 0 and scale 180/pi for
the arm, offset lo and scale 100/(hi - lo) for the gripper (0 = the lower limit, closed). Deltas use
the same scale and no offset. Numpy in, numpy out; jax in, jax out (in the input's float dtype):
the conversions are arithmetic between the input and numpy constants, so this module needs no JAX.
"""

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

Array = TypeVar("Array")
"""A numpy or JAX array (anything with a dtype and numpy-style arithmetic); the result is the same kind."""
Ranges = Sequence[Sequence[float]] | np.ndarray


def lerobot_scale_offset(joint_ranges: Ranges, gripper_index: int | None = -1) -> tuple[np.ndarray, np.ndarray]:
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


def _is_float(dtype: Any) -> bool:
    """Whether `dtype` is a real floating type: numpy's, or ml_dtypes' (bfloat16, float8) that JAX uses."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "fV":
        return False
    try:
        np.finfo(dtype)
    except ValueError:  # a void or ml_dtypes integer type
        return False
    return True


def _like(x: Any, values: np.ndarray) -> np.ndarray:
    """`values` in x's float dtype (float32 for non-float x)."""
    return values.astype(x.dtype if _is_float(x.dtype) else np.float32)


def sim_to_lerobot(q_rad: Array, joint_ranges: Ranges, gripper_index: int | None = -1) -> Array:
    """Joint positions [..., J] in rad -> LeRobot units [..., J] (numpy in, numpy out; jax likewise)."""
    scale, offset = lerobot_scale_offset(joint_ranges, gripper_index)
    return (q_rad - _like(q_rad, offset)) * _like(q_rad, scale)


def lerobot_to_sim(q_lerobot: Array, joint_ranges: Ranges, gripper_index: int | None = -1) -> Array:
    """LeRobot joint positions [..., J] -> rad [..., J]; inverse of `sim_to_lerobot`."""
    scale, offset = lerobot_scale_offset(joint_ranges, gripper_index)
    return q_lerobot / _like(q_lerobot, scale) + _like(q_lerobot, offset)


def sim_delta_to_lerobot(dq_rad: Array, joint_ranges: Ranges, gripper_index: int | None = -1) -> Array:
    """Joint deltas [..., J] in rad -> LeRobot units [..., J] (same scale, no offset)."""
    scale, _ = lerobot_scale_offset(joint_ranges, gripper_index)
    return dq_rad * _like(dq_rad, scale)


def lerobot_delta_to_sim(dq_lerobot: Array, joint_ranges: Ranges, gripper_index: int | None = -1) -> Array:
    """LeRobot joint deltas [..., J] -> rad [..., J]; inverse of `sim_delta_to_lerobot`."""
    scale, _ = lerobot_scale_offset(joint_ranges, gripper_index)
    return dq_lerobot / _like(dq_lerobot, scale)
