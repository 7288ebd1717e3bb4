"""LeRobot v3.0 datasets of SO-101 episodes (the format current LeRobot reads), with Isaac-GR00T's
meta/modality.json, written episode by episode and safe to interrupt.

    writer = V30Writer(root, DatasetSpec())          # a new dataset, or the one at root, resumed
    writer.add_episode(states, actions, {"observation.images.main": frames, ...}, task="...",
                       extra={"next.success": flags})  # -> its episode index

Layout (shared/reference/lerobot.md): data/chunk-000/file-000.parquet, videos/<key>/chunk-000/
file-000.mp4, meta/info.json, meta/stats.json, meta/tasks.parquet (indexed by task),
meta/episodes/chunk-000/file-000.parquet (one row per episode: where its frames and video lie, and
its stats/<feature>/<stat>). LeRobot's own writer packs episodes into files of up to 100 MB (data)
and 200 MB (video); this one writes each episode to files of its own, which the format allows (an
episode is found through its row) and which keeps every write atomic. Isaac-GR00T reads v2.1 only
(`lerobot_v21`); both writers share `datasets.spec`.

An episode's files are written first, then its row in the episodes table (rewritten atomically):
an interrupted episode never enters the index, and a resumed writer overwrites what it left.
meta/stats.json (the features' stats over all episodes, aggregated from the rows) and info.json
follow the index and are rebuilt from it on resuming.
"""

import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mjx_gr00t.datasets.spec import (
    CHUNK, QUANTILES, DatasetSpec, Episode, Place, episode_stats, frame_table, modality, open_meta,
)
from mjx_gr00t.datasets.video import write_mp4
from mjx_gr00t.export.format import write_json_atomic

DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = os.path.join("meta", "episodes", "chunk-000", "file-000.parquet")
TASKS_PATH = os.path.join("meta", "tasks.parquet")
STAT_NAMES: tuple[str, ...] = ("min", "max", "mean", "std", "count", *(f"q{round(100 * q):02d}" for q in QUANTILES))


def _write_parquet(path: str, table: pa.Table) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, f"{path}.part")
    os.replace(f"{path}.part", path)


def tasks_table(tasks: dict[str, int]) -> pa.Table:
    """meta/tasks.parquet as LeRobot writes it from pandas: column task_index, indexed by task."""
    names = sorted(tasks, key=tasks.get)
    table = pa.table({"task_index": pa.array([tasks[t] for t in names], pa.int64()), "task": pa.array(names)})
    pandas = {"index_columns": ["task"], "column_indexes": [],
              "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                           "numpy_type": "int64", "metadata": None},
                          {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
                           "metadata": None}],
              "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.3"}
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas).encode()})


def aggregate(rows: list[dict[str, Any]], features: list[str]) -> dict[str, dict[str, Any]]:
    """meta/stats.json from the episodes' rows (their stats/<feature>/<stat> columns): min and max over
    episodes, mean and std pooled exactly by count, quantiles the count-weighted mean of the
    episodes' quantiles (as LeRobot aggregates them)."""
    out: dict[str, dict[str, Any]] = {}
    for feature in features:
        col = lambda stat: [np.asarray(r[f"stats/{feature}/{stat}"], np.float64) for r in rows]  # noqa: E731
        n = np.array([float(np.ravel(c)[0]) for c in col("count")])
        weights = (n / n.sum()).reshape(-1, *([1] * np.ndim(col("mean")[0])))
        means, stds = np.stack(col("mean")), np.stack(col("std"))
        mean = (weights * means).sum(0)
        var = (weights * (stds ** 2 + means ** 2)).sum(0) - mean ** 2
        out[feature] = {"min": np.min(np.stack(col("min")), 0).tolist(), "max": np.max(np.stack(col("max")), 0).tolist(),
                        "mean": mean.tolist(), "std": np.sqrt(np.maximum(var, 0)).tolist(), "count": [int(n.sum())],
                        **{q: (weights * np.stack(col(q))).sum(0).tolist() for q in STAT_NAMES[5:]}}
    return out


class V30Writer:
    """See the module docstring."""

    def __init__(self, root: str, spec: DatasetSpec = DatasetSpec()) -> None:
        self.root, self.spec = root, spec
        self.meta = open_meta(root, "v3.0", self.features())
        episodes = os.path.join(root, EPISODES_PATH)
        self._rows = pq.read_table(episodes).to_pylist() if os.path.exists(episodes) else []
        tasks = os.path.join(root, TASKS_PATH)
        self._tasks = {r["task"]: r["task_index"] for r in pq.read_table(tasks).to_pylist()} if os.path.exists(tasks) else {}
        self._frames = sum(int(r["length"]) for r in self._rows)
        write_json_atomic(os.path.join(self.meta, "modality.json"), modality())
        self._write_summary()

    @property
    def episodes(self) -> int:
        """Episodes in the index (complete ones)."""
        return len(self._rows)

    @property
    def frames(self) -> int:
        return self._frames

    def features(self) -> dict[str, Any]:
        """info.json's features: the shared ones, each with the dataset's fps (as v3.0 keeps it)."""
        return {k: {**v, "fps": self.spec.fps} for k, v in self.spec.features().items()}

    def _write_summary(self) -> None:
        n = len(self._rows)
        if n:
            write_json_atomic(os.path.join(self.meta, "stats.json"), aggregate(self._rows, list(self.features())))
        write_json_atomic(os.path.join(self.meta, "info.json"), {
            "codebase_version": "v3.0", "robot_type": self.spec.robot_type, "total_episodes": n,
            "total_frames": self._frames, "total_tasks": len(self._tasks), "chunks_size": CHUNK,
            "data_files_size_in_mb": 100, "video_files_size_in_mb": 200, "fps": self.spec.fps,
            "splits": {"train": f"0:{n}"}, "data_path": DATA_PATH, "video_path": VIDEO_PATH,
            "features": self.features()})

    def add_episode(self, states: np.ndarray, actions: np.ndarray, frames: dict[str, np.ndarray], task: str,
                    extra: dict[str, np.ndarray] | None = None) -> int:
        """states, actions (T, 6) LeRobot units; frames {camera key: (T, H, W, 3) uint8}; extra
        {column: (T,)} for the spec's extra columns. Returns the new episode's index."""
        spec = self.spec
        ep = Episode(np.asarray(states, np.float32), np.asarray(actions, np.float32), frames, extra or {})
        length = ep.check(spec)
        index = len(self._rows)
        where = {"chunk_index": index // CHUNK, "file_index": index % CHUNK}
        new_task = task not in self._tasks
        task_index = len(self._tasks) if new_task else self._tasks[task]
        at = Place(episode_index=index, index0=self._frames, task_index=task_index)
        row: dict[str, Any] = {"episode_index": index, "tasks": [task], "length": length,
                               "data/chunk_index": where["chunk_index"], "data/file_index": where["file_index"],
                               "dataset_from_index": self._frames, "dataset_to_index": self._frames + length}
        for key, video in frames.items():  # 1. the videos
            path = os.path.join(self.root, VIDEO_PATH.format(video_key=key, **where))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_mp4(path, np.asarray(video, np.uint8), spec.fps)
            row.update({f"videos/{key}/chunk_index": where["chunk_index"], f"videos/{key}/file_index": where["file_index"],
                        f"videos/{key}/from_timestamp": 0.0, f"videos/{key}/to_timestamp": length / spec.fps})
        _write_parquet(os.path.join(self.root, DATA_PATH.format(**where)), frame_table(spec, ep, at))  # 2. frames
        if new_task:  # 3. the task, then the episode's row: the index
            self._tasks[task] = task_index
            _write_parquet(os.path.join(self.root, TASKS_PATH), tasks_table(self._tasks))
        row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
        for feature, values in episode_stats(spec, ep, at, quantiles=True).items():
            row.update({f"stats/{feature}/{stat}": values[stat] for stat in STAT_NAMES})
        _write_parquet(os.path.join(self.root, EPISODES_PATH), pa.Table.from_pylist(self._rows + [row]))
        self._rows.append(row)
        self._frames += length
        self._write_summary()
        return index
