"""`so101`: LeRobot's SO-101 follower, imported only when asked for, with its units checked.

    robot, units = connect_so101(port="/dev/ttyACM0", robot_id="my_arm", calibration_dir=None,
                                 use_degrees=True, max_relative_target=15.0, sim_ranges=RANGES)

LeRobot is not part of this project's install: every LeRobot release the registry serves pins a
torch older than ours (shared/reference/lerobot.md), so it comes in by hand, without its
dependencies; INSTALL_HINT says how. Units come from the robot itself: `use_degrees` from its
config, and the tick ranges from its calibration file, which must exist (calibrate with LeRobot).
"""

import os
from typing import Any

from mjx_gr00t.deploy.robot import JointUnits, read_calibration, units_from_calibration

INSTALL_HINT = ("--robot so101 needs LeRobot's SO-101 driver: `.venv/bin/pip install -e '.[robot]'` then "
                "`.venv/bin/pip install --no-deps lerobot==0.4.4` (with its dependencies it would replace this "
                "project's torch pin; see README, 'Deploying on an SO-101')")
CALIBRATION_SUBDIR = os.path.join("robots", "so_follower")


def calibration_path(robot_id: str, calibration_dir: str | None) -> str:
    """Where LeRobot keeps the follower's calibration: <dir>/<id>.json, the default dir being
    $HF_LEROBOT_CALIBRATION/robots/so_follower (else $HF_HOME/lerobot/calibration/...)."""
    if calibration_dir:
        return os.path.join(calibration_dir, f"{robot_id}.json")
    root = os.environ.get("HF_LEROBOT_CALIBRATION") or os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "lerobot", "calibration")
    return os.path.join(root, CALIBRATION_SUBDIR, f"{robot_id}.json")


def connect_so101(port: str, robot_id: str, calibration_dir: str | None, use_degrees: bool,
                  max_relative_target: float | None, sim_ranges: Any,
                  cameras: dict[str, str] | None = None) -> tuple[Any, JointUnits]:
    """The connected follower and its units. cameras: {'front' | 'wrist': OpenCV index or device
    path}, opened at the rig's 320 x 240, 30 fps. ImportError with INSTALL_HINT when LeRobot is
    missing; ValueError for a missing or incomplete calibration file."""
    try:
        from lerobot.cameras.opencv.configuration_opencv import OpenCVCameraConfig
        from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} ({type(e).__name__}: {e})") from e
    camera_configs = {name: OpenCVCameraConfig(index_or_path=int(where) if str(where).isdigit() else where,
                                               fps=30, width=320, height=240)
                      for name, where in (cameras or {}).items()}
    path = calibration_path(robot_id, calibration_dir)
    units = units_from_calibration(read_calibration(path), sim_ranges, use_degrees)
    config = SO101FollowerConfig(port=port, id=robot_id, use_degrees=use_degrees, cameras=camera_configs,
                                 max_relative_target=max_relative_target, disable_torque_on_disconnect=True,
                                 calibration_dir=os.path.dirname(path))
    robot = SO101Follower(config)
    robot.connect(calibrate=False)
    return robot, units
