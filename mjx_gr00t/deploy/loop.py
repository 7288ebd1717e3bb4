"""The deploy loop: read the robot, estimate the sheet, run the controller, guard, send; at 30 Hz.

    loop = DeployLoop(robot, controller, units, perception, LoopConfig())
    record = loop.run_episode()         # EpisodeRecord: steps, success (stand-in), faults, tick times

Each tick:
1. read the robot (`get_observation`): joint readings in its units -> rad (`JointUnits`);
2. the paper-pose estimate: the top camera's frame through `perception.paper_estimator` (the last
   estimate is held while the sheet is not found), or the stand-in's noise model;
3. the controller (`bridge.deploy_policy.DeployPolicy`): the joint target, rad;
4. guards: the target within the joint limits, and within `max_relative_target` of the present
   position (robot units, as LeRobot's follower applies it);
5. send (`send_action`); the running target becomes what was sent.

The watchdog holds position (sends the present position as the goal) when a reading takes longer
than `watchdog_s`, when a tick's work overruns its period by more than `watchdog_s` (these two in
real time only: unpaced, on the stand-in, its clock waits for the loop), when no sheet has been
seen yet, when the base has no usable action, or when the controller returns a non-finite target. Every fault is counted and
logged with its tick. A robot that stops answering, and Ctrl-C, end the run after telling the arm
to hold its position and disconnecting it (the SO-101 then disables torque).
"""

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from mjx_gr00t.deploy.robot import JointUnits, Robot, position_keys

FAULTS: tuple[str, ...] = ("late_observation", "late_tick", "no_paper_yet", "nonfinite_target", "no_base_yet",
                           "stale_base", "clamped_relative")
"""Faults the loop counts (`clamped_relative` is a guard that acted, not an error; `no_base_yet` and
`stale_base`: an asynchronous base, GR00T, had no chunk, or only one too old or used up)."""


class RobotNotAnswering(RuntimeError):
    """The robot raised or timed out while being read or commanded; the arm was told to hold."""


class BaseNotAnswering(RuntimeError):
    """The base (GR00T, in process or over ZMQ) failed query after query; the loop then tells the
    arm to hold, disconnects it and ends."""


class Controller(Protocol):
    def reset(self) -> None: ...

    def __call__(self, seen: np.ndarray, previous: np.ndarray, est: np.ndarray, command: np.ndarray,
                 observation: dict[str, Any] | None = None) -> tuple[np.ndarray | None, dict[str, Any]]:
        """The joint target (6,) rad, or None to hold with parts["fault"] naming why."""
        ...


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Timing and guards of the deploy loop."""

    hz: float = 30.0
    """Tick rate (the policy's: 30 Hz)."""
    episode_steps: int = 300
    """Ticks per episode (the twin's episode length)."""
    realtime: bool = True
    """Pace ticks to `hz` (off: as fast as the robot answers, for scoring on the stand-in)."""
    max_relative_target: float | None = 15.0
    """Largest goal change from the present position per tick, robot units (degrees; None: none).
    The trained loop moves at most act_scale (0.05 rad, 2.9 degrees) a tick past its command."""
    watchdog_s: float = 0.1
    """A reading slower than this, or a tick overrunning its period by this, holds position."""

    def __post_init__(self) -> None:
        if not self.hz > 0:
            raise ValueError(f"hz must be > 0, got {self.hz}")
        if self.episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {self.episode_steps}")
        if self.max_relative_target is not None and not self.max_relative_target > 0:
            raise ValueError(f"max_relative_target must be > 0 (or None), got {self.max_relative_target}")
        if not self.watchdog_s > 0:
            raise ValueError(f"watchdog_s must be > 0, got {self.watchdog_s}")


@dataclasses.dataclass
class EpisodeRecord:
    """One deployed episode."""

    episode: int
    steps: int = 0
    success: bool | None = None  # the stand-in's verdict; None on a real robot
    faults: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(FAULTS, 0))
    tick_s: list[float] = dataclasses.field(default_factory=list)  # each tick's work, s: read + compute + send
    read_s: list[float] = dataclasses.field(default_factory=list)  # the robot's read (a stand-in renders here)
    send_s: list[float] = dataclasses.field(default_factory=list)  # the robot's send (a stand-in steps physics)
    ticks: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # per-tick log
    states: list[np.ndarray] = dataclasses.field(default_factory=list)  # kept frames: readings, robot units
    actions: list[np.ndarray] = dataclasses.field(default_factory=list)  # ... the goals sent
    frames: dict[str, list[np.ndarray]] = dataclasses.field(default_factory=dict)  # ... camera images


Perception = Callable[[dict[str, Any]], np.ndarray | None]
"""observation -> (3,) sheet x, y (m, table frame), yaw (rad), or None where it is not found."""


class DeployLoop:
    """See the module docstring. `clock` and `sleep` are injectable for tests."""

    def __init__(self, robot: Robot, controller: Controller, units: JointUnits, perception: Perception,
                 config: LoopConfig = LoopConfig(), clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep, log_ticks: bool = True,
                 keep_frames: tuple[str, ...] = ()) -> None:
        """keep_frames: cameras whose images, with every reading and goal sent, each episode keeps
        (for recording it as a dataset)."""
        self.robot, self.controller, self.units, self.perception = robot, controller, units, perception
        self.keep_frames = keep_frames
        self.config, self.clock, self.sleep, self.log_ticks = config, clock, sleep, log_ticks
        self.keys = position_keys()
        self.episodes = 0
        self._last_reading: np.ndarray | None = None
        self.low, self.high = (units.from_rad(np.asarray(units.sim_ranges, np.float64)[:, i]) for i in (0, 1))

    # ----- helpers -----
    def _read(self) -> tuple[dict[str, Any], np.ndarray, float]:
        t0 = self.clock()
        try:
            obs = self.robot.get_observation()
        except (TimeoutError, ConnectionError, OSError) as e:
            self._hold_and_stop(self._last_reading)
            raise RobotNotAnswering(f"the robot did not answer a read ({type(e).__name__}: {e}); the arm was "
                                    f"told to hold its position and disconnected") from e
        reading = np.array([obs[k] for k in self.keys], np.float64)
        self._last_reading = reading
        return obs, reading, self.clock() - t0

    def _send(self, goal: np.ndarray) -> np.ndarray:
        try:
            sent = self.robot.send_action(dict(zip(self.keys, map(float, goal))))
        except (TimeoutError, ConnectionError, OSError) as e:
            self._hold_and_stop(self._last_reading)
            raise RobotNotAnswering(f"the robot did not take a command ({type(e).__name__}: {e}); it was "
                                    f"told to hold its position and disconnected") from e
        return np.array([sent[k] for k in self.keys], np.float64)

    def _hold_and_stop(self, fallback: np.ndarray | None) -> None:
        """Best effort: the present position as the goal (read afresh; else `fallback`, the last
        reading), then disconnect."""
        present = fallback
        try:
            try:
                obs = self.robot.get_observation()
                present = np.array([obs[k] for k in self.keys], np.float64)
            except Exception:  # noqa: BLE001  (a failing robot: hold at the last reading)
                pass
            if present is not None:
                self.robot.send_action(dict(zip(self.keys, map(float, present))))
        except Exception:  # noqa: BLE001  (the robot is already failing; disconnect regardless)
            pass
        finally:
            try:
                self.robot.disconnect()
            except Exception:  # noqa: BLE001
                pass

    # ----- one episode -----
    def run_episode(self, start: Callable[[], None] | None = None) -> EpisodeRecord:
        """Runs one episode; `start` (e.g. the stand-in's `start_episode`) is called first. Ends at
        `episode_steps` ticks or when the stand-in reports success."""
        c = self.config
        period = 1.0 / c.hz
        if start is not None:
            start()
        self.controller.reset()
        if hasattr(self.perception, "reset"):  # e.g. the camera's tape fit, once per episode
            self.perception.reset()
        record = EpisodeRecord(episode=self.episodes)
        self.episodes += 1
        obs, reading, _ = self._read()
        present = self.units.to_rad(reading)
        previous, command, est = present, present, None
        next_tick = self.clock()
        try:
            for step in range(c.episode_steps):
                t0 = self.clock()
                if step:
                    obs, reading, read_s = self._read()
                    present = self.units.to_rad(reading)
                else:
                    read_s = 0.0
                seen = self.perception(obs)
                est = est if seen is None else np.asarray(seen, np.float64)
                fault = None
                if c.realtime and read_s > c.watchdog_s:
                    fault = "late_observation"
                elif est is None:
                    fault = "no_paper_yet"
                parts: dict[str, Any] = {}
                if fault is None:
                    target, parts = self.controller(present, previous, est, command, obs)
                    if target is None:
                        fault = parts.pop("fault", "no_base_yet")
                    elif not np.all(np.isfinite(target)):
                        fault = "nonfinite_target"
                if fault is None:
                    goal = np.clip(self.units.from_rad(target), self.low, self.high)
                    if c.max_relative_target is not None:
                        capped = np.clip(goal, reading - c.max_relative_target, reading + c.max_relative_target)
                        if not np.array_equal(capped, goal):
                            record.faults["clamped_relative"] += 1
                        goal = capped
                else:
                    record.faults[fault] += 1
                    goal = reading  # hold position
                work = self.clock() - t0
                if c.realtime and fault is None and work > period + c.watchdog_s:
                    record.faults["late_tick"] += 1
                    fault, goal = "late_tick", reading
                t_send = self.clock()
                sent = self._send(goal)
                record.send_s.append(self.clock() - t_send)
                record.read_s.append(read_s)
                if self.keep_frames:
                    record.states.append(reading)
                    record.actions.append(sent)
                    for cam in self.keep_frames:
                        record.frames.setdefault(cam, []).append(obs[cam])
                command = self.units.to_rad(sent)
                previous = present
                record.steps = step + 1
                record.tick_s.append(self.clock() - t0)
                if self.log_ticks:
                    record.ticks.append({"step": step, "read_s": read_s, "tick_s": record.tick_s[-1], "fault": fault,
                                         "goal": np.round(goal, 4).tolist(),
                                         **{k: np.round(np.asarray(v, np.float64), 5).tolist()
                                            for k, v in parts.items() if k != "obs"}})
                success = getattr(self.robot, "success", None)
                if success is not None:
                    record.success = bool(success)
                    if success:
                        break
                if c.realtime:
                    next_tick += period
                    delay = next_tick - self.clock()
                    if delay > 0:
                        self.sleep(delay)
                    else:
                        next_tick = self.clock()
        except KeyboardInterrupt:
            self._hold_and_stop(reading)
            raise
        except BaseNotAnswering as e:
            self._hold_and_stop(reading)
            raise BaseNotAnswering(f"{e}; the arm was told to hold its position and disconnected") from e
        return record


def tick_stats(records: list[EpisodeRecord]) -> dict[str, float]:
    """Tick times over the episodes, ms: the whole tick, and its parts: the robot's read, the loop's
    own compute (perception, controller, guards) and the robot's send; median, p99 and max each."""
    def cat(name: str) -> np.ndarray:
        parts = [np.asarray(getattr(r, name)) for r in records if getattr(r, name)]
        return np.concatenate(parts) if parts else np.zeros(0)

    total, read, send = cat("tick_s"), cat("read_s"), cat("send_s")
    if total.size == 0:
        return {"ticks": 0}
    out: dict[str, float] = {"ticks": int(total.size)}
    for name, values in (("tick", total), ("read", read), ("compute", total - read - send), ("send", send)):
        prefix = "" if name == "tick" else f"{name}_"
        out.update({f"{prefix}median_ms": float(1000 * np.median(values)),
                    f"{prefix}p99_ms": float(1000 * np.percentile(values, 99)),
                    f"{prefix}max_ms": float(1000 * values.max())})
    return out


def within(value: float, interval: tuple[float, float]) -> bool:
    lo, hi = interval
    return lo - 1e-12 <= value <= hi + 1e-12 and not math.isnan(value)
