"""mjx_gr00t.datasets.lerobot_v21: episodes written as LeRobot v2.1 with GR00T's modality.json, read back
with pyarrow and PyAV (every column, frame count, codec and statistic), and an interrupted episode that
never enters the index and is overwritten on resume."""

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from mjx_gr00t.datasets import lerobot_v21
from mjx_gr00t.datasets.lerobot_v21 import V21Writer
from mjx_gr00t.datasets.spec import DatasetSpec
from mjx_gr00t.datasets.video import probe, read_mp4

from dataset_samples import episode as _episode  # noqa: E402

T = (12, 7)


def test_written_episodes_read_back(tmp_path) -> None:
    rng = np.random.default_rng(0)
    writer = V21Writer(str(tmp_path))
    episodes = [_episode(rng, n) for n in T]
    for i, (s, a, f, e) in enumerate(episodes):
        assert writer.add_episode(s, a, f, task="Slide the paper into the red square.", extra=e) == i
    info = json.load(open(tmp_path / "meta" / "info.json"))
    assert (info["codebase_version"], info["total_episodes"], info["total_frames"], info["total_tasks"],
            info["total_videos"], info["fps"], info["splits"]) == ("v2.1", 2, sum(T), 1, 4, 30, {"train": "0:2"})
    assert info["features"]["observation.state"]["names"] == [f"motor_{i}" for i in range(1, 7)]
    assert info["features"]["observation.images.main"]["info"]["video.codec"] == "h264"
    rows = [json.loads(line) for line in open(tmp_path / "meta" / "episodes.jsonl")]
    assert rows == [{"episode_index": i, "tasks": ["Slide the paper into the red square."], "length": n}
                    for i, n in enumerate(T)]
    assert [json.loads(line) for line in open(tmp_path / "meta" / "tasks.jsonl")] == [
        {"task_index": 0, "task": "Slide the paper into the red square."}]
    modality = json.load(open(tmp_path / "meta" / "modality.json"))
    assert modality["state"]["gripper"] == {"start": 5, "end": 6}
    assert modality["video"]["wrist"]["original_key"] == "observation.images.secondary_0"
    stats = [json.loads(line) for line in open(tmp_path / "meta" / "episodes_stats.jsonl")]
    start = 0
    for i, (s, a, f, e) in enumerate(episodes):
        table = pq.read_table(tmp_path / info["data_path"].format(episode_chunk=0, episode_index=i))
        assert table.column_names == ["observation.state", "action", "next.success", "timestamp", "frame_index",
                                      "episode_index", "index", "task_index"]
        np.testing.assert_array_equal(np.stack(table["observation.state"].to_numpy(zero_copy_only=False)), s)
        np.testing.assert_array_equal(np.stack(table["action"].to_numpy(zero_copy_only=False)), a)
        np.testing.assert_array_equal(table["index"].to_numpy(), np.arange(start, start + len(s)))
        np.testing.assert_allclose(table["timestamp"].to_numpy(), np.arange(len(s)) / 30, atol=1e-6)
        assert table["next.success"].to_pylist()[-1] is True and set(table["episode_index"].to_pylist()) == {i}
        start += len(s)
        st = stats[i]["stats"]
        np.testing.assert_allclose(st["observation.state"]["mean"], s.mean(0), rtol=1e-5)
        np.testing.assert_allclose(st["action"]["max"], a.max(0), rtol=1e-6)
        assert np.asarray(st["observation.images.main"]["mean"]).shape == (3, 1, 1)
        for key, video in f.items():
            path = tmp_path / info["video_path"].format(episode_chunk=0, video_key=key, episode_index=i)
            meta = probe(str(path))
            assert (meta["codec"], meta["pix_fmt"], meta["width"], meta["height"], meta["frames"]) == (
                "h264", "yuv420p", 320, 240, len(s))
            decoded = read_mp4(str(path))
            assert decoded.shape == video.shape
            assert np.abs(decoded.astype(float) - video).mean() < 3  # lossy, but close
            row = decoded[:, 120, :, :].mean(axis=-1)  # the square's centre column, frame by frame
            centre = np.array([np.flatnonzero(r > 235).mean() for r in row])
            np.testing.assert_allclose(np.diff(centre), 10, atol=2)  # every frame, in order


def test_an_interrupted_episode_never_enters_the_index(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(1)
    writer = V21Writer(str(tmp_path))
    writer.add_episode(*_episode(rng, 5)[:3], task="t", extra=_episode(rng, 5)[3])
    real_append = lerobot_v21._append_jsonl

    def crash_on_index(path, row):
        if path.endswith("episodes.jsonl"):
            raise KeyboardInterrupt
        real_append(path, row)

    monkeypatch.setattr(lerobot_v21, "_append_jsonl", crash_on_index)
    with pytest.raises(KeyboardInterrupt):
        writer.add_episode(*_episode(rng, 6)[:3], task="t", extra=_episode(rng, 6)[3])
    monkeypatch.setattr(lerobot_v21, "_append_jsonl", real_append)
    assert os.path.exists(tmp_path / "data" / "chunk-000" / "episode_000001.parquet")  # files of the lost episode
    with open(tmp_path / "meta" / "episodes.jsonl", "a") as f:
        f.write('{"episode_index": 1, "tas')  # and a torn line, as a crash mid-append leaves
    resumed = V21Writer(str(tmp_path))
    assert resumed.episodes == 1 and resumed.frames == 5
    assert resumed.add_episode(*_episode(rng, 4)[:3], task="t", extra=_episode(rng, 4)[3]) == 1
    assert pq.read_table(tmp_path / "data" / "chunk-000" / "episode_000001.parquet").num_rows == 4
    stats = [json.loads(line) for line in open(tmp_path / "meta" / "episodes_stats.jsonl")]
    assert [row["episode_index"] for row in stats] == [0, 1] and stats[1]["stats"]["action"]["count"] == [4]
    assert json.load(open(tmp_path / "meta" / "info.json"))["total_frames"] == 9


def test_bad_input(tmp_path) -> None:
    rng = np.random.default_rng(2)
    writer = V21Writer(str(tmp_path))
    s, a, f, e = _episode(rng, 3)
    with pytest.raises(ValueError, match="must hold the cameras"):
        writer.add_episode(s, a, {"observation.images.main": f["observation.images.main"]}, "t", e)
    with pytest.raises(ValueError, match=r"must be \(3, 240, 320, 3\)"):
        writer.add_episode(s, a, {k: v[:, :100] for k, v in f.items()}, "t", e)
    with pytest.raises(ValueError, match="states and actions"):
        writer.add_episode(s[:, :5], a, f, "t", e)
    with pytest.raises(ValueError, match="another dataset"):
        V21Writer(str(tmp_path), DatasetSpec(names="lerobot"))
    with pytest.raises(ValueError, match="names must be"):
        DatasetSpec(names="joints")
