"""bridge.groot.adapters: a contract test of the Isaac-GR00T adapter against a fake `gr00t` package
that implements exactly the Gr00tPolicy surface the adapter documents, and the missing package's error."""

import json
import os
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import numpy as np
import pytest
import torch

from bridge import tiny, tiny_checkpoint
from bridge.groot.layout import LANGUAGE_KEY, normalise_min_max
from bridge.groot.policy import GrootBase
from mjx_gr00t.groot_settings import GrootSettings

from groot_samples import random_obs, to_lerobot, to_sim  # noqa: E402

B = 5
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _obs(seed: int = 0, n: int = B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_obs(seed, n)


def test_missing_gr00t_package_says_how_to_install(
    tiny_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.copytree(tiny_dir, tmp_path / "real")
    (real / "config.json").write_text(json.dumps({"model_type": "gr00t_n1_5"}))
    monkeypatch.setitem(sys.modules, "gr00t", None)  # `import gr00t` fails
    with pytest.raises(ImportError, match=r'pip install "gr00t @ git\+https://github.com/NVIDIA/Isaac-GR00T'):
        GrootBase.from_pretrained(GrootSettings(model=str(real)))


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
    path = tiny_checkpoint.write_checkpoint(str(tmp_path / "gr00t"), key_map=key_map)
    Path(path, "config.json").write_text(json.dumps({"model_type": "gr00t_n1_5"}))
    os.remove(os.path.join(path, tiny.WEIGHTS_FILE))
    return path


def test_isaac_adapter_contract(fake_gr00t: type[FakeGr00tPolicy], tmp_path: Path) -> None:
    path = _real_checkpoint(tmp_path)
    base = GrootBase.from_pretrained(GrootSettings(model=path, max_batch=2, n_action_steps=12), denoising_steps=3)
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
           "state.single_arm": to_lerobot(q)[:, None, :5].astype(np.float32),
           "state.gripper": to_lerobot(q)[:, None, 5:].astype(np.float32)}
    public = policy.get_action(raw)
    lerobot = np.concatenate([public["action.single_arm"], public["action.gripper"]], axis=-1)
    np.testing.assert_allclose(to_sim(lerobot), chunk.numpy(), atol=1e-4)


def test_isaac_adapter_with_key_map(fake_gr00t: type[FakeGr00tPolicy], tmp_path: Path) -> None:
    path = _real_checkpoint(tmp_path, "cam01_arm0")
    base = GrootBase.from_pretrained(GrootSettings(model=path, key_map="cam01_arm0"))
    (policy,) = fake_gr00t.instances
    assert policy.modality_config["video"].modality_keys == ["video.image_cam_0", "video.image_cam_1"]
    assert policy.modality_config["state"].modality_keys == ["state.arm_0"]
    front, wrist, q = _obs()
    chunk = base.plan(front, wrist, q).numpy()
    np.testing.assert_allclose(chunk, np.broadcast_to(q[:, None], (B, 16, 6)), atol=1e-4)
