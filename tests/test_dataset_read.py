"""mjx_gr00t.datasets.read: what either writer wrote reads back frame for frame (v2.1 and v3.0), and a
directory that is not a usable dataset gets one line naming the missing piece."""

import json
import os

import numpy as np
import pytest

from mjx_gr00t.datasets.lerobot_v21 import V21Writer
from mjx_gr00t.datasets.lerobot_v30 import V30Writer
from mjx_gr00t.datasets.read import DatasetError, open_dataset

from dataset_samples import episode as sample  # noqa: E402


@pytest.mark.parametrize("writer", [V21Writer, V30Writer], ids=["v2.1", "v3.0"])
def test_what_was_written_reads_back(tmp_path, writer) -> None:
    rng = np.random.default_rng(0)
    w = writer(str(tmp_path))
    written = [sample(rng, n) for n in (6, 9)]
    for (s, a, f, e), task in zip(written, ("push", "drag")):
        w.add_episode(s, a, f, task, e)
    data = open_dataset(str(tmp_path), cameras=("observation.images.main",), need_modality=True)
    assert data.version == ("v2.1" if writer is V21Writer else "v3.0") and data.fps == 30
    assert [int(e["length"]) for e in data.episodes] == [6, 9]
    for n, ((s, a, f, _), task) in enumerate(zip(written, ("push", "drag"))):
        states, actions, frames, tasks = data.episode(n)
        np.testing.assert_array_equal(states, s)
        np.testing.assert_array_equal(actions, a)
        assert tasks == [task] and set(frames) == set(f)
        for key in f:
            assert frames[key].shape == f[key].shape and np.abs(frames[key].astype(float) - f[key]).mean() < 3


def test_not_a_dataset_is_one_line(tmp_path) -> None:
    with pytest.raises(DatasetError, match="is not a directory"):
        open_dataset(str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match="no meta/info.json"):
        open_dataset(str(tmp_path))
    rng = np.random.default_rng(1)
    V21Writer(str(tmp_path / "d")).add_episode(*sample(rng, 3)[:3], "t", sample(rng, 3)[3])
    with pytest.raises(DatasetError, match="has no 'observation.images.top' feature"):
        open_dataset(str(tmp_path / "d"), cameras=("observation.images.top",))
    os.remove(tmp_path / "d" / "meta" / "modality.json")
    with pytest.raises(DatasetError, match="lacks meta/modality.json"):
        open_dataset(str(tmp_path / "d"), need_modality=True)
    info = json.load(open(tmp_path / "d" / "meta" / "info.json"))
    json.dump({**info, "codebase_version": "v2.0"}, open(tmp_path / "d" / "meta" / "info.json", "w"))
    with pytest.raises(DatasetError, match="version 'v2.0'; this reads v2.1, v3.0"):
        open_dataset(str(tmp_path / "d"))
