"""mjx_gr00t.datasets.lerobot_v30: episodes written as LeRobot v3.0 (with GR00T's modality.json) read back
with pyarrow and PyAV through the episodes table, as a v3.0 reader finds them (columns, frame counts,
codec, per-episode and aggregated stats, the task table's pandas index), and an interrupted episode
that never enters the index and is overwritten on resume. LeRobot itself does not install beside the
pinned torch (shared/reference/lerobot.md), so its dataset class is not run here."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mjx_gr00t.datasets import lerobot_v30
from mjx_gr00t.datasets.lerobot_v30 import V30Writer
from mjx_gr00t.datasets.video import probe, read_mp4

from dataset_samples import episode as _episode  # noqa: E402

T = (12, 7, 9)
TASKS = ("Slide the paper into the red square.", "Slide the paper into the red square.", "Another task.")


def test_written_episodes_read_back(tmp_path) -> None:
    rng = np.random.default_rng(0)
    writer = V30Writer(str(tmp_path))
    episodes = [_episode(rng, n) for n in T]
    for i, ((s, a, f, e), task) in enumerate(zip(episodes, TASKS)):
        assert writer.add_episode(s, a, f, task=task, extra=e) == i
    info = json.load(open(tmp_path / "meta" / "info.json"))
    assert (info["codebase_version"], info["total_episodes"], info["total_frames"], info["total_tasks"], info["fps"],
            info["splits"], info["chunks_size"]) == ("v3.0", 3, sum(T), 2, 30, {"train": "0:3"}, 1000)
    assert "total_chunks" not in info and "total_videos" not in info  # v2.1 fields, dropped in v3.0
    assert info["features"]["observation.state"]["fps"] == 30
    assert info["features"]["observation.images.main"]["info"]["video.codec"] == "h264"
    assert json.load(open(tmp_path / "meta" / "modality.json"))["state"]["single_arm"] == {"start": 0, "end": 5}

    tasks = pq.read_table(tmp_path / "meta" / "tasks.parquet")
    assert tasks.to_pylist() == [{"task_index": 0, "task": TASKS[0]}, {"task_index": 1, "task": TASKS[2]}]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]  # pandas reads task as the index

    rows = pq.read_table(tmp_path / lerobot_v30.EPISODES_PATH).to_pylist()
    assert [(r["episode_index"], r["length"], r["tasks"]) for r in rows] == [(i, n, [t]) for i, (n, t) in
                                                                            enumerate(zip(T, TASKS))]
    everything = {"observation.state": [], "action": []}
    for row, (s, a, f, e) in zip(rows, episodes):
        i = row["episode_index"]
        data = tmp_path / info["data_path"].format(chunk_index=row["data/chunk_index"], file_index=row["data/file_index"])
        table = pq.read_table(data)
        assert table.column_names == ["observation.state", "action", "next.success", "timestamp", "frame_index",
                                      "episode_index", "index", "task_index"]
        assert table.schema.field("observation.state").type == pa.list_(pa.float32(), 6)
        np.testing.assert_array_equal(np.stack(table["observation.state"].to_numpy(zero_copy_only=False)), s)
        np.testing.assert_array_equal(table["index"].to_numpy(),
                                      np.arange(row["dataset_from_index"], row["dataset_to_index"]))
        assert table["task_index"].to_pylist() == [TASKS.index(TASKS[i]) if i < 2 else 1] * len(s)
        for key, video in f.items():
            path = tmp_path / info["video_path"].format(video_key=key, chunk_index=row[f"videos/{key}/chunk_index"],
                                                        file_index=row[f"videos/{key}/file_index"])
            meta = probe(str(path))
            assert (meta["codec"], meta["pix_fmt"], meta["frames"]) == ("h264", "yuv420p", len(s))
            assert row[f"videos/{key}/from_timestamp"] == 0.0 and row[f"videos/{key}/to_timestamp"] == len(s) / 30
            assert np.abs(read_mp4(str(path)).astype(float) - video).mean() < 3
        np.testing.assert_allclose(row["stats/observation.state/mean"], s.mean(0), rtol=1e-5)
        np.testing.assert_allclose(row["stats/action/q50"], np.median(a, axis=0), rtol=1e-5)
        assert np.asarray(row["stats/observation.images.main/q99"]).shape == (3, 1, 1)
        everything["observation.state"].append(s)
        everything["action"].append(a)
    stats = json.load(open(tmp_path / "meta" / "stats.json"))
    for feature, parts in everything.items():
        values = np.concatenate(parts).astype(np.float64)
        np.testing.assert_allclose(stats[feature]["mean"], values.mean(0), rtol=1e-6)
        np.testing.assert_allclose(stats[feature]["std"], values.std(0), rtol=1e-6)
        np.testing.assert_allclose(stats[feature]["min"], values.min(0))
        assert stats[feature]["count"] == [sum(T)]
    assert set(stats["observation.images.main"]) == set(lerobot_v30.STAT_NAMES)


def test_an_interrupted_episode_never_enters_the_index(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(1)
    writer = V30Writer(str(tmp_path))
    s, a, f, e = _episode(rng, 5)
    writer.add_episode(s, a, f, "t", e)
    real_write = lerobot_v30._write_parquet

    def crash_on_index(path, table):
        if path.endswith(lerobot_v30.EPISODES_PATH):
            raise KeyboardInterrupt
        real_write(path, table)

    monkeypatch.setattr(lerobot_v30, "_write_parquet", crash_on_index)
    with pytest.raises(KeyboardInterrupt):
        writer.add_episode(*_episode(rng, 6)[:3], task="t", extra=_episode(rng, 6)[3])
    monkeypatch.setattr(lerobot_v30, "_write_parquet", real_write)
    assert os.path.exists(tmp_path / "data" / "chunk-000" / "file-001.parquet")  # files of the lost episode
    resumed = V30Writer(str(tmp_path))
    assert resumed.episodes == 1 and resumed.frames == 5
    assert resumed.add_episode(*_episode(rng, 4)[:3], task="t", extra=_episode(rng, 4)[3]) == 1
    assert pq.read_table(tmp_path / "data" / "chunk-000" / "file-001.parquet").num_rows == 4
    assert json.load(open(tmp_path / "meta" / "info.json"))["total_frames"] == 9
    assert json.load(open(tmp_path / "meta" / "stats.json"))["action"]["count"] == [9]


def test_bad_input(tmp_path) -> None:
    rng = np.random.default_rng(2)
    s, a, f, e = _episode(rng, 3)
    with pytest.raises(ValueError, match="states and actions"):
        V30Writer(str(tmp_path / "a")).add_episode(s[:, :5], a, f, "t", e)
    from mjx_gr00t.datasets.lerobot_v21 import V21Writer
    V21Writer(str(tmp_path / "v21")).add_episode(s, a, f, "t", e)
    with pytest.raises(ValueError, match="another dataset"):
        V30Writer(str(tmp_path / "v21"))
