"""`train.deploy`'s options and run (torch reaches it only as the `torch_side` the CLI passes in:
`bridge.deploy_side`, so this library never imports torch). See train/deploy.py for the command."""


import dataclasses
import json
import math
import os
import sys
import time
from typing import Any, Literal

import numpy as np

from mjx_gr00t.datasets.lerobot_v21 import V21Writer
from mjx_gr00t.datasets.spec import CAMERAS
from mjx_gr00t.deploy.loop import (
    FAULTS, BaseNotAnswering, DeployLoop, EpisodeRecord, LoopConfig, RobotNotAnswering, tick_stats,
)
from mjx_gr00t.errors import UsageError
from mjx_gr00t.evaluation import wilson
from mjx_gr00t.export.format import read_meta, write_json_atomic
from mjx_gr00t.machine import machine, machine_line


GROOT_REPLY_TIMEOUT_S = 10.0
"""How long a GR00T server's reply may take before the query fails (three failures in a row end the
run); chunks older than --max-chunk-age-s are refused sooner, holding the arm."""


@dataclasses.dataclass(frozen=True)
class Args:
    """Deploy an exported residual and its base on a robot (or the twin standing in for one)."""

    export: str
    """Export directory (python -m train.export), of a paper_square run on robot observations."""
    robot: Literal["sim", "so101"] = "sim"
    """sim: the digital twin as a stand-in SO-101, scored; so101: LeRobot's SO-101 follower."""
    episodes: int = 10
    """Episodes to run (on the SO-101: place the sheet and press Enter before each)."""
    perception: Literal["camera", "model"] = "camera"
    """camera: the top camera's frame through the paper-pose estimator (what a real rig runs);
    model: the twin's estimate noise model, as in training (stand-in only)."""
    hz: float = 30.0
    """Tick rate, Hz (the policy's)."""
    realtime: bool | None = None
    """Pace ticks to --hz; default: on for so101, off for sim (as fast as the CPU allows)."""
    max_relative_target: float | None = 15.0
    """Largest goal change from the present position per tick, in the robot's units (degrees)."""
    watchdog_s: float = 0.1
    """A reading slower than this, or a tick overrunning its period by this, holds position, s."""
    base_latency_ms: float = 0.0
    """The base action arrives this late (rounded up to whole ticks): the residual and the target
    use the base computed from an older reading."""
    command_latency_ms: float | None = None
    """sim: ms before a goal reaches the servos, a whole number of ticks at --hz (0, 33, 66);
    default: drawn per episode by the twin's DR (0 to 2 ticks), as in training."""
    seed: int = 1_000_000
    """sim: seed of the episodes' DR draws (train.evaluate's held-out seed by default)."""
    dr: bool = True
    """sim: the twin's domain randomisation (sheet, physics, servos, estimate, cameras)."""
    port: str | None = None
    """so101: the arm's serial port, e.g. /dev/ttyACM0."""
    robot_id: str = "so101_follower"
    """so101: the id its LeRobot calibration was saved under."""
    calibration_dir: str | None = None
    """so101: directory of <robot-id>.json (default: LeRobot's)."""
    use_degrees: bool = True
    """Arm joints in degrees (LeRobot's default), else -100..100 of their calibrated range."""
    groot_model: str | None = None
    """GR00T base: the checkpoint directory here (default: the one the export records)."""
    groot_server: str | None = None
    """GR00T base: query a running inference server at tcp://HOST:PORT instead of loading it here."""
    max_chunk_age_s: float = 1.0
    """GR00T base: a chunk planned from a reading older than this is stale (the arm holds), s."""
    record: str | None = None
    """Write every episode to DIR as a LeRobot v2.1 dataset (state: readings, action: goals sent,
    both cameras at 320 x 240; resumes an existing one), for fine-tuning GR00T."""
    task: str = "Slide the paper into the red square."
    """The task text recorded with each episode."""
    front_camera: str | None = None
    """so101: the top camera, an OpenCV index or device path (e.g. 0 or /dev/video0)."""
    wrist_camera: str | None = None
    """so101: the wrist camera, likewise."""
    log: str | None = None
    """Write every tick of every episode to DIR/ticks.jsonl (created)."""
    json: str | None = None
    """Write the run's record (success, faults, tick times, machine) to this JSON file."""


def _latency_steps(args: Args) -> int | None:
    if args.command_latency_ms is None:
        return None
    steps = args.command_latency_ms * args.hz / 1000.0
    if abs(steps - round(steps)) > 0.05 or not 0 <= round(steps) <= 2:
        raise UsageError(f"--command-latency-ms {args.command_latency_ms}: the twin models 0, 1 or 2 ticks at "
                         f"{args.hz:g} Hz (0, {1000 / args.hz:.0f} or {2000 / args.hz:.0f} ms)")
    return int(round(steps))


def validate(args: Args) -> None:
    """UsageError (one line) for a bad flag."""
    if not os.path.isdir(args.export):
        raise UsageError(f"--export {args.export!r} is not a directory (write one with python -m train.export)")
    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if args.perception == "model" and args.robot != "sim":
        raise UsageError("--perception model is the twin's noise model, which only the sim stand-in has; a real "
                         "robot uses --perception camera")
    if args.robot == "so101" and not args.port:
        raise UsageError("--robot so101 needs --port (the arm's serial port, e.g. /dev/ttyACM0)")
    if args.robot == "so101" and args.perception == "camera" and args.front_camera is None:
        raise UsageError("--perception camera on the SO-101 needs --front-camera (the top camera's OpenCV index or path)")
    if args.robot == "so101" and args.record and (args.front_camera is None or args.wrist_camera is None):
        raise UsageError("--record needs both cameras: --front-camera and --wrist-camera")
    if args.base_latency_ms < 0:
        raise UsageError(f"--base-latency-ms must be >= 0, got {args.base_latency_ms}")
    for flag, path in (("--json", args.json),):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise UsageError(f"{flag} {path!r}: its directory does not exist")
    try:
        LoopConfig(hz=args.hz, max_relative_target=args.max_relative_target, watchdog_s=args.watchdog_s)
    except ValueError as e:
        raise UsageError(str(e)) from e
    _latency_steps(args)


def build(args: Args, torch_side: Any) -> tuple[Any, Any, Any, Any, Any]:
    """(robot, units, controller, perception, start_episode or None), connected; UsageError for an
    export that does not fit, a missing driver, or a robot that will not connect."""
    from mjx_gr00t.deploy.controller import DeployPolicy, ExportMismatch
    from mjx_gr00t.deploy.sim_robot import SimRobot, SimRobotConfig
    from mjx_gr00t.envs.paper_rig import PaperRigTask
    from mjx_gr00t.envs.paper_rig_config import PaperRigConfig

    scene = PaperRigConfig(engine="c", num_envs=1)
    task = PaperRigTask(scene)
    delay = math.ceil(args.base_latency_ms * args.hz / 1000.0 - 1e-9)
    try:
        residual = torch_side.load_residual(args.export)
        chunks = None
        if read_meta(args.export).get("base") == "groot":
            # The socket may wait longer than a chunk may age: a late chunk is a stale-base fault
            # (the arm holds) either way, and a cold server's first answer can take seconds.
            groot = torch_side.load_groot(args.export, args.groot_model, args.groot_server,
                                          max(args.max_chunk_age_s, GROOT_REPLY_TIMEOUT_S))
            chunks = torch_side.groot_chunks(groot, np.asarray(scene.home_qpos), args.max_chunk_age_s)
        controller = DeployPolicy.for_export(residual, task, base_delay_ticks=delay, chunks=chunks)
    except ExportMismatch as e:
        raise UsageError(f"--export {args.export!r}: {e}") from e
    except (FileNotFoundError, ValueError, ImportError, OSError) as e:  # OSError: a server that times out
        raise UsageError(f"--export {args.export!r}: {e}") from e
    if args.robot == "sim":
        cameras = ("front",) if args.perception == "camera" else ()
        cameras = ("front", "wrist") if controller.base_name == "groot" or args.record else cameras
        robot = SimRobot(SimRobotConfig(seed=args.seed, command_latency_steps=_latency_steps(args), cameras=cameras,
                                        use_degrees=args.use_degrees, dr=args.dr, scene=scene))
        try:
            robot.connect()
        except Exception as e:  # noqa: BLE001  (no GL backend, mostly)
            raise UsageError(f"the sim stand-in could not start: {str(e).splitlines()[0]}") from e
        units, start = robot.units, robot.start_episode
        robot.episode = -1  # connect() started episode 0; the loop starts each one itself
    else:
        from mjx_gr00t.deploy.so101 import connect_so101

        try:
            cameras = {name: index for name, index in (("front", args.front_camera), ("wrist", args.wrist_camera))
                       if index is not None}
            robot, units = connect_so101(args.port, args.robot_id, args.calibration_dir, args.use_degrees,
                                         args.max_relative_target, task.mj_model.jnt_range[:6], cameras)
        except ImportError as e:
            raise UsageError(str(e).split(" (")[0]) from e
        except (ValueError, OSError, ConnectionError, TimeoutError) as e:
            raise UsageError(f"--robot so101 on {args.port}: {e}") from e
        start = None
    problem = units_problem(residual.meta, units)
    if problem:
        robot.disconnect()
        raise UsageError(f"--export {args.export!r}: {problem}")
    if args.perception == "model":
        perception = lambda obs: robot.paper_estimate()  # noqa: E731
    else:
        perception = camera_perception(task)
    return robot, units, controller, perception, start


def save_episode(writer: Any, record: EpisodeRecord, task: str) -> None:
    """The episode's readings, goals and frames as one dataset episode (next.success on its last
    frame when the stand-in scored it a success), then dropped from memory."""
    length = len(record.states)
    if length == 0:
        return
    success = np.zeros(length, bool)
    success[-1] = bool(record.success)
    frames = {key: np.stack(record.frames[cam]) for key, cam in CAMERAS.items()}
    writer.add_episode(np.stack(record.states), np.stack(record.actions), frames, task, {"next.success": success})
    record.states.clear(), record.actions.clear(), record.frames.clear()


def units_problem(meta: dict[str, Any], units: Any) -> str | None:
    """Why the robot's units differ from those the export records (residual.json "units"), or None:
    the arm in degrees or -100..100, the gripper in percent of its range."""
    recorded = [j.get("lerobot_unit") for j in meta.get("units", {}).get("joints", [])]
    robot = ["percent_of_range" if name == "gripper" else ("deg" if units.use_degrees else "range_m100_100")
             for name in meta.get("joint_names", [])]
    if recorded != robot:
        return (f"it records LeRobot units {recorded}, the robot reports {robot} (use_degrees={units.use_degrees}); "
                f"connect it with --use-degrees as the export expects")
    return None


class CameraPerception:
    """observation -> the top camera's estimate (x, y, yaw) or None, through the rig's nominal camera
    and then onto the red tape the frame shows, fitted once per episode (`perception.frame_anchor.
    EpisodeAnchor`; the loop calls `reset` at each episode's start)."""

    def __init__(self, task: Any) -> None:
        from mjx_gr00t.perception.camera_model import CameraModel
        from mjx_gr00t.perception.frame_anchor import EpisodeAnchor, TapeFrame
        from mjx_gr00t.perception.in_the_loop import HEIGHT, WIDTH

        camera = CameraModel.from_mujoco(task.mj_model, "front", WIDTH, HEIGHT)
        self.anchor = EpisodeAnchor(camera, task.config.paper_size, TapeFrame.from_config(task.config))

    def reset(self) -> None:
        self.anchor.reset()

    def __call__(self, obs: dict[str, Any]) -> np.ndarray | None:
        est = self.anchor(obs["front"])
        return None if est is None else np.array([*est.centre, est.yaw])


def camera_perception(task: Any) -> CameraPerception:
    """The deployed loop's camera perception of `task` (see CameraPerception)."""
    return CameraPerception(task)


def summary(args: Args, records: list[EpisodeRecord], wall_s: float, controller: Any = None) -> dict[str, Any]:
    """The run's record (with a GR00T base, its query latencies too)."""
    faults = {k: sum(r.faults[k] for r in records) for k in FAULTS}
    scored = [r for r in records if r.success is not None]
    out: dict[str, Any] = {
        "command": "python -m train.deploy " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("deploy.py") else None,
        "args": dataclasses.asdict(args), "episodes": len(records), "faults": faults,
        "tick_ms": tick_stats(records), "mean_steps": float(np.mean([r.steps for r in records])),
        "wall_s": wall_s,
    }
    if scored:
        wins = sum(r.success for r in scored)
        out.update(success_rate=wins / len(scored), success_ci95=list(wilson(wins, len(scored))))
    chunks = getattr(controller, "chunks", None)
    if chunks is not None and chunks.latencies_s:
        lat = 1000 * np.asarray(chunks.latencies_s)
        out["groot_query_ms"] = {"queries": int(lat.size), "median": float(np.median(lat)),
                                 "p99": float(np.percentile(lat, 99)), "max": float(lat.max())}
    info = machine()
    out.update(machine=machine_line(info), machine_info=info)
    return out


def deploy(args: Args, torch_side: Any) -> dict[str, Any]:
    """Runs the episodes; returns the record (also printed, and written to --json). torch_side:
    `bridge.deploy_side` (load_residual, load_groot, groot_chunks)."""
    validate(args)
    robot, units, controller, perception, start = build(args, torch_side)
    realtime = args.realtime if args.realtime is not None else args.robot != "sim"
    config = LoopConfig(hz=args.hz, episode_steps=300, realtime=realtime,
                        max_relative_target=args.max_relative_target, watchdog_s=args.watchdog_s)
    loop = DeployLoop(robot, controller, units, perception, config, log_ticks=bool(args.log),
                      keep_frames=tuple(CAMERAS.values()) if args.record else ())
    writer = V21Writer(args.record) if args.record else None
    records: list[EpisodeRecord] = []
    log = None
    if args.log:
        os.makedirs(args.log, exist_ok=True)
        log = open(os.path.join(args.log, "ticks.jsonl"), "w")
    t0 = time.perf_counter()
    try:
        for i in range(args.episodes):
            if start is None:
                input(f"episode {i + 1}/{args.episodes}: place the sheet, then press Enter (Ctrl-C stops) ")
            record = loop.run_episode(start)
            records.append(record)
            if writer is not None:
                save_episode(writer, record, args.task)
            if log is not None:
                for tick in record.ticks:
                    log.write(json.dumps({"episode": record.episode, **tick}) + "\n")
                record.ticks.clear()
            wins = sum(bool(r.success) for r in records)
            verdict = "" if record.success is None else (" success" if record.success else " no success")
            print(f"episode {i + 1}/{args.episodes}: {record.steps} ticks{verdict}; "
                  f"{wins}/{len(records)} so far; faults {sum(record.faults.values())}", flush=True)
    except KeyboardInterrupt:
        print("stopped (Ctrl-C): the arm was told to hold its position and disconnected", file=sys.stderr)
    except (RobotNotAnswering, BaseNotAnswering) as e:
        raise UsageError(str(e)) from e
    finally:
        if log is not None:
            log.close()
        if robot.is_connected:
            robot.disconnect()
    record = summary(args, records, time.perf_counter() - t0, controller)
    line = f"{len(records)} episodes on {args.robot}"
    if "success_rate" in record:
        lo, hi = record["success_ci95"]
        line += f": success {record['success_rate']:.1%} (95 % CI {lo:.1%}..{hi:.1%})"
    ticks = record["tick_ms"]
    if ticks.get("ticks"):
        line += f"; tick median {ticks['median_ms']:.1f} ms, p99 {ticks['p99_ms']:.1f} ms"
    print(f"{line}; faults {record['faults']}; {record['machine']}")
    if args.json:
        write_json_atomic(args.json, record)
        print(f"wrote {args.json}")
    return record
