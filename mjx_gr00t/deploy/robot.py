"""The robot interface `train.deploy` drives, shaped like LeRobot's `Robot`, and SO-101 joint units.

    robot.connect()
    obs = robot.get_observation()    # {"shoulder_pan.pos": float, ..., "gripper.pos": float, "front": uint8 HxWx3, ...}
    sent = robot.send_action({"shoulder_pan.pos": ..., ...})   # returns what was actually sent
    robot.disconnect()

Units are LeRobot's SO-101 follower's (shared/reference/lerobot.md), read from its servos' ticks
(4096 a turn) and its calibration (`range_min`, `range_max` per motor):
- arm joints with `use_degrees`: (t - (min + max) / 2) * 360 / 4095, degrees from the calibrated
  middle; without it: (t - min) / (max - min) * 200 - 100, clamped to the range;
- the gripper always: (t - min) / (max - min) * 100.
The twin's joint zero is tick ZERO_TICK (2047), where LeRobot's calibration puts the pose the arm
held while it was homed (the new-calibration model's zero pose); so a reading in degrees maps to rad
as ticks = deg * 4095 / 360 + (min + max) / 2, rad = (ticks - 2047) * 2 pi / 4096. The gripper's
0..100 spans the sim joint's range, 0 = closed (the export's units, `mjx_gr00t.export.units`).
"""

import dataclasses
import json
import math
import os
from typing import Any, Protocol

import numpy as np

MOTORS: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
"""The SO-101's motors (ids 1..6), in the twin's joint order."""
TICKS_PER_REV: int = 4096
ZERO_TICK: int = 2047
"""The tick of the twin's joint zero (LeRobot homes the calibration pose to 2047)."""


def position_keys(motors: tuple[str, ...] = MOTORS) -> tuple[str, ...]:
    """LeRobot's observation and action keys: '<motor>.pos'."""
    return tuple(f"{m}.pos" for m in motors)


class Robot(Protocol):
    """What `train.deploy` needs of a robot; LeRobot's `Robot` has these members."""

    name: str

    @property
    def is_connected(self) -> bool: ...

    def connect(self, calibrate: bool = True) -> None: ...

    def get_observation(self) -> dict[str, Any]:
        """'<motor>.pos' floats in the robot's units and camera frames (uint8 H x W x 3, RGB)."""
        ...

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        """Goal positions by '<motor>.pos'; returns what was sent (after the robot's own clamps)."""
        ...

    def disconnect(self) -> None:
        """Stops the robot (the SO-101 also disables torque)."""
        ...


@dataclasses.dataclass(frozen=True)
class JointUnits:
    """Conversions between the twin's rad and a robot's reported units, per motor (MOTORS order).

    use_degrees: the arm's joints in degrees (LeRobot's default since 2026-02), else -100..100 of
    their calibrated range. sim_ranges: (6, 2) the twin's joint ranges, rad. tick_ranges: (6, 2) the
    calibration's (range_min, range_max) ticks, used where the unit is a fraction of the range (the
    gripper always; every joint without use_degrees)."""

    use_degrees: bool
    sim_ranges: tuple[tuple[float, float], ...]
    tick_ranges: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.sim_ranges) != len(MOTORS) or len(self.tick_ranges) != len(MOTORS):
            raise ValueError(f"JointUnits needs {len(MOTORS)} sim and tick ranges, got {len(self.sim_ranges)} "
                             f"and {len(self.tick_ranges)}")
        for motor, (lo, hi) in zip(MOTORS, self.tick_ranges):
            if not 0 <= lo < hi <= TICKS_PER_REV - 1:
                raise ValueError(f"calibration of {motor}: range_min {lo} .. range_max {hi} must satisfy "
                                 f"0 <= min < max <= {TICKS_PER_REV - 1}")

    @classmethod
    def nominal(cls, sim_ranges: Any, use_degrees: bool = True) -> "JointUnits":
        """The units of an SO-101 whose calibrated ranges are exactly the twin's joint ranges about
        ZERO_TICK (what the `sim` stand-in reports; fractional ticks, so that its readings land on
        the twin's own tick grid)."""
        ranges = np.asarray(sim_ranges, np.float64).reshape(-1, 2)
        ticks = ZERO_TICK + ranges * TICKS_PER_REV / (2 * math.pi)
        return cls(use_degrees, tuple(map(tuple, ranges.tolist())), tuple(map(tuple, ticks.tolist())))

    def _fraction_axes(self) -> np.ndarray:
        """(6,) bool: the motors reported as a fraction of their calibrated range."""
        return np.array([m == "gripper" or not self.use_degrees for m in MOTORS])

    def _fractions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per motor: sim range low and high (rad), and the unit's start and span (gripper 0..100,
        the rest -100..100)."""
        sim_lo, sim_hi = np.asarray(self.sim_ranges, np.float64).T
        grip = np.array(MOTORS) == "gripper"
        return sim_lo, sim_hi, np.where(grip, 0.0, -100.0), np.where(grip, 100.0, 200.0)

    def _middle(self) -> np.ndarray:
        lo, hi = np.asarray(self.tick_ranges, np.float64).T
        return (lo + hi) / 2

    def to_rad(self, values: np.ndarray) -> np.ndarray:
        """values (..., 6) in the robot's units -> (..., 6) rad in the twin's convention."""
        values = np.asarray(values, np.float64)
        ticks = values * (TICKS_PER_REV - 1) / 360.0 + self._middle()
        rad = (ticks - ZERO_TICK) * (2 * math.pi / TICKS_PER_REV)
        sim_lo, sim_hi, start, span = self._fractions()
        frac = sim_lo + (values - start) / span * (sim_hi - sim_lo)
        return np.where(self._fraction_axes(), frac, rad)

    def from_rad(self, rad: np.ndarray) -> np.ndarray:
        """rad (..., 6) -> the robot's units (..., 6), unquantised (inverse of `to_rad`)."""
        rad = np.asarray(rad, np.float64)
        ticks = rad * TICKS_PER_REV / (2 * math.pi) + ZERO_TICK
        deg = (ticks - self._middle()) * 360.0 / (TICKS_PER_REV - 1)
        sim_lo, sim_hi, start, span = self._fractions()
        frac = start + (rad - sim_lo) / (sim_hi - sim_lo) * span
        return np.where(self._fraction_axes(), frac, deg)

    def ticks_of_rad(self, rad: np.ndarray) -> np.ndarray:
        """rad (..., 6) on the servos' tick grid -> raw ticks (..., 6) float (the twin's zero at ZERO_TICK;
        the gripper's sim range on its calibrated tick range)."""
        rad = np.asarray(rad, np.float64)
        ticks = rad * TICKS_PER_REV / (2 * math.pi) + ZERO_TICK
        sim_lo, sim_hi, _, _ = self._fractions()
        lo, hi = np.asarray(self.tick_ranges, np.float64).T
        grip = lo + (rad - sim_lo) / (sim_hi - sim_lo) * (hi - lo)
        return np.where(self._fraction_axes(), grip, ticks)

    def reading_of_ticks(self, ticks: np.ndarray) -> np.ndarray:
        """Raw present-position ticks (..., 6), after homing, -> what LeRobot reports (its formulas)."""
        t = np.asarray(ticks, np.float64)
        lo, hi = np.asarray(self.tick_ranges, np.float64).T
        degrees = (t - (lo + hi) / 2) * 360.0 / (TICKS_PER_REV - 1)
        m100 = (np.clip(t, lo, hi) - lo) / (hi - lo) * 200.0 - 100.0
        grip = (t - lo) / (hi - lo) * 100.0
        arm = degrees if self.use_degrees else m100
        return np.where(np.array(MOTORS) == "gripper", grip, arm)

    def describe(self) -> str:
        return (f"{'degrees' if self.use_degrees else '-100..100'} for the arm joints, 0..100 for the gripper "
                f"(calibrated gripper ticks {self.tick_ranges[-1][0]}..{self.tick_ranges[-1][1]})")


def read_calibration(path: str | os.PathLike[str]) -> dict[str, dict[str, int]]:
    """LeRobot's calibration file ({motor: {id, drive_mode, homing_offset, range_min, range_max}});
    ValueError naming the file for a missing motor or field."""
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError as e:
        raise ValueError(f"no calibration file at {str(path)!r}; calibrate the arm with LeRobot first") from e
    except json.JSONDecodeError as e:
        raise ValueError(f"calibration file {str(path)!r} is not JSON: {e}") from e
    for motor in MOTORS:
        entry = data.get(motor)
        missing = [k for k in ("id", "range_min", "range_max") if not isinstance(entry, dict) or k not in entry]
        if missing:
            raise ValueError(f"calibration file {str(path)!r}: motor {motor!r} lacks {missing}")
    return data


def units_from_calibration(calibration: dict[str, dict[str, int]], sim_ranges: Any,
                           use_degrees: bool) -> JointUnits:
    """JointUnits of a calibrated SO-101 (see `read_calibration`)."""
    ticks = tuple((int(calibration[m]["range_min"]), int(calibration[m]["range_max"])) for m in MOTORS)
    ranges = tuple(map(tuple, np.asarray(sim_ranges, np.float64).reshape(-1, 2).tolist()))
    return JointUnits(use_degrees, ranges, ticks)
