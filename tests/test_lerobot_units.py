"""Sim <-> LeRobot joint units (`mjx_gr00t.lerobot_units`): known values, round trips, jax in/out."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t import export
from mjx_gr00t import lerobot_units as units

GRIPPER_RANGE = (-0.174533, 1.7453292)
JOINT_RANGES = ((-1.92, 1.92), (-1.75, 1.75), (-1.69, 1.69), (-1.66, 1.66), (-2.74, 2.84), GRIPPER_RANGE)


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


def test_export_re_exports_the_conversions() -> None:
    assert export.sim_to_lerobot is units.sim_to_lerobot and export.lerobot_scale_offset is units.lerobot_scale_offset
