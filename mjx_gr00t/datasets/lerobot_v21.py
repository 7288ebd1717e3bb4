"""LeRobot v2.1 datasets of SO-101 episodes (the real paper-return data's format), with Isaac-GR00T's
meta/modality.json, written episode by episode and safe to interrupt.

    writer = V21Writer(root, DatasetSpec())          # a new dataset, or the one at root, resumed
    writer.add_episode(states, actions, {"observation.images.main": frames, ...}, task="...",
                       extra={"next.success": flags})  # -> its episode index
    writer.episodes                                    # episodes in the index

Layout (shared/reference/lerobot.md): data/chunk-000/episode_000000.parquet, one mp4 per camera and
episode under videos/chunk-000/<key>/, meta/info.json, episodes.jsonl, tasks.jsonl,
episodes_stats.jsonl and modality.json. An episode's files are written first (each atomically),
and its line in meta/episodes.jsonl last: an interrupted episode never enters the index, and a
resumed writer overwrites whatever it left.

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
import pyarrow.parquet as pq

from mjx_gr00t.datasets.video import CODEC, PIX_FMT, write_mp4
from mjx_gr00t.deploy.robot import MOTORS
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.runner.metrics_log import read_metrics

CAMERAS: dict[str, str] = {"observation.images.main": "front", "observation.images.secondary_0": "wrist"}
"""Dataset camera key -> the twin's / the robot's camera."""
CHUNK = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
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


def _stats(values: np.ndarray) -> dict[str, list]:
    """min, max, mean, std, count of (N, D) values, per dimension."""
    v = np.asarray(values, np.float64).reshape(len(values), -1)
    return {"min": v.min(0).tolist(), "max": v.max(0).tolist(), "mean": v.mean(0).tolist(),
            "std": v.std(0).tolist(), "count": [int(len(v))]}


def _image_stats(frames: np.ndarray) -> dict[str, list]:
    """Per-channel stats of RGB frames scaled to [0, 1], shaped (3, 1, 1) as LeRobot keeps them."""
    pick = np.linspace(0, len(frames) - 1, min(IMAGE_STATS_FRAMES, len(frames))).round().astype(int)
    x = frames[pick].astype(np.float64).reshape(-1, 3) / 255.0
    shape = lambda a: [[[float(c)]] for c in a]  # noqa: E731
    return {"min": shape(x.min(0)), "max": shape(x.max(0)), "mean": shape(x.mean(0)), "std": shape(x.std(0)),
            "count": [int(len(pick))]}


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file; a torn last line (a crash mid-append) is left out."""
    return read_metrics(path) if os.path.exists(path) else []


def _rewrite_jsonl(path: str, rows: list[dict[str, Any]]) -> None:
    with open(f"{path}.part", "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    os.replace(f"{path}.part", path)


def _ends_clean(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _append_jsonl(path: str, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


class V21Writer:
    """See the module docstring."""

    def __init__(self, root: str, spec: DatasetSpec = DatasetSpec()) -> None:
        self.root, self.spec = root, spec
        self.meta = os.path.join(root, "meta")
        os.makedirs(self.meta, exist_ok=True)
        info_path = os.path.join(self.meta, "info.json")
        if os.path.exists(info_path):
            with open(info_path) as f:
                info = json.load(f)
            if info.get("codebase_version") != "v2.1" or info.get("features") != spec.features():
                raise ValueError(f"{root!r} holds another dataset (version {info.get('codebase_version')!r} or other "
                                 f"features); write to a new directory")
        self._episodes = _read_jsonl(os.path.join(self.meta, "episodes.jsonl"))
        tasks = _read_jsonl(os.path.join(self.meta, "tasks.jsonl"))
        for name, rows in (("episodes.jsonl", self._episodes), ("tasks.jsonl", tasks)):
            _rewrite_jsonl(os.path.join(self.meta, name), rows)  # drops a torn line before appending again
        self._tasks = {row["task"]: row["task_index"] for row in tasks}
        self._frames = sum(int(e["length"]) for e in self._episodes)
        write_json_atomic(os.path.join(self.meta, "modality.json"), modality())
        self._write_info()

    @property
    def episodes(self) -> int:
        """Episodes in the index (complete ones)."""
        return len(self._episodes)

    @property
    def frames(self) -> int:
        return self._frames

    def _write_info(self) -> None:
        n, chunks = len(self._episodes), max(1, -(-len(self._episodes) // CHUNK))
        write_json_atomic(os.path.join(self.meta, "info.json"), {
            "codebase_version": "v2.1", "robot_type": self.spec.robot_type, "total_episodes": n,
            "total_frames": self._frames, "total_tasks": len(self._tasks), "total_videos": n * len(self.spec.cameras),
            "total_chunks": chunks, "chunks_size": CHUNK, "fps": self.spec.fps, "splits": {"train": f"0:{n}"},
            "data_path": DATA_PATH, "video_path": VIDEO_PATH, "features": self.spec.features()})

    def add_episode(self, states: np.ndarray, actions: np.ndarray, frames: dict[str, np.ndarray], task: str,
                    extra: dict[str, np.ndarray] | None = None) -> int:
        """states, actions (T, 6) LeRobot units; frames {camera key: (T, H, W, 3) uint8}; extra
        {column: (T,)} for the spec's extra columns. Returns the new episode's index."""
        spec, extra = self.spec, extra or {}
        states, actions = np.asarray(states, np.float32), np.asarray(actions, np.float32)
        length = len(states)
        if length < 1 or states.shape != (length, 6) or actions.shape != (length, 6):
            raise ValueError(f"states and actions must both be (T >= 1, 6), got {states.shape} and {actions.shape}")
        if set(frames) != set(spec.cameras):
            raise ValueError(f"frames must hold the cameras {list(spec.cameras)}, got {list(frames)}")
        for key, video in frames.items():
            if np.shape(video) != (length, spec.height, spec.width, 3):
                raise ValueError(f"{key}: frames must be ({length}, {spec.height}, {spec.width}, 3), got {np.shape(video)}")
        if set(extra) != {name for name, _ in spec.extra}:
            raise ValueError(f"extra columns must be {[n for n, _ in spec.extra]}, got {list(extra)}")
        index = len(self._episodes)
        chunk = index // CHUNK
        task_index = self._tasks.get(task)
        for key, video in frames.items():  # 1. the videos
            path = os.path.join(self.root, VIDEO_PATH.format(episode_chunk=chunk, video_key=key, episode_index=index))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_mp4(path, np.asarray(video, np.uint8), spec.fps)
        new_task = task_index is None
        task_index = len(self._tasks) if new_task else task_index
        frame_index = np.arange(length, dtype=np.int64)
        columns = {
            "observation.state": pa.array(list(states), type=pa.list_(pa.float32(), 6)),
            "action": pa.array(list(actions), type=pa.list_(pa.float32(), 6)),
            **{name: pa.array(np.asarray(extra[name]).astype(dtype)) for name, dtype in spec.extra},
            "timestamp": pa.array((frame_index / spec.fps).astype(np.float32)),
            "frame_index": pa.array(frame_index), "episode_index": pa.array(np.full(length, index, np.int64)),
            "index": pa.array(self._frames + frame_index), "task_index": pa.array(np.full(length, task_index, np.int64)),
        }
        path = os.path.join(self.root, DATA_PATH.format(episode_chunk=chunk, episode_index=index))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pq.write_table(pa.table(columns), f"{path}.part")  # 2. the frames' table
        os.replace(f"{path}.part", path)
        stats = {"observation.state": _stats(states), "action": _stats(actions),
                 **{key: _image_stats(np.asarray(video)) for key, video in frames.items()},
                 **{name: _stats(np.asarray(extra[name], np.float64)[:, None]) for name, _ in spec.extra},
                 "timestamp": _stats((frame_index / spec.fps)[:, None]), "frame_index": _stats(frame_index[:, None]),
                 "episode_index": _stats(np.full((length, 1), index)), "index": _stats((self._frames + frame_index)[:, None]),
                 "task_index": _stats(np.full((length, 1), task_index))}
        if new_task:  # 3. the index: task, stats, then the episode itself last
            _append_jsonl(os.path.join(self.meta, "tasks.jsonl"), {"task_index": task_index, "task": task})
            self._tasks[task] = task_index
        stats_path = os.path.join(self.meta, "episodes_stats.jsonl")
        rows = _read_jsonl(stats_path)
        kept = [row for row in rows if row["episode_index"] < index]
        if len(kept) != len(rows) or (rows and os.path.getsize(stats_path) and not _ends_clean(stats_path)):
            _rewrite_jsonl(stats_path, kept)  # an interrupted episode's stats, or a torn line: dropped
        _append_jsonl(stats_path, {"episode_index": index, "stats": stats})
        _append_jsonl(os.path.join(self.meta, "episodes.jsonl"), {"episode_index": index, "tasks": [task], "length": length})
        self._episodes.append({"episode_index": index, "length": length})
        self._frames += length
        self._write_info()
        return index
