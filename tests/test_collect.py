"""train.collect and mjx_gr00t.collect: sim episodes written as a LeRobot v2.1 dataset and read back
(parquet, both cameras' mp4 frames, units, stats), an interrupted collection resumed to exactly the
straight one, and directories that are not ours refused."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)
from mjx_gr00t import render  # before mujoco: it picks the GL backend

import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from mjx_gr00t.collect import progress
from mjx_gr00t.datasets.video import read_mp4
from train import collect

# Short episodes (40 policy steps) keep the rendering cheap; --keep all writes time-outs too.
SHORT = ["--scene-options", "episode_length=40", "--keep", "all", "--num-envs", "2"]


def _collect(out, *flags):
    try:
        return collect.main(["--out", str(out), *SHORT, *flags])
    except SystemExit as e:
        if "OSMesa" in str(e):
            pytest.skip(f"no rendering backend on this machine: {e}")
        raise


def _table(root, episode):
    return pq.read_table(os.path.join(root, f"data/chunk-000/episode_{episode:06d}.parquet")).to_pydict()


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("collect") / "straight"
    record = _collect(out, "--episodes", "3")
    return out, record


def test_a_collection_reads_back(straight):
    out, record = straight
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v2.1" and info["fps"] == 30 and info["total_episodes"] == 3
    assert (out / "meta" / "modality.json").exists()
    episodes = [json.loads(line) for line in (out / "meta" / "episodes.jsonl").read_text().splitlines()]
    stats = [json.loads(line) for line in (out / "meta" / "episodes_stats.jsonl").read_text().splitlines()]
    assert [e["episode_index"] for e in episodes] == [0, 1, 2] and len(stats) == 3
    total = 0
    for e in episodes:
        table = _table(out, e["episode_index"])
        length = e["length"]
        assert 1 <= length <= 40 and len(table["action"]) == length
        assert table["frame_index"] == list(range(length))
        states, actions = np.array(table["observation.state"]), np.array(table["action"])
        assert states.shape == actions.shape == (length, 6)
        schema = pq.read_schema(os.path.join(out, f"data/chunk-000/episode_{e['episode_index']:06d}.parquet"))
        assert str(schema.field("observation.state").type) == "fixed_size_list<element: float>[6]"  # float32
        # LeRobot units: degrees from the calibrated middle (arm), 0..100 (gripper); the goal moves
        # at most act_scale (0.05 rad) a step from the running command, which starts at the reading.
        assert np.all(np.abs(states[:, :5]) <= 180) and np.all((states[:, 5] >= 0) & (states[:, 5] <= 100))
        assert np.all(np.abs(actions[0, :5] - states[0, :5]) <= math.degrees(0.05) + 0.2)
        # ... and on through the last frame (whose state after the step is already the next reset)
        assert np.all(np.abs(np.diff(actions[:, :5], axis=0)) <= math.degrees(0.05) + 0.2)
        assert table["next.success"][-1] in (True, False) and not any(table["next.success"][:-1])
        for key in ("observation.images.main", "observation.images.secondary_0"):
            frames = read_mp4(os.path.join(out, f"videos/chunk-000/{key}/episode_{e['episode_index']:06d}.mp4"))
            assert frames.shape == (length, 240, 320, 3)
            assert frames.std() > 10  # a rendered scene, not a blank
        s = stats[e["episode_index"]]["stats"]["observation.state"]
        np.testing.assert_allclose(s["mean"], states.mean(axis=0), rtol=1e-5, atol=1e-4)
        total += length
    assert info["total_frames"] == total == record["frames"]
    assert record["episodes"] == 3 and record["episodes_per_min"] > 0 and "cores" in record["machine"]


def test_an_interrupted_collection_resumes_to_the_same_dataset(straight, tmp_path):
    """Stopped after one episode, and again as if killed between the index and collect.json: the
    same command finishes with exactly the straight run's episodes (same draws, no duplicate)."""
    out, _ = straight
    resumed = tmp_path / "resumed"
    _collect(resumed, "--episodes", "1")
    state = progress.load(str(resumed))
    _collect(resumed, "--episodes", "2")
    # A crash after episode 2 entered the index, before collect.json caught up:
    progress.save(str(resumed), progress.CollectState(**{**state.to_dict(), "episodes": 1, "taken": 1}))
    _collect(resumed, "--episodes", "3")
    for episode in range(3):
        assert _table(resumed, episode) == _table(out, episode), episode
    assert json.loads((resumed / "meta" / "info.json").read_text())["total_episodes"] == 3


def test_a_v3_collection(tmp_path):
    """--format v3.0: the same episodes as v2.1 writes, in v3.0's files, found through its episodes table."""
    out = tmp_path / "v3"
    _collect(out, "--episodes", "1", "--format", "v3.0")
    info = json.loads((out / "meta" / "info.json").read_text())
    rows = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert info["codebase_version"] == "v3.0" and len(rows) == 1
    table = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet")
    assert table.num_rows == rows[0]["length"]
    frames = read_mp4(str(out / "videos" / "observation.images.main" / "chunk-000" / "file-000.mp4"))
    assert frames.shape == (rows[0]["length"], 240, 320, 3)


def test_directories_that_are_not_a_collection_are_refused(straight, tmp_path):
    out, _ = straight
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not empty and holds no collection"):
        collect.main(["--out", str(other), *SHORT])
    assert sorted(os.listdir(other)) == ["notes.txt"]
    with pytest.raises(SystemExit, match=r"other settings: seed 0 \(asked 5\)"):
        collect.main(["--out", str(out), *SHORT, "--seed", "5", "--episodes", "4"])
    with pytest.raises(SystemExit, match=r"holds another dataset \(version 'v2.1'"):
        collect.main(["--out", str(out), *SHORT, "--episodes", "4", "--format", "v3.0"])
    with pytest.raises(SystemExit, match="--episodes must be >= 1"):
        collect.main(["--out", str(tmp_path / "new"), "--episodes", "0"])
