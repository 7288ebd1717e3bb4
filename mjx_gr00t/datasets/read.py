"""Reading back a LeRobot dataset of SO-101 episodes (v2.1 or v3.0, as `lerobot_v21` / `lerobot_v30`
write them, or the real paper-return data) for behaviour cloning.

    data = open_dataset(root, need_modality=True)    # DatasetError (one line) if it is not one
    data.episodes                                     # [{"episode_index", "length", "tasks"}, ...]
    states, actions, frames, tasks = data.episode(i)  # (T, 6) float32, {camera key: uint8 (T, H, W, 3)}

A directory that is not a LeRobot dataset, of an unknown version, without `observation.state`,
`action` or a camera the caller needs, or (for GR00T) without meta/modality.json raises
`DatasetError` with one line naming the missing piece.
"""

import json
import os
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from mjx_gr00t.datasets import lerobot_v21, lerobot_v30
from mjx_gr00t.datasets.video import read_mp4
from mjx_gr00t.export.format import read_json_lines

VERSIONS = ("v2.1", "v3.0")


class DatasetError(ValueError):
    """A dataset directory that cannot be read as asked; the message names the missing piece."""


class Dataset:
    """One LeRobot dataset on disk; see the module docstring."""

    def __init__(self, root: str, info: dict[str, Any], episodes: list[dict[str, Any]], tasks: dict[int, str]) -> None:
        self.root, self.info, self.episodes, self.tasks = root, info, episodes, tasks
        self.version = info["codebase_version"]
        self.cameras = [k for k, f in info["features"].items() if f.get("dtype") == "video"]

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    def _paths(self, row: dict[str, Any]) -> tuple[str, dict[str, str]]:
        i = int(row["episode_index"])
        if self.version == "v2.1":
            chunk = i // lerobot_v21.CHUNK
            data = self.info["data_path"].format(episode_chunk=chunk, episode_index=i)
            videos = {k: self.info["video_path"].format(episode_chunk=chunk, video_key=k, episode_index=i)
                      for k in self.cameras}
        else:
            data = self.info["data_path"].format(chunk_index=row["data/chunk_index"], file_index=row["data/file_index"])
            videos = {k: self.info["video_path"].format(video_key=k, chunk_index=row[f"videos/{k}/chunk_index"],
                                                        file_index=row[f"videos/{k}/file_index"]) for k in self.cameras}
        return os.path.join(self.root, data), {k: os.path.join(self.root, v) for k, v in videos.items()}

    def episode(self, n: int, cameras: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[str]]:
        """The n-th episode of the index: states, actions (T, 6) float32, frames {camera key: uint8
        (T, H, W, 3)} of `cameras` (default all), and its task texts."""
        row = self.episodes[n]
        data, videos = self._paths(row)
        table = pq.read_table(data)
        if self.version == "v3.0":  # a v3.0 file may hold several episodes
            index = table["episode_index"].to_numpy()
            table = table.filter(index == int(row["episode_index"]))
        states = np.stack(table["observation.state"].to_numpy(zero_copy_only=False)).astype(np.float32)
        actions = np.stack(table["action"].to_numpy(zero_copy_only=False)).astype(np.float32)
        frames = {}
        for key in cameras if cameras is not None else self.cameras:
            video = read_mp4(videos[key])
            if self.version == "v3.0":
                start = int(round(float(row[f"videos/{key}/from_timestamp"]) * self.fps))
                video = video[start:start + len(states)]
            if len(video) != len(states):
                raise DatasetError(f"{videos[key]!r} holds {len(video)} frames for an episode of {len(states)}")
            frames[key] = video
        tasks = [self.tasks[int(t)] for t in np.unique(table["task_index"].to_numpy())]
        return states, actions, frames, tasks


def open_dataset(root: str, cameras: tuple[str, ...] = (), need_modality: bool = False) -> Dataset:
    """The dataset at `root`; DatasetError (one line) where it is not a readable LeRobot dataset with
    `cameras` (and meta/modality.json where `need_modality`)."""
    info_path = os.path.join(root, "meta", "info.json")
    if not os.path.isdir(root):
        raise DatasetError(f"{root!r} is not a directory")
    if not os.path.isfile(info_path):
        raise DatasetError(f"{root!r} is not a LeRobot dataset: no meta/info.json")
    with open(info_path) as f:
        info = json.load(f)
    version = info.get("codebase_version")
    if version not in VERSIONS:
        raise DatasetError(f"{root!r} is a LeRobot dataset of version {version!r}; this reads {', '.join(VERSIONS)}")
    features = info.get("features", {})
    for key in ("observation.state", "action", *cameras):
        if key not in features:
            raise DatasetError(f"{root!r} has no {key!r} feature (it has {sorted(features)})")
    if need_modality and not os.path.isfile(os.path.join(root, "meta", "modality.json")):
        raise DatasetError(f"{root!r} lacks meta/modality.json, which Isaac-GR00T needs to read it "
                           "(train.collect writes one)")
    if version == "v2.1":
        for name in ("episodes.jsonl", "tasks.jsonl"):
            if not os.path.isfile(os.path.join(root, "meta", name)):
                raise DatasetError(f"{root!r} is a v2.1 dataset without meta/{name}")
        episodes = read_json_lines(os.path.join(root, "meta", "episodes.jsonl"))
        tasks = {int(r["task_index"]): r["task"] for r in read_json_lines(os.path.join(root, "meta", "tasks.jsonl"))}
    else:
        path = os.path.join(root, lerobot_v30.EPISODES_PATH)
        episodes = pq.read_table(path).to_pylist() if os.path.exists(path) else []
        tasks = {int(r["task_index"]): r["task"] for r in pq.read_table(os.path.join(root, lerobot_v30.TASKS_PATH)).to_pylist()}
    if not episodes:
        raise DatasetError(f"{root!r} holds no episodes")
    return Dataset(root, info, episodes, tasks)
