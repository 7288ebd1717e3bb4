"""bridge.finetune_tiny: behaviour cloning of the tiny GR00T-contract model on a written LeRobot dataset
lowers the flow-matching loss, fits the demonstrated chunks better than the untrained model, and
writes a checkpoint that GrootBase loads through the real path, with the dataset's statistics; a
directory that is not a usable dataset is one line."""

import json
import os

import numpy as np
import pytest
import torch

from bridge import finetune_tiny
from bridge.groot.frames import to_groot_size
from bridge.tiny import TinyGr00tPolicy
from bridge.tiny_checkpoint import write_checkpoint
from mjx_gr00t.datasets.lerobot_v21 import V21Writer

from dataset_samples import episode as sample  # noqa: E402

TASK = "Slide the paper into the red square."


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "d"
    rng = np.random.default_rng(0)
    writer = V21Writer(str(root))
    for n in (20, 24):
        s, a, f, e = sample(rng, n)
        t = np.linspace(0, 1, n)[:, None]
        s = (np.array([-20, -40, 40, 80, -10, 30]) + 30 * np.sin(3 * t + np.arange(6))).astype(np.float32)
        a = np.roll(s, -1, axis=0)  # the goal: the next reading, as a demonstration's
        writer.add_episode(s, a, f, TASK, e)
    return root


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "bc"
    log = finetune_tiny.main(["--dataset", str(dataset), "--out", str(out), "--steps", "400", "--batch", "16",
                              "--lr", "1e-3"])
    return out, log


def _chunk_error(policy, dataset, episode=1, frame=5):
    from mjx_gr00t.datasets.read import open_dataset
    s, a, frames, _ = open_dataset(str(dataset)).episode(episode)
    obs = {"video.front": to_groot_size(frames["observation.images.main"][frame:frame + 1])[:, None].numpy(),
           "video.wrist": to_groot_size(frames["observation.images.secondary_0"][frame:frame + 1])[:, None].numpy(),
           "state.single_arm": s[None, frame:frame + 1, :5], "state.gripper": s[None, frame:frame + 1, 5:],
           "annotation.human.task_description": [TASK]}
    out = policy.get_action(obs)
    chunk = np.concatenate([out["action.single_arm"][0], out["action.gripper"][0]], axis=-1)
    want = a[np.minimum(np.arange(frame, frame + 16), len(a) - 1)]
    return np.abs(chunk - want).mean()


def test_fine_tuning_learns_the_demonstrations(dataset, trained, tmp_path):
    out, log = trained
    assert log["episodes"] == 2 and log["samples"] == 44
    assert log["loss_last_50"] < 0.5 * log["loss_first_50"], (log["loss_first_50"], log["loss_last_50"])
    learned = TinyGr00tPolicy.from_pretrained(str(out))
    untrained = TinyGr00tPolicy.from_pretrained(write_checkpoint(str(tmp_path / "init")))
    assert _chunk_error(learned, dataset) < 0.5 * _chunk_error(untrained, dataset)
    meta = json.load(open(out / "experiment_cfg" / "metadata.json"))["new_embodiment"]
    from mjx_gr00t.datasets.read import open_dataset
    data = open_dataset(str(dataset))
    states = np.concatenate([data.episode(n, cameras=[])[0] for n in range(2)])
    np.testing.assert_allclose(meta["statistics"]["state"]["single_arm"]["min"], states[:, :5].min(0), rtol=1e-6)
    np.testing.assert_allclose(meta["statistics"]["state"]["gripper"]["max"], states[:, 5:].max(0), rtol=1e-6)


def test_the_checkpoint_loads_as_a_groot_base(trained):
    from bridge.groot.policy import GrootBase
    from mjx_gr00t.groot_settings import GrootSettings
    out, _ = trained
    base = GrootBase.from_pretrained(GrootSettings(model=str(out)))
    chunk = base.plan(np.zeros((2, 224, 224, 3), np.uint8), np.zeros((2, 224, 224, 3), np.uint8),
                      np.zeros((2, 6), np.float32))
    assert np.asarray(chunk).shape == (2, 16, 6) and np.all(np.isfinite(np.asarray(chunk)))


def test_bad_dataset_or_out(tmp_path, trained):
    with pytest.raises(SystemExit) as e:
        finetune_tiny.main(["--dataset", str(tmp_path), "--out", str(tmp_path / "c")])
    assert e.value.code == 2
    out, _ = trained
    with pytest.raises(SystemExit):
        finetune_tiny.main(["--dataset", str(tmp_path), "--out", str(out)])  # already a checkpoint


def test_an_n17_fine_tune_learns_relative_arm_chunks(dataset, tmp_path):
    """--contract n1.7: processor files with the offsets' statistics; the policy (nested contract,
    relative decode) reproduces the demonstrations better than an untrained one."""
    from bridge.groot.layout import checkpoint_version, embodiment_metadata, read_metadata
    from bridge.tiny_n17 import TinyGr00tPolicyN17

    out = tmp_path / "bc17"
    log = finetune_tiny.main(["--dataset", str(dataset), "--out", str(out), "--steps", "400", "--batch", "16",
                              "--lr", "1e-3", "--contract", "n1.7"])
    assert log["contract"] == "n1.7" and checkpoint_version(str(out)) == "n1.7"
    emb = embodiment_metadata(read_metadata(str(out)), "new_embodiment")
    assert emb["normalisation"]["relative"] == {"single_arm": "single_arm"}
    offsets = emb["statistics"]["relative_action"]["single_arm"]
    assert max(abs(v) for v in offsets["max"] + offsets["min"]) < 60.0  # offsets from the state, not positions

    def nested_error(policy) -> float:
        from mjx_gr00t.datasets.read import open_dataset
        s, a, frames, _ = open_dataset(str(dataset)).episode(1)
        f = 5
        obs = {"video": {"front": to_groot_size(frames["observation.images.main"][f:f + 1])[:, None].numpy(),
                         "wrist": to_groot_size(frames["observation.images.secondary_0"][f:f + 1])[:, None].numpy()},
               "state": {"single_arm": s[None, f:f + 1, :5], "gripper": s[None, f:f + 1, 5:]},
               "language": {"annotation.human.task_description": [[TASK]]}}
        action, _ = policy.get_action(obs)
        chunk = np.concatenate([action["single_arm"][0], action["gripper"][0]], axis=-1)
        return float(np.abs(chunk - a[np.minimum(np.arange(f, f + 16), len(a) - 1)]).mean())

    untrained = write_checkpoint(str(tmp_path / "init17"), contract="n1.7")
    learned, fresh = TinyGr00tPolicyN17.from_pretrained(str(out)), TinyGr00tPolicyN17.from_pretrained(untrained)
    assert nested_error(learned) < 0.5 * nested_error(fresh)
