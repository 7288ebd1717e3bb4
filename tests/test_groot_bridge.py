"""bridge.groot + bridge.tiny: loading, batched chunk planning, un-normalisation, key maps, bad
input, and a contract test of the Isaac-GR00T adapter against a fake `gr00t` package."""

import json
import math
import os
import shutil
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bridge import tiny
from bridge.groot import (
    KEY_MAPS, LANGUAGE_KEY, SO101_JOINT_RANGES, GrootBase, GrootConfig, normalise_min_max, resolve_layout,
)

B = 5
from groot_samples import random_obs  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RANGES = np.asarray(SO101_JOINT_RANGES)
TOL = 1e-5


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = str(tmp_path_factory.mktemp("tiny"))
    tiny.main(["--out", out, "--seed", "0"])
    return out


@pytest.fixture(scope="module")
def base(tiny_dir: str) -> GrootBase:
    return GrootBase.from_pretrained(tiny_dir, max_batch=2)


def _obs(seed: int = 0, n: int = B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_obs(seed, n)


def _to_lerobot(q: np.ndarray) -> np.ndarray:
    """Sim rad -> degrees (arm) and 0..100 of the gripper range, written out independently."""
    lo, hi = RANGES[-1]
    return np.concatenate([np.degrees(q[..., :5]), (q[..., 5:] - lo) / (hi - lo) * 100.0], axis=-1)


def _to_sim(a: np.ndarray) -> np.ndarray:
    lo, hi = RANGES[-1]
    return np.concatenate([np.radians(a[..., :5]), lo + a[..., 5:] / 100.0 * (hi - lo)], axis=-1)


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
    whole = GrootBase.from_pretrained(tiny_dir, max_batch=64).plan(front, wrist, q)
    torch.testing.assert_close(chunk, whole, atol=TOL, rtol=0)  # sub-batching changes nothing
    assert sum(p.numel() for p in base.adapter.policy.model.parameters()) < 400_000


def test_deterministic_given_seed(base: GrootBase, tiny_dir: str, tmp_path: Path) -> None:
    front, wrist, q = _obs()
    first = base.plan(front, wrist, q)
    assert torch.equal(first, base.plan(front, wrist, q))
    assert torch.equal(first, GrootBase.from_pretrained(tiny_dir, max_batch=2).plan(front, wrist, q))
    other = GrootBase.from_pretrained(tiny.write_checkpoint(str(tmp_path), seed=1), max_batch=2)
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
    state = 2 * (_to_lerobot(q.astype(np.float64)) - s_lo) / (s_hi - s_lo) - 1
    batch = {"video.front": torch.from_numpy(front)[:, None], "video.wrist": torch.from_numpy(wrist)[:, None],
             "state.single_arm": torch.tensor(state[:, None, :5], dtype=torch.float32),
             "state.gripper": torch.tensor(state[:, None, 5:], dtype=torch.float32),
             LANGUAGE_KEY: [base.config.task] * B}
    out = base.adapter.policy.get_action_normalized(batch)
    normalised = np.concatenate([out["action.single_arm"].numpy(), out["action.gripper"].numpy()], axis=-1)
    a_lo, a_hi = _stats(tiny_dir, "action", ["single_arm", "gripper"])
    expected = _to_sim((normalised + 1) / 2 * (a_hi - a_lo) + a_lo)
    np.testing.assert_allclose(chunk, expected, atol=1e-4)
    lo_rad, hi_rad = _to_sim(a_lo), _to_sim(a_hi)
    assert (chunk >= lo_rad - 1e-5).all() and (chunk <= hi_rad + 1e-5).all()
    # Isaac-style public get_action (CPU numpy, LeRobot units) agrees with the bridge.
    raw = {"video.front": front[:, None], "video.wrist": wrist[:, None],
           "state.single_arm": _to_lerobot(q)[:, None, :5], "state.gripper": _to_lerobot(q)[:, None, 5:],
           LANGUAGE_KEY: [base.config.task] * B}
    public = base.adapter.policy.get_action(raw)
    assert isinstance(public["action.gripper"], np.ndarray)
    assert public["action.single_arm"].shape == (B, 16, 5)
    lerobot = np.concatenate([public["action.single_arm"], public["action.gripper"]], axis=-1)
    np.testing.assert_allclose(_to_sim(lerobot), chunk, atol=1e-4)
    one = {k: v[0] for k, v in raw.items() if k != LANGUAGE_KEY} | {LANGUAGE_KEY: base.config.task}
    single = base.adapter.policy.get_action(one)
    assert single["action.single_arm"].shape == (16, 5)  # unbatched input, unbatched output


def test_jax_inputs_give_a_jax_chunk(base: GrootBase) -> None:
    front, wrist, q = _obs()
    out = base.plan(jnp.asarray(front), jnp.asarray(wrist), jnp.asarray(q))
    assert isinstance(out, jnp.ndarray) and out.shape == (B, 16, 6) and out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), base.plan(front, wrist, q).numpy(), atol=TOL)


def test_key_map_for_fine_tune_keys(tmp_path: Path) -> None:
    path = tiny.write_checkpoint(str(tmp_path), key_map="cam01_arm0")
    with open(os.path.join(path, "experiment_cfg", "metadata.json")) as f:
        mods = json.load(f)["new_embodiment"]["modalities"]
    assert sorted(mods["video"]) == ["image_cam_0", "image_cam_1"] and mods["state"]["arm_0"]["shape"] == [6]
    front, wrist, q = _obs()
    for key_map in ("cam01_arm0", dict(KEY_MAPS["cam01_arm0"])):
        chunk = GrootBase.from_pretrained(path, key_map=key_map, max_batch=2).plan(front, wrist, q)
        assert chunk.shape == (B, 16, 6) and torch.isfinite(chunk).all()
    with pytest.raises(ValueError, match=r"does not match.*state\.single_arm"):
        GrootBase.from_pretrained(path)


# ---------------------------------------------------------------------------------------------
# Bad input


def test_missing_gr00t_package_says_how_to_install(
    tiny_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.copytree(tiny_dir, tmp_path / "real")
    (real / "config.json").write_text(json.dumps({"model_type": "gr00t_n1_5"}))
    monkeypatch.setitem(sys.modules, "gr00t", None)  # `import gr00t` fails
    with pytest.raises(ImportError, match=r'pip install "gr00t @ git\+https://github.com/NVIDIA/Isaac-GR00T'):
        GrootBase.from_pretrained(str(real))


def test_bad_checkpoints_and_configs(tiny_dir: str, tmp_path: Path) -> None:
    no_meta = shutil.copytree(tiny_dir, tmp_path / "no_meta")
    os.remove(no_meta / "experiment_cfg" / "metadata.json")
    with pytest.raises(FileNotFoundError, match=r"experiment_cfg/metadata.json"):
        GrootBase.from_pretrained(str(no_meta))
    with pytest.raises(ValueError, match="unknown data config 'so101_quadcam'"):
        GrootBase.from_pretrained(tiny_dir, data_config="so101_quadcam")
    with pytest.raises(ValueError, match=r"embodiment tag 'gr1' is not in .*new_embodiment"):
        GrootBase.from_pretrained(tiny_dir, embodiment_tag="gr1")
    with pytest.raises(ValueError, match=r"model_type 'bert'"):
        (tmp_path / "bert").mkdir()
        (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
        GrootBase.from_pretrained(str(tmp_path / "bert"))
    with pytest.raises(FileNotFoundError, match="neither"):
        GrootBase.from_pretrained(str(tmp_path / "nowhere" / "x" / "y"))
    with pytest.raises(ValueError, match="n_action_steps"):
        GrootConfig(n_action_steps=17)
    with pytest.raises(ValueError, match="device"):
        GrootConfig(device="tpu")
    with pytest.raises(ValueError, match="lacks"):
        resolve_layout("so100_dualcam", {"video.top": "video.cam"})


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

    bad = GrootBase(Broken(base.adapter, "shape"), base.layout, base.emb_meta, base.config)
    with pytest.raises(ValueError, match=r"shape \(2, 8, 5\), expected \(2, 16, 5\)"):
        bad.plan(front, wrist, q)
    good = base.plan(front, wrist, q)
    nan = GrootBase(Broken(base.adapter, "nan"), base.layout, base.emb_meta, base.config)
    first = nan.plan(front, wrist, q)  # env 4 (the last sub-batch of one) is NaN: it holds its joints
    assert nan.nonfinite_envs == 1 and torch.isfinite(first).all()
    torch.testing.assert_close(first[:4], good[:4], atol=TOL, rtol=0)
    torch.testing.assert_close(first[4], torch.from_numpy(q[4]).expand(16, 6))
    nan.plan(front, wrist, q)  # ...and then gets its last good chunk
    assert nan.nonfinite_envs == 2


def test_joint_ranges_match_the_mjcf() -> None:
    xml = Path(__file__).resolve().parents[1] / "envs_xml" / "so101.xml"
    joints = {j.get("name"): tuple(map(float, j.get("range").split()))
              for j in ET.parse(xml).iter("joint") if j.get("range")}
    names = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
    assert tuple(joints[n] for n in names) == SO101_JOINT_RANGES


# ---------------------------------------------------------------------------------------------
# Contract test: the Isaac-GR00T adapter against a fake of the documented Gr00tPolicy surface


class FakeStateActionTransform:
    """gr00t.data.transform.state_action.StateActionTransform, min_max mode only."""

    calls = 0

    def __init__(self, apply_to: list[str], normalization_modes: dict[str, str]) -> None:
        assert set(normalization_modes.values()) == {"min_max"}
        self.apply_to, self.stats = list(apply_to), {}

    def set_metadata(self, meta: dict[str, Any]) -> None:
        for key in self.apply_to:
            modality, sub = key.split(".", 1)
            st = meta["statistics"][modality][sub]
            self.stats[key] = (torch.tensor(st["min"]), torch.tensor(st["max"]))

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        for key in (k for k in self.apply_to if k in data):
            FakeStateActionTransform.calls += 1
            data[key] = normalise_min_max(data[key], *self.stats[key])
        return data

    def unapply(self, data: dict[str, Any]) -> dict[str, Any]:
        for key in (k for k in self.apply_to if k in data):
            lo, hi = self.stats[key]
            data[key] = (data[key] + 1) / 2 * (hi - lo) + lo
        return data


class FakeToTensorAndConcat:
    """Video checks, StateActionToTensor, ConcatTransform and GR00TTransform's padding to 64."""

    def __init__(self, dc: "FakeDataConfig") -> None:
        self.dc = dc
        self.seen: list[dict[str, Any]] = []

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        n = len(data[LANGUAGE_KEY])
        assert isinstance(data[LANGUAGE_KEY], list) and all(isinstance(s, str) for s in data[LANGUAGE_KEY])
        for key in self.dc.video_keys:
            v = data[key]
            assert isinstance(v, np.ndarray) and v.dtype == np.uint8 and v.shape == (n, 1, 224, 224, 3)
        for key in self.dc.state_keys:
            s = data[key]
            assert isinstance(s, np.ndarray) and s.dtype == np.float32 and s.shape[:2] == (n, 1)
            data[key] = torch.from_numpy(data[key])
        self.seen.append({k: data[k] for k in self.dc.video_keys})
        return data

    def concat(self, data: dict[str, Any]) -> dict[str, Any]:
        state = torch.cat([data[k] for k in self.dc.state_keys], dim=-1)
        return {"state": torch.nn.functional.pad(state, (0, 64 - state.shape[-1])), "n": state.shape[0]}


class FakeComposed:
    def __init__(self, transforms: list[Any]) -> None:
        self.transforms = transforms

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        for t in self.transforms:
            data = t(data)
        return data


class FakeDataConfig:
    video_keys = ["video.front", "video.wrist"]
    state_keys = ["state.single_arm", "state.gripper"]
    action_keys = ["action.single_arm", "action.gripper"]
    action_indices = list(range(16))

    def modality_config(self) -> dict[str, Any]:
        ns = types.SimpleNamespace
        return {"video": ns(delta_indices=[0], modality_keys=list(self.video_keys)),
                "state": ns(delta_indices=[0], modality_keys=list(self.state_keys)),
                "action": ns(delta_indices=list(self.action_indices), modality_keys=list(self.action_keys)),
                "language": ns(delta_indices=[0], modality_keys=[LANGUAGE_KEY])}

    def transform(self) -> FakeComposed:
        head = FakeToTensorAndConcat(self)
        state = FakeStateActionTransform(self.state_keys, dict.fromkeys(self.state_keys, "min_max"))
        action = FakeStateActionTransform(self.action_keys, dict.fromkeys(self.action_keys, "min_max"))
        return FakeComposed([head, state, action, head.concat])


class FakeGr00tPolicy:
    """Gr00tPolicy's documented surface; its "model" returns the normalised state as the action."""

    instances: list["FakeGr00tPolicy"] = []

    def __init__(self, model_path: str, embodiment_tag: str, modality_config: dict[str, Any],
                 modality_transform: FakeComposed, denoising_steps: int | None = None,
                 device: str = "cuda") -> None:
        self.init_args = dict(model_path=model_path, embodiment_tag=embodiment_tag,
                              denoising_steps=denoising_steps, device=device)
        self.model_path, self.device = Path(model_path), device
        self._modality_config, self._modality_transform = modality_config, modality_transform
        self.model = types.SimpleNamespace(action_head=types.SimpleNamespace(num_inference_timesteps=16))
        metas = json.loads((self.model_path / "experiment_cfg" / "metadata.json").read_text())
        if embodiment_tag not in metas:
            raise ValueError(f"No metadata found for embodiment tag: {embodiment_tag}")
        self.metadata = metas[embodiment_tag]
        for t in modality_transform.transforms:
            getattr(t, "set_metadata", lambda m: None)(self.metadata)
        if denoising_steps is not None:
            self.model.action_head.num_inference_timesteps = denoising_steps
        self.batch_sizes: list[int] = []
        FakeGr00tPolicy.instances.append(self)

    modality_config = property(lambda self: self._modality_config)
    modality_transform = property(lambda self: self._modality_transform)

    @property
    def denoising_steps(self) -> int:
        return self.model.action_head.num_inference_timesteps

    def apply_transforms(self, obs: dict[str, Any]) -> dict[str, Any]:
        return self._modality_transform(obs)

    def _get_action_from_normalized_input(self, inputs: dict[str, Any]) -> torch.Tensor:
        self.batch_sizes.append(inputs["n"])
        horizon = len(self._modality_config["action"].delta_indices)
        return inputs["state"][:, :, :32].expand(-1, horizon, -1).float().to(self.device)

    def get_action(self, observations: dict[str, Any]) -> dict[str, np.ndarray]:
        action = self._get_action_from_normalized_input(self.apply_transforms(dict(observations))).cpu()
        out, off = {}, 0
        for key in self._modality_config["action"].modality_keys:
            size = len(self.metadata["statistics"]["action"][key.split(".", 1)[1]]["min"])
            out[key], off = action[..., off:off + size], off + size
        normaliser = next(t for t in self._modality_transform.transforms
                          if isinstance(t, FakeStateActionTransform) and t.apply_to[0] in out)
        return {k: v.numpy() for k, v in normaliser.unapply(out).items()}


@pytest.fixture
def fake_gr00t(monkeypatch: pytest.MonkeyPatch) -> type[FakeGr00tPolicy]:
    FakeGr00tPolicy.instances.clear()
    FakeStateActionTransform.calls = 0
    leaves = {"gr00t.model.policy": {"Gr00tPolicy": FakeGr00tPolicy},
              "gr00t.experiment.data_config": {"DATA_CONFIG_MAP": {"so100_dualcam": FakeDataConfig()}},
              "gr00t.data.transform.state_action": {"StateActionTransform": FakeStateActionTransform}}
    for name in ("gr00t", "gr00t.model", "gr00t.experiment", "gr00t.data", "gr00t.data.transform"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    for name, attrs in leaves.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
    return FakeGr00tPolicy


def _real_checkpoint(tmp_path: Path, key_map: str | None = None) -> str:
    path = tiny.write_checkpoint(str(tmp_path / "gr00t"), key_map=key_map)
    Path(path, "config.json").write_text(json.dumps({"model_type": "gr00t_n1_5"}))
    os.remove(os.path.join(path, tiny.WEIGHTS_FILE))
    return path


def test_isaac_adapter_contract(fake_gr00t: type[FakeGr00tPolicy], tmp_path: Path) -> None:
    path = _real_checkpoint(tmp_path)
    base = GrootBase.from_pretrained(path, max_batch=2, denoising_steps=3, n_action_steps=12)
    (policy,) = fake_gr00t.instances
    assert policy.init_args == dict(model_path=path, embodiment_tag="new_embodiment", denoising_steps=3,
                                    device="cpu")
    assert policy.denoising_steps == 3
    assert policy.modality_config["video"].modality_keys == ["video.front", "video.wrist"]
    assert policy.modality_config["action"].modality_keys == ["action.single_arm", "action.gripper"]
    front, wrist, q = _obs()
    chunk = base.plan(front, wrist, q)
    # State normalised once (by the bridge), action un-normalised once, in joint order: the fake's
    # identity model hands back the joint positions at every step.
    np.testing.assert_allclose(chunk.numpy(), np.broadcast_to(q[:, None], (B, 16, 6)), atol=1e-4)
    assert policy.batch_sizes == [2, 2, 1] and FakeStateActionTransform.calls == 0
    head = policy.modality_transform.transforms[0]
    np.testing.assert_array_equal(head.seen[0]["video.front"][:, 0], front[:2])
    np.testing.assert_array_equal(head.seen[2]["video.wrist"][:, 0], wrist[4:])
    # The policy is left intact: its own public get_action (CPU, LeRobot units) still works and agrees.
    raw = {"video.front": front[:, None], "video.wrist": wrist[:, None], LANGUAGE_KEY: ["x"] * B,
           "state.single_arm": _to_lerobot(q)[:, None, :5].astype(np.float32),
           "state.gripper": _to_lerobot(q)[:, None, 5:].astype(np.float32)}
    public = policy.get_action(raw)
    lerobot = np.concatenate([public["action.single_arm"], public["action.gripper"]], axis=-1)
    np.testing.assert_allclose(_to_sim(lerobot), chunk.numpy(), atol=1e-4)


def test_isaac_adapter_with_key_map(fake_gr00t: type[FakeGr00tPolicy], tmp_path: Path) -> None:
    base = GrootBase.from_pretrained(_real_checkpoint(tmp_path, "cam01_arm0"), key_map="cam01_arm0")
    (policy,) = fake_gr00t.instances
    assert policy.modality_config["video"].modality_keys == ["video.image_cam_0", "video.image_cam_1"]
    assert policy.modality_config["state"].modality_keys == ["state.arm_0"]
    front, wrist, q = _obs()
    chunk = base.plan(front, wrist, q).numpy()
    np.testing.assert_allclose(chunk, np.broadcast_to(q[:, None], (B, 16, 6)), atol=1e-4)
