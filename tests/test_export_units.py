"""Sim <-> LeRobot joint units (`mjx_gr00t.export.units`): known values, round trips, numpy in numpy
out and jax in jax out, bit for bit what the JAX implementation before the export package gave."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.export import units

GRIPPER_RANGE = (-0.174533, 1.7453292)
JOINT_RANGES = ((-1.92, 1.92), (-1.75, 1.75), (-1.69, 1.69), (-1.66, 1.66), (-2.74, 2.84), GRIPPER_RANGE)
CONVERSIONS = ("sim_to_lerobot", "lerobot_to_sim", "sim_delta_to_lerobot", "lerobot_delta_to_sim")


def test_units_known_values_and_round_trip() -> None:
    lo, hi = GRIPPER_RANGE
    q = np.array([math.pi / 2, 0.0, -math.pi / 4, 0.1, -0.2, hi])
    le = units.sim_to_lerobot(q, JOINT_RANGES)
    np.testing.assert_allclose(le[:3], [90.0, 0.0, -45.0], atol=1e-9)
    assert le[5] == pytest.approx(100.0)
    assert units.sim_to_lerobot(np.array([0, 0, 0, 0, 0, lo]), JOINT_RANGES)[5] == pytest.approx(0.0)
    np.testing.assert_allclose(units.lerobot_to_sim(np.array([90.0, 0, 0, 0, 0, 100.0]), JOINT_RANGES)[[0, 5]],
                               [math.pi / 2, hi], atol=1e-9)
    qs = np.random.default_rng(0).uniform(-1.5, 1.5, (100, 6))
    np.testing.assert_allclose(
        units.lerobot_to_sim(units.sim_to_lerobot(qs, JOINT_RANGES), JOINT_RANGES), qs, atol=1e-12
    )
    np.testing.assert_allclose(
        units.lerobot_delta_to_sim(units.sim_delta_to_lerobot(qs, JOINT_RANGES), JOINT_RANGES), qs, atol=1e-12
    )
    d = units.sim_delta_to_lerobot(np.array([math.pi, 0, 0, 0, 0, hi - lo]), JOINT_RANGES)
    np.testing.assert_allclose(d[[0, 5]], [180.0, 100.0], atol=1e-9)
    jq = units.sim_to_lerobot(jnp.asarray(qs, jnp.float32), JOINT_RANGES)  # jax in, jax out
    assert isinstance(jq, jax.Array) and jq.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(jq), units.sim_to_lerobot(qs, JOINT_RANGES), rtol=1e-5, atol=1e-4)


def _old(name: str, x: jax.Array, gripper_index: int | None) -> jax.Array:
    """The conversion as mjx_gr00t/lerobot_units.py computed it (commit 18ca3b7): constants cast with
    `jnp.issubdtype`, then the same arithmetic."""
    scale, offset = units.lerobot_scale_offset(JOINT_RANGES, gripper_index)
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else np.float32
    scale, offset = scale.astype(dtype), offset.astype(dtype)
    return {"sim_to_lerobot": lambda: (x - offset) * scale, "lerobot_to_sim": lambda: x / scale + offset,
            "sim_delta_to_lerobot": lambda: x * scale, "lerobot_delta_to_sim": lambda: x / scale}[name]()


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16", "int32"])
def test_jax_inputs_give_jax_outputs_bit_identical_to_before(dtype: str) -> None:
    q = np.random.default_rng(3).uniform(-1.5, 1.5, (50, 6)) * (10 if dtype == "int32" else 1)
    x = jnp.asarray(q, dtype)
    for name in CONVERSIONS:
        for gripper_index in (-1, None, 2):
            got, want = getattr(units, name)(x, JOINT_RANGES, gripper_index), _old(name, x, gripper_index)
            assert isinstance(got, jax.Array) and got.dtype == want.dtype
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), (name, gripper_index)
            on_numpy = getattr(units, name)(np.asarray(x), JOINT_RANGES, gripper_index)  # numpy in, numpy out
            assert isinstance(on_numpy, np.ndarray) and not isinstance(on_numpy, jax.Array)
    assert getattr(units, "jax", None) is None and getattr(units, "jnp", None) is None  # no JAX in the module
