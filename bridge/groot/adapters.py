"""The models behind `bridge.groot.policy.GrootBase`: one sub-batch, normalised in, normalised out.

    adapter = TinyAdapter.load(ckpt_dir, "new_embodiment", denoising_steps=4, device="cpu")
    adapter = IsaacGr00tAdapter.load(path_or_hf_id, "so100_dualcam", layout, "new_embodiment", 4, "cuda")
    out = adapter.get_action(batch, seed=0)   # {"action.<k>": (b, 16, D) normalised, on the device}

`TinyAdapter` wraps `bridge.tiny` (no extra packages); `IsaacGr00tAdapter` wraps NVIDIA
Isaac-GR00T's `Gr00tPolicy` (the optional extra `gr00t`, imported only when a real checkpoint loads).
"""

import copy
from collections.abc import Mapping
from typing import Any, Protocol

import torch

from bridge.groot.layout import DataConfig
from bridge.tiny import TinyGr00tPolicy


class PolicyAdapter(Protocol):
    """What the base needs from a model: one sub-batch, normalised in, normalised out.

    batch: `video.<k>` uint8 (b, 1, H, W, 3), `state.<k>` float32 (b, 1, D) min-max normalised,
    torch on the base's device, and the language key -> list of b str (checkpoint keys).
    Returns `action.<k>` -> float (b, horizon, D), normalised, on the device.
    seed: None, or the seed of the flow-matching noise for this sub-batch (same seed and inputs,
    same action). Callers pass it only when they have one, so adapters without it still work.
    """

    def get_action(self, batch: dict[str, Any], seed: int | None = None) -> dict[str, torch.Tensor]: ...


class TinyAdapter:
    """bridge.tiny's policy behind the PolicyAdapter interface (its normalised internal path)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    @classmethod
    def load(cls, model_dir: str, embodiment_tag: str, denoising_steps: int, device: str) -> "TinyAdapter":
        return cls(TinyGr00tPolicy.from_pretrained(
            model_dir, embodiment_tag=embodiment_tag, denoising_steps=denoising_steps, device=device))

    def get_action(self, batch: dict[str, Any], seed: int | None = None) -> dict[str, torch.Tensor]:
        """seed None: the checkpoint's fixed noise sample; else fresh noise from that seed."""
        generator = None if seed is None else torch.Generator(device=self.policy.device).manual_seed(seed)
        return self.policy.get_action_normalized(batch, generator=generator)


GR00T_INSTALL: str = 'pip install "gr00t @ git+https://github.com/NVIDIA/Isaac-GR00T@n1.5-release"'
"""Isaac-GR00T's N1.5 code lives on its n1.5-release branch (main moved on to N1.6+)."""


def import_gr00t() -> tuple[Any, Mapping[str, Any], type]:
    """(Gr00tPolicy, DATA_CONFIG_MAP, StateActionTransform) from Isaac-GR00T, or an ImportError
    that says how to install it."""
    try:
        from gr00t.data.transform.state_action import StateActionTransform
        from gr00t.experiment.data_config import DATA_CONFIG_MAP
        from gr00t.model.policy import Gr00tPolicy
    except ImportError as e:
        raise ImportError(
            "loading a real GR00T N1.5 checkpoint needs NVIDIA's Isaac-GR00T package `gr00t`, an optional "
            f"extra that could not be imported ({e}). Install it with\n    {GR00T_INSTALL}\n"
            "(Python 3.10, CUDA; see its README for flash-attn). There is no fallback to another base. "
            "For tests or machines without the weights: `python -m bridge.tiny --out DIR` writes a tiny one."
        ) from e
    return Gr00tPolicy, DATA_CONFIG_MAP, StateActionTransform


class IsaacGr00tAdapter:
    """Isaac-GR00T's `Gr00tPolicy` behind the PolicyAdapter interface, on normalised inputs.

    It relies on this surface of Isaac-GR00T (n1.5-release); tests/test_groot_adapters.py drives it
    with a fake that implements exactly these:
    - `gr00t.model.policy.Gr00tPolicy(model_path, embodiment_tag, modality_config, modality_transform,
      denoising_steps, device)`, with `.model_path` (local dir after a hub download),
      `.denoising_steps` (a property over `model.action_head.num_inference_timesteps`) and
      `.modality_transform.transforms` (the composed transforms, applied in order, as
      `apply_transforms` does);
    - `._get_action_from_normalized_input(inputs)` -> the normalised action, torch
      (B, horizon, max_action_dim) on the model's device: the public `get_action` would move it to
      the CPU and un-normalise in numpy, which the bridge does on the device instead;
    - `gr00t.experiment.data_config.DATA_CONFIG_MAP[name]`, whose `video_keys`, `state_keys`,
      `action_keys` are replaced (on a copy) by the checkpoint's keys after the key map, and whose
      `modality_config()` and `transform()` build the policy's inputs;
    - `gr00t.data.transform.state_action.StateActionTransform`: the one applied to the state keys
      is skipped, because the state arrives normalised. The policy itself is not modified.
    Isaac-GR00T's remaining transforms (video crop/resize, concat, GR00TTransform's padding to
    64/32 and Eagle image/text processing) take numpy, so images and the small state go to the CPU
    for them; the action stays on the device.
    """

    def __init__(self, policy: Any, layout: DataConfig, state_transform_cls: type) -> None:
        self.policy, self.layout = policy, layout
        state_keys = {k for k, _ in layout.state}
        transforms = list(policy.modality_transform.transforms)
        self._transforms = [t for t in transforms
                            if not (isinstance(t, state_transform_cls) and set(t.apply_to) <= state_keys)]
        if len(self._transforms) != len(transforms) - 1:
            raise RuntimeError(
                f"expected exactly one StateActionTransform over the state keys {sorted(state_keys)} in "
                "Isaac-GR00T's modality transform; this adapter targets the n1.5-release data configs"
            )
        self.model_dir = str(policy.model_path)

    @classmethod
    def load(cls, model_path: str, data_config: str, layout: DataConfig, embodiment_tag: str,
             denoising_steps: int, device: str) -> "IsaacGr00tAdapter":
        gr00t_policy_cls, data_configs, state_transform_cls = import_gr00t()
        if data_config not in data_configs:
            raise ValueError(f"Isaac-GR00T has no data config {data_config!r}; it has {sorted(data_configs)}")
        dc = copy.copy(data_configs[data_config])
        dc.video_keys = [k for k, _ in layout.video]
        dc.state_keys = [k for k, _ in layout.state]
        dc.action_keys = [k for k, _ in layout.action]
        policy = gr00t_policy_cls(
            model_path=model_path, embodiment_tag=embodiment_tag, modality_config=dc.modality_config(),
            modality_transform=dc.transform(), denoising_steps=denoising_steps, device=device,
        )
        if policy.denoising_steps != denoising_steps:
            policy.denoising_steps = denoising_steps
        return cls(policy, layout, state_transform_cls)

    def get_action(self, batch: dict[str, Any], seed: int | None = None) -> dict[str, torch.Tensor]:
        """seed: Isaac-GR00T's head draws its noise from torch's global generator, so with a seed the
        call runs under `torch.random.fork_rng` seeded with it (the global state is left as it was)."""
        data = {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        for transform in self._transforms:
            data = transform(data)
        if seed is None:
            action = self.policy._get_action_from_normalized_input(data)
        else:
            cuda = [torch.device(self.policy.device)] if torch.device(self.policy.device).type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(seed)
                action = self.policy._get_action_from_normalized_input(data)
        dims = sum(n for _, n in self.layout.action)
        if action.ndim != 3 or action.shape[-1] < dims:
            raise ValueError(
                f"Gr00tPolicy returned a normalised action of shape {tuple(action.shape)}; "
                f"expected (B, T, >= {dims})"
            )
        out, off = {}, 0
        for key, size in self.layout.action:
            out[key] = action[..., off:off + size]
            off += size
        return out
