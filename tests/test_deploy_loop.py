"""mjx_gr00t.deploy.loop's guards on a scripted robot and a manual clock: joint limits and
max_relative_target clamp the goal; a late reading, no sheet yet and a non-finite target hold
position and are counted; a robot that stops answering and Ctrl-C end with a hold and a disconnect.
And deploy.robot's unit conversions against LeRobot's formulas (shared/reference/lerobot.md)."""

import math

import numpy as np
import pytest

from mjx_gr00t.deploy.loop import BaseNotAnswering, DeployLoop, LoopConfig, RobotNotAnswering
from mjx_gr00t.deploy.robot import JointUnits, position_keys, read_calibration, units_from_calibration

RANGES = ((-1.92, 1.92), (-1.75, 1.75), (-1.69, 1.69), (-1.66, 1.66), (-2.74, 2.84), (-0.17, 1.75))
KEYS = position_keys()


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class ScriptedRobot:
    """Holds whatever goal it was sent; `events[tick]` is 'slow' (a reading taking 0.5 s), 'timeout'
    (TimeoutError) or 'interrupt' (KeyboardInterrupt) for the read of that tick."""

    name = "scripted"

    def __init__(self, clock: Clock, present: np.ndarray, events: dict[int, str] | None = None) -> None:
        self.clock, self.present, self.events = clock, np.asarray(present, float), events or {}
        self.reads, self.sent, self.connected = 0, [], True

    @property
    def is_connected(self) -> bool:
        return self.connected

    def get_observation(self):
        event = self.events.pop(self.reads, None)
        self.reads += 1
        if event == "slow":
            self.clock.t += 0.5
        elif event == "timeout":
            raise TimeoutError("no status packet")
        elif event == "interrupt":
            raise KeyboardInterrupt
        return dict(zip(KEYS, map(float, self.present)))

    def send_action(self, action):
        goal = np.array([action[k] for k in KEYS])
        self.sent.append(goal)
        self.present = goal
        return dict(zip(KEYS, map(float, goal)))

    def disconnect(self) -> None:
        self.connected = False


class StepController:
    """Asks for +0.1 rad on every joint each tick (or NaN at `nan_tick`)."""

    def __init__(self, nan_tick: int = -1) -> None:
        self.calls, self.nan_tick = 0, nan_tick

    def reset(self) -> None:
        pass

    def __call__(self, seen, previous, est, command, observation=None):
        self.calls += 1
        target = np.asarray(command) + 0.1
        if self.calls - 1 == self.nan_tick:
            target[0] = np.nan
        return target, {}


def _loop(robot, controller, perception=lambda obs: np.zeros(3), **config):
    units = JointUnits.nominal(RANGES)
    defaults = dict(episode_steps=5, realtime=True, max_relative_target=None, watchdog_s=0.1)
    return DeployLoop(robot, controller, units, perception, LoopConfig(**{**defaults, **config}),
                      clock=robot.clock, sleep=lambda s: None)


def test_goals_follow_the_controller_within_limits_and_relative_cap() -> None:
    clock = Clock()
    robot = ScriptedRobot(clock, np.zeros(6) + [0, 0, 0, 0, 0, 50])
    record = _loop(robot, StepController(), max_relative_target=4.0).run_episode()
    assert record.steps == 5 and len(robot.sent) == 5
    steps = np.diff(np.stack(robot.sent)[:, :5], axis=0)
    np.testing.assert_allclose(steps, 4.0)  # 0.1 rad = 5.7 degrees asked, 4 allowed
    assert record.faults["clamped_relative"] == 5
    near_limit = ScriptedRobot(Clock(), np.degrees([1.9, 0, 0, 0, 0, 0]) + [0, 0, 0, 0, 0, 50])
    _loop(near_limit, StepController()).run_episode()
    assert max(g[0] for g in near_limit.sent) <= np.degrees(1.92) * 4096 / 4095 + 1e-6  # the joint's limit


def test_perception_with_a_reset_is_reset_at_each_episode_start() -> None:
    """The camera's tape fit is kept for one episode (perception.frame_anchor.EpisodeAnchor)."""
    class Perception:
        def __init__(self) -> None:
            self.resets, self.calls = 0, 0

        def reset(self) -> None:
            self.resets += 1

        def __call__(self, obs):
            self.calls += 1
            return np.zeros(3)

    perception = Perception()
    loop = _loop(ScriptedRobot(Clock(), np.zeros(6) + [0, 0, 0, 0, 0, 50]), StepController(), perception)
    loop.run_episode()
    assert (perception.resets, perception.calls) == (1, 5)
    loop.run_episode()
    assert (perception.resets, perception.calls) == (2, 10)


def test_late_reading_missing_sheet_and_nan_hold_position() -> None:
    clock = Clock()
    robot = ScriptedRobot(clock, np.full(6, 10.0), events={2: "slow"})
    record = _loop(robot, StepController(nan_tick=2)).run_episode()
    assert record.faults["late_observation"] == 1 and record.faults["nonfinite_target"] == 1
    held = [i for i, g in enumerate(robot.sent) if np.allclose(g, robot.sent[i - 1] if i else 10.0)]
    assert held == [2, 3]  # the late tick, then the NaN on the controller's third call
    blind = ScriptedRobot(Clock(), np.full(6, 10.0))
    record = _loop(blind, StepController(), perception=lambda obs: None).run_episode()
    assert record.faults["no_paper_yet"] == 5 and all(np.allclose(g, 10.0) for g in blind.sent)


def test_a_silent_robot_and_ctrl_c_end_holding_and_disconnected() -> None:
    robot = ScriptedRobot(Clock(), np.full(6, 10.0), events={3: "timeout"})
    with pytest.raises(RobotNotAnswering, match="did not answer a read .*hold its position"):
        _loop(robot, StepController()).run_episode()
    assert not robot.connected and np.allclose(robot.sent[-1], robot.sent[-2])  # the hold after the failure
    robot = ScriptedRobot(Clock(), np.full(6, 10.0), events={3: "interrupt"})
    with pytest.raises(KeyboardInterrupt):
        _loop(robot, StepController()).run_episode()
    assert not robot.connected and np.allclose(robot.sent[-1], robot.sent[-2])


def test_a_base_that_stops_answering_ends_holding_and_disconnected() -> None:
    class FailingBase(StepController):
        def __call__(self, seen, previous, est, command, observation=None):
            if self.calls == 2:
                raise BaseNotAnswering("the GR00T base failed 3 queries in a row (TimeoutError: no reply)")
            return super().__call__(seen, previous, est, command, observation)

    robot = ScriptedRobot(Clock(), np.full(6, 10.0))
    with pytest.raises(BaseNotAnswering, match="in a row .*hold its position and disconnected"):
        _loop(robot, FailingBase()).run_episode()
    assert not robot.connected and len(robot.sent) == 3 and np.allclose(robot.sent[-1], robot.sent[-2])


def test_units_follow_lerobots_formulas() -> None:
    calibration = {m: {"id": i + 1, "drive_mode": 0, "homing_offset": 0, "range_min": 1000, "range_max": 3000}
                   for i, m in enumerate(("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll",
                                          "gripper"))}
    units = units_from_calibration(calibration, RANGES, use_degrees=True)
    ticks = np.array([2000, 3000, 1000, 2047, 2500, 1500])
    reading = units.reading_of_ticks(ticks)
    np.testing.assert_allclose(reading[:5], (ticks[:5] - 2000) * 360 / 4095)
    assert reading[5] == pytest.approx(25.0)  # (1500 - 1000) / 2000 * 100
    np.testing.assert_allclose(units.to_rad(reading)[:5], (ticks[:5] - 2047) * 2 * math.pi / 4096)
    np.testing.assert_allclose(units.from_rad(units.to_rad(reading)), reading, atol=1e-9)
    m100 = units_from_calibration(calibration, RANGES, use_degrees=False)
    np.testing.assert_allclose(m100.reading_of_ticks(np.array([500, 1000, 2000, 3000, 3500, 3000]))[:5],
                               [-100, -100, 0, 100, 100])  # clamped to the range
    nominal = JointUnits.nominal(RANGES)
    q = np.array([0.3, -1.0, 1.2, 0.0, 2.5, 1.0])
    np.testing.assert_allclose(nominal.to_rad(nominal.reading_of_ticks(nominal.ticks_of_rad(q))), q, atol=1e-12)
    assert nominal.reading_of_ticks(nominal.ticks_of_rad(np.array(RANGES)[:, 1]))[5] == pytest.approx(100.0)


def test_calibration_files_are_checked(tmp_path) -> None:
    with pytest.raises(ValueError, match="no calibration file at .*calibrate the arm with LeRobot first"):
        read_calibration(tmp_path / "arm.json")
    (tmp_path / "arm.json").write_text('{"shoulder_pan": {"id": 1, "range_min": 0, "range_max": 4095}}')
    with pytest.raises(ValueError, match="motor 'shoulder_lift' lacks"):
        read_calibration(tmp_path / "arm.json")
    with pytest.raises(ValueError, match="range_min 3000 .. range_max 1000"):
        JointUnits(True, RANGES, ((3000, 1000),) * 6)
