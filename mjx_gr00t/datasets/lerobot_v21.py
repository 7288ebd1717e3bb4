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

Units, names and cameras: `datasets.spec`.
"""

import dataclasses
import json
import os
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from mjx_gr00t.datasets.spec import (
    CHUNK, DatasetSpec, Episode, Place, episode_stats, frame_table, modality, open_meta,
)
from mjx_gr00t.datasets.video import write_mp4
from mjx_gr00t.export.format import read_json_lines, write_json_atomic

DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file; a torn last line (a crash mid-append) is left out."""
    return read_json_lines(path) if os.path.exists(path) else []


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
        self.meta = open_meta(root, "v2.1", spec.features())
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
        spec = self.spec
        ep = Episode(np.asarray(states, np.float32), np.asarray(actions, np.float32), frames, extra or {})
        length = ep.check(spec)
        index = len(self._episodes)
        chunk = index // CHUNK
        task_index = self._tasks.get(task)
        for key, video in frames.items():  # 1. the videos
            path = os.path.join(self.root, VIDEO_PATH.format(episode_chunk=chunk, video_key=key, episode_index=index))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_mp4(path, np.asarray(video, np.uint8), spec.fps)
        new_task = task_index is None
        task_index = len(self._tasks) if new_task else task_index
        path = os.path.join(self.root, DATA_PATH.format(episode_chunk=chunk, episode_index=index))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        at = Place(episode_index=index, index0=self._frames, task_index=task_index)
        pq.write_table(frame_table(spec, ep, at), f"{path}.part")  # 2. the frames' table
        os.replace(f"{path}.part", path)
        stats = episode_stats(spec, ep, at)
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
