"""What LeRobot v2.1 and v3.0 datasets of SO-101 episodes share: features, Isaac-GR00T's modality,
per-episode statistics and the frame table's columns.

Units and names: `observation.state` (the joint readings) and `action` (the goals sent) are 6-D
float32 in LeRobot's units (degrees for the arm from the calibrated middle, 0..100 for the gripper).
Their names are the real data's motor_1 .. motor_6 (`DatasetSpec.names="motor"`) so that episodes
mix with it; motor_i is LeRobot's `<MOTORS[i-1]>.pos` (shoulder_pan.pos ... gripper.pos), which
`names="lerobot"` writes instead. Cameras: `observation.images.main` (top) and
`observation.images.secondary_0` (wrist), 240 x 320, H.264.
"""

import dataclasses
import json
import os
from typing import Any

import numpy as np
import pyarrow as pa

from mjx_gr00t.datasets.video import CODEC, PIX_FMT
from mjx_gr00t.deploy.robot import MOTORS

CAMERAS: dict[str, str] = {"observation.images.main": "front", "observation.images.secondary_0": "wrist"}
"""Dataset camera key -> the twin's / the robot's camera."""
CHUNK = 1000
"""Files (v3.0) or episodes (v2.1) per chunk directory."""
IMAGE_STATS_FRAMES = 32
"""Frames per episode and camera that image statistics are taken from (evenly spaced)."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What every episode of a dataset shares."""

    fps: int = 30
    robot_type: str = "so-100"
    """The real paper-return data's robot_type (LeRobot's SO-100/101 family)."""
    names: str = "motor"
    """Joint names: 'motor' (motor_1 .. motor_6, as the real data) or 'lerobot' (<joint>.pos)."""
    cameras: tuple[str, ...] = tuple(CAMERAS)
    """Camera keys, each 240 x 320 x 3."""
    height: int = 240
    width: int = 320
    extra: tuple[tuple[str, str], ...] = (("next.success", "bool"),)
    """Further per-frame columns (name, dtype): e.g. the stand-in's success flag."""

    def __post_init__(self) -> None:
        if self.names not in ("motor", "lerobot"):
            raise ValueError(f"names must be 'motor' or 'lerobot', got {self.names!r}")
        if self.fps < 1:
            raise ValueError(f"fps must be >= 1, got {self.fps}")

    @property
    def joint_names(self) -> list[str]:
        return [f"motor_{i + 1}" for i in range(6)] if self.names == "motor" else [f"{m}.pos" for m in MOTORS]

    def features(self) -> dict[str, Any]:
        """info.json's features."""
        vector = {"dtype": "float32", "shape": [6], "names": self.joint_names}
        video = {"dtype": "video", "shape": [self.height, self.width, 3], "names": ["height", "width", "channels"],
                 "info": {"video.height": self.height, "video.width": self.width, "video.codec": CODEC,
                          "video.pix_fmt": PIX_FMT, "video.is_depth_map": False, "video.fps": self.fps,
                          "video.channels": 3, "has_audio": False}}
        scalar = lambda dtype: {"dtype": dtype, "shape": [1], "names": None}  # noqa: E731
        return {"observation.state": vector, "action": dict(vector), **{k: video for k in self.cameras},
                **{name: scalar(dtype) for name, dtype in self.extra},
                "timestamp": scalar("float32"), "frame_index": scalar("int64"), "episode_index": scalar("int64"),
                "index": scalar("int64"), "task_index": scalar("int64")}


def modality() -> dict[str, Any]:
    """Isaac-GR00T's meta/modality.json for the so100_dualcam data config: arm (5) + gripper (1)
    slices of state and action, the two cameras, and the task as the language annotation."""
    parts = {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}}
    return {"state": parts, "action": parts,
            "video": {"front": {"original_key": "observation.images.main"},
                      "wrist": {"original_key": "observation.images.secondary_0"}},
            "annotation": {"human.task_description": {"original_key": "task_index"}}}


QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)
"""The quantiles LeRobot v3.0 keeps per feature (q01, q10, q50, q90, q99)."""


def stats(values: np.ndarray, quantiles: bool = False) -> dict[str, list]:
    """min, max, mean, std, count of (N, D) values, per dimension; with `quantiles` also q01 .. q99."""
    v = np.asarray(values, np.float64).reshape(len(values), -1)
    out = {"min": v.min(0).tolist(), "max": v.max(0).tolist(), "mean": v.mean(0).tolist(),
           "std": v.std(0).tolist(), "count": [int(len(v))]}
    if quantiles:
        out.update({f"q{round(100 * q):02d}": np.quantile(v, q, axis=0).tolist() for q in QUANTILES})
    return out


def image_stats(frames: np.ndarray, quantiles: bool = False) -> dict[str, list]:
    """Per-channel stats of RGB frames scaled to [0, 1], shaped (3, 1, 1) as LeRobot keeps them (from
    IMAGE_STATS_FRAMES evenly spaced frames); with `quantiles` also q01 .. q99."""
    pick = np.linspace(0, len(frames) - 1, min(IMAGE_STATS_FRAMES, len(frames))).round().astype(int)
    x = frames[pick].astype(np.float64).reshape(-1, 3) / 255.0
    shape = lambda a: [[[float(c)]] for c in a]  # noqa: E731
    out = {"min": shape(x.min(0)), "max": shape(x.max(0)), "mean": shape(x.mean(0)), "std": shape(x.std(0)),
           "count": [int(len(pick))]}
    if quantiles:
        out.update({f"q{round(100 * q):02d}": shape(np.quantile(x, q, axis=0)) for q in QUANTILES})
    return out


@dataclasses.dataclass(frozen=True)
class Episode:
    """One episode's content: states, actions (T, 6) in LeRobot units, frames {camera key: uint8
    (T, H, W, 3)}, extra {column: (T,)} for the spec's extra columns."""

    states: np.ndarray
    actions: np.ndarray
    frames: dict[str, np.ndarray]
    extra: dict[str, np.ndarray]

    def check(self, spec: DatasetSpec) -> int:
        """The episode's length T; ValueError (what is wrong) where it does not fit `spec`."""
        states, actions = np.asarray(self.states), np.asarray(self.actions)
        length = len(states)
        if length < 1 or states.shape != (length, 6) or actions.shape != (length, 6):
            raise ValueError(f"states and actions must both be (T >= 1, 6), got {states.shape} and {actions.shape}")
        if set(self.frames) != set(spec.cameras):
            raise ValueError(f"frames must hold the cameras {list(spec.cameras)}, got {list(self.frames)}")
        for key, video in self.frames.items():
            if np.shape(video) != (length, spec.height, spec.width, 3):
                raise ValueError(f"{key}: frames must be ({length}, {spec.height}, {spec.width}, 3), "
                                 f"got {np.shape(video)}")
        if set(self.extra) != {name for name, _ in spec.extra}:
            raise ValueError(f"extra columns must be {[n for n, _ in spec.extra]}, got {list(self.extra)}")
        return length


@dataclasses.dataclass(frozen=True)
class Place:
    """Where an episode goes: its episode index, the global index of its first frame, its task's index."""

    episode_index: int
    index0: int
    task_index: int


def episode_stats(spec: DatasetSpec, ep: Episode, at: Place, quantiles: bool = False) -> dict[str, dict[str, list]]:
    """Every feature's stats for one episode."""
    length = len(ep.states)
    frame_index = np.arange(length)
    return {"observation.state": stats(ep.states, quantiles), "action": stats(ep.actions, quantiles),
            **{key: image_stats(np.asarray(video), quantiles) for key, video in ep.frames.items()},
            **{name: stats(np.asarray(ep.extra[name], np.float64)[:, None], quantiles) for name, _ in spec.extra},
            "timestamp": stats((frame_index / spec.fps)[:, None], quantiles),
            "frame_index": stats(frame_index[:, None], quantiles),
            "episode_index": stats(np.full((length, 1), at.episode_index), quantiles),
            "index": stats((at.index0 + frame_index)[:, None], quantiles),
            "task_index": stats(np.full((length, 1), at.task_index), quantiles)}


def frame_table(spec: DatasetSpec, ep: Episode, at: Place) -> pa.Table:
    """One episode's frames as LeRobot's table (the video frames live in the mp4s)."""
    length = len(ep.states)
    frame_index = np.arange(length, dtype=np.int64)
    return pa.table({
        "observation.state": pa.array(list(np.asarray(ep.states, np.float32)), type=pa.list_(pa.float32(), 6)),
        "action": pa.array(list(np.asarray(ep.actions, np.float32)), type=pa.list_(pa.float32(), 6)),
        **{name: pa.array(np.asarray(ep.extra[name]).astype(dtype)) for name, dtype in spec.extra},
        "timestamp": pa.array((frame_index / spec.fps).astype(np.float32)),
        "frame_index": pa.array(frame_index),
        "episode_index": pa.array(np.full(length, at.episode_index, np.int64)),
        "index": pa.array(at.index0 + frame_index), "task_index": pa.array(np.full(length, at.task_index, np.int64)),
    })


def open_meta(root: str, version: str, features: dict[str, Any]) -> str:
    """Creates root/meta and returns it; ValueError where root already holds a dataset of another
    version or other features (a writer never mixes them)."""
    meta = os.path.join(root, "meta")
    os.makedirs(meta, exist_ok=True)
    info_path = os.path.join(meta, "info.json")
    if os.path.exists(info_path):
        with open(info_path) as f:
            info = json.load(f)
        if info.get("codebase_version") != version or info.get("features") != features:
            raise ValueError(f"{root!r} holds another dataset (version {info.get('codebase_version')!r} or other "
                             f"features); write to a new directory")
    return meta
