"""bridge.groot.policy + bridge.tiny: loading, batched chunk planning, un-normalisation, key maps,
jax/torch/numpy inputs, and bad input or model output."""

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bridge import tiny, tiny_checkpoint
from bridge.groot.layout import KEY_MAPS, LANGUAGE_KEY
from bridge.groot.policy import GrootBase
from mjx_gr00t.groot_settings import GrootSettings

from groot_samples import random_obs, to_lerobot, to_sim  # noqa: E402

B = 5
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOL = 1e-5


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = str(tmp_path_factory.mktemp("tiny"))
    tiny.main(["--out", out, "--seed", "0"])  # the CLI writes the checkpoint
    return out


def _load(model: str, **settings: Any) -> GrootBase:
    return GrootBase.from_pretrained(GrootSettings(model=model, **settings))


@pytest.fixture(scope="module")
def base(tiny_dir: str) -> GrootBase:
    return _load(tiny_dir, max_batch=2)


def _obs(seed: int = 0, n: int = B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_obs(seed, n)


def _stats(model_dir: str, modality: str, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    with open(os.path.join(model_dir, "experiment_cfg", "metadata.json")) as f:
        st = json.load(f)["new_embodiment"]["statistics"][modality]
    return (np.concatenate([st[k]["min"] for k in keys]), np.concatenate([st[k]["max"] for k in keys]))


# ---------------------------------------------------------------------------------------------
# The tiny checkpoint through the common path


def test_plan_shape_sub_batches_and_timing(base: GrootBase, tiny_dir: str) -> None:
    front, wrist, q = _obs()
    chunk = base.plan(front, wrist, q)
    assert isinstance(chunk, torch.Tensor) and chunk.shape == (B, 16, 6) and chunk.dtype == torch.float32
    assert torch.isfinite(chunk).all()
    timing = base.last_timing
    assert timing["groot/sub_batches"] == 3 and timing["groot/batch"] == B
    assert timing["groot/inference_time_per_env_step"] == pytest.approx(timing["groot/inference_time"] / 8)
    whole = _load(tiny_dir, max_batch=64).plan(front, wrist, q)
    torch.testing.assert_close(chunk, whole, atol=TOL, rtol=0)  # sub-batching changes nothing
    assert sum(p.numel() for p in base.adapter.policy.model.parameters()) < 400_000


def test_deterministic_given_seed(base: GrootBase, tiny_dir: str, tmp_path: Path) -> None:
    front, wrist, q = _obs()
    first = base.plan(front, wrist, q)
    assert torch.equal(first, base.plan(front, wrist, q))
    assert torch.equal(first, _load(tiny_dir, max_batch=2).plan(front, wrist, q))
    other = _load(tiny_checkpoint.write_checkpoint(str(tmp_path), seed=1), max_batch=2)
    assert (other.plan(front, wrist, q) - first).abs().max() > 1e-3


def test_every_input_changes_the_chunk(base: GrootBase) -> None:
    front, wrist, q = _obs()
    ref = base.plan(front, wrist, q)
    front2, wrist2, q2 = _obs(seed=1)
    for changed in (base.plan(front2, wrist, q), base.plan(front, wrist2, q), base.plan(front, wrist, q2),
                    base.plan(front, wrist, q, task="open the gripper wide")):
        assert ((changed - ref).abs().amax(dim=(1, 2)) > 1e-4).all()


def test_unnormalisation_matches_numpy_and_stays_in_range(base: GrootBase, tiny_dir: str) -> None:
    front, wrist, q = _obs()
    chunk = base.plan(front, wrist, q).numpy()
    # The model's normalised output for the same inputs, normalised by hand in numpy.
    s_lo, s_hi = _stats(tiny_dir, "state", ["single_arm", "gripper"])
    state = 2 * (to_lerobot(q.astype(np.float64)) - s_lo) / (s_hi - s_lo) - 1
    batch = {"video.front": torch.from_numpy(front)[:, None], "video.wrist": torch.from_numpy(wrist)[:, None],
             "state.single_arm": torch.tensor(state[:, None, :5], dtype=torch.float32),
             "state.gripper": torch.tensor(state[:, None, 5:], dtype=torch.float32),
             LANGUAGE_KEY: [base.settings.task] * B}
    out = base.adapter.policy.get_action_normalized(batch)
    normalised = np.concatenate([out["action.single_arm"].numpy(), out["action.gripper"].numpy()], axis=-1)
    a_lo, a_hi = _stats(tiny_dir, "action", ["single_arm", "gripper"])
    expected = to_sim((normalised + 1) / 2 * (a_hi - a_lo) + a_lo)
    np.testing.assert_allclose(chunk, expected, atol=1e-4)
    lo_rad, hi_rad = to_sim(a_lo), to_sim(a_hi)
    assert (chunk >= lo_rad - 1e-5).all() and (chunk <= hi_rad + 1e-5).all()
    # Isaac-style public get_action (CPU numpy, LeRobot units) agrees with the bridge.
    raw = {"video.front": front[:, None], "video.wrist": wrist[:, None],
           "state.single_arm": to_lerobot(q)[:, None, :5], "state.gripper": to_lerobot(q)[:, None, 5:],
           LANGUAGE_KEY: [base.settings.task] * B}
    public = base.adapter.policy.get_action(raw)
    assert isinstance(public["action.gripper"], np.ndarray)
    assert public["action.single_arm"].shape == (B, 16, 5)
    lerobot = np.concatenate([public["action.single_arm"], public["action.gripper"]], axis=-1)
    np.testing.assert_allclose(to_sim(lerobot), chunk, atol=1e-4)
    one = {k: v[0] for k, v in raw.items() if k != LANGUAGE_KEY} | {LANGUAGE_KEY: base.settings.task}
    single = base.adapter.policy.get_action(one)
    assert single["action.single_arm"].shape == (16, 5)  # unbatched input, unbatched output


def test_jax_inputs_give_a_jax_chunk(base: GrootBase) -> None:
    front, wrist, q = _obs()
    out = base.plan(jnp.asarray(front), jnp.asarray(wrist), jnp.asarray(q))
    assert isinstance(out, jnp.ndarray) and out.shape == (B, 16, 6) and out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), base.plan(front, wrist, q).numpy(), atol=TOL)


def test_key_map_for_fine_tune_keys(tmp_path: Path) -> None:
    path = tiny_checkpoint.write_checkpoint(str(tmp_path), key_map="cam01_arm0")
    with open(os.path.join(path, "experiment_cfg", "metadata.json")) as f:
        mods = json.load(f)["new_embodiment"]["modalities"]
    assert sorted(mods["video"]) == ["image_cam_0", "image_cam_1"] and mods["state"]["arm_0"]["shape"] == [6]
    front, wrist, q = _obs()
    by_name = _load(path, key_map="cam01_arm0", max_batch=2)
    by_map = GrootBase.from_pretrained(GrootSettings(model=path, max_batch=2), key_map=dict(KEY_MAPS["cam01_arm0"]))
    for base in (by_name, by_map):
        chunk = base.plan(front, wrist, q)
        assert chunk.shape == (B, 16, 6) and torch.isfinite(chunk).all()
    assert by_name.layout == by_map.layout
    with pytest.raises(ValueError, match=r"does not match.*state\.single_arm"):
        _load(path)


# ---------------------------------------------------------------------------------------------
# Bad input


def test_bad_checkpoints_and_settings(tiny_dir: str, tmp_path: Path) -> None:
    no_meta = shutil.copytree(tiny_dir, tmp_path / "no_meta")
    os.remove(no_meta / "experiment_cfg" / "metadata.json")
    with pytest.raises(FileNotFoundError, match=r"experiment_cfg/metadata.json"):
        _load(str(no_meta))
    with pytest.raises(ValueError, match="unknown data config 'so101_quadcam'"):
        _load(tiny_dir, data_config="so101_quadcam")
    with pytest.raises(ValueError, match=r"embodiment tag 'gr1' is not in .*new_embodiment"):
        _load(tiny_dir, embodiment_tag="gr1")
    with pytest.raises(ValueError, match=r"model_type 'bert'"):
        (tmp_path / "bert").mkdir()
        (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
        _load(str(tmp_path / "bert"))
    with pytest.raises(FileNotFoundError, match="neither"):
        _load(str(tmp_path / "nowhere" / "x" / "y"))
    with pytest.raises(ValueError, match="settings.model must name a checkpoint"):
        GrootBase.from_pretrained(GrootSettings())
    with pytest.raises(ValueError, match=r"n_action_steps must be in 1..16 \(GR00T's chunk\), got 17"):
        _load(tiny_dir, n_action_steps=17)
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        _load(tiny_dir, device="tpu")
    with pytest.raises(ValueError, match="denoising_steps must be >= 1"):
        GrootBase.from_pretrained(GrootSettings(model=tiny_dir), denoising_steps=0)
    with pytest.raises(ValueError, match=r"joint_ranges must be 6 pairs \(lo < hi\)"):
        GrootBase.from_pretrained(GrootSettings(model=tiny_dir), joint_ranges=((0.0, 1.0),) * 5)


def test_bad_model_output_is_caught(base: GrootBase) -> None:
    front, wrist, q = _obs()

    class Broken:
        def __init__(self, inner: Any, mode: str) -> None:
            self.inner, self.mode = inner, mode

        def get_action(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
            out = self.inner.get_action(batch)
            if self.mode == "shape":
                return {k: v[:, :8] for k, v in out.items()}
            last = len(batch[LANGUAGE_KEY]) == 1  # the last sub-batch: env 4
            return {k: v.clone().fill_(math.nan) if last else v for k, v in out.items()}

    bad = GrootBase(Broken(base.adapter, "shape"), base.layout, base.emb_meta, base.settings)
    with pytest.raises(ValueError, match=r"shape \(2, 8, 5\), expected \(2, 16, 5\)"):
        bad.plan(front, wrist, q)
    good = base.plan(front, wrist, q)
    nan = GrootBase(Broken(base.adapter, "nan"), base.layout, base.emb_meta, base.settings)
    first = nan.plan(front, wrist, q)  # env 4 (the last sub-batch of one) is NaN: it holds its joints
    assert nan.nonfinite_envs == 1 and torch.isfinite(first).all()
    torch.testing.assert_close(first[:4], good[:4], atol=TOL, rtol=0)
    torch.testing.assert_close(first[4], torch.from_numpy(q[4]).expand(16, 6))
    nan.plan(front, wrist, q)  # ...and then gets its last good chunk
    assert nan.nonfinite_envs == 2
