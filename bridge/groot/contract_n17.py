"""GR00T N1.6/N1.7's policy contract, and the adapter that puts any policy speaking it under `GrootBase`.

    obs = nested_observation(batch, layout)      # the bridge's flat sub-batch -> N1.7's nested observation
    action, info = policy.get_action(obs, options)   # Gr00tPolicy, TinyGr00tPolicyN17 or RemoteGr00tPolicy
    adapter = N17PolicyAdapter(policy, layout, device)   # raw LeRobot units in, absolute actions out

The contract (facts: ../shared/reference/gr00t_n17.md):
- observation {"video": {camera: uint8 (B, T, H, W, 3) RGB}, "state": {group: float32 (B, T, D)},
  "language": {key: [[str]] * B}}, T = 1 for the SO-100/101 configs; groups are the data config's
  keys without their modality prefix ("state.single_arm" -> "single_arm");
- `get_action(observation, options=None) -> (action, info)`: action {group: float32 (B, T_act, D)}
  in the fine-tuning data's units, relative groups already made absolute; info a dict;
- `reset(options=None) -> dict`, `get_modality_config() -> {modality: ModalityConfig}`.
The server side un-normalises, so the adapter works in raw units (`raw_units = True`) and the base
skips its own normalisation for it. Our policies take an extra option {"seed": int} for their noise
(`seeded_noise = True`); it is sent only to them.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from bridge.groot.layout import DataConfig

GR00T_N17_INSTALL: str = 'pip install "gr00t @ git+https://github.com/NVIDIA/Isaac-GR00T"'
"""Isaac-GR00T's main branch carries N1.6/N1.7 (package gr00t, `gr00t.policy.gr00t_policy`)."""


def group(key: str) -> str:
    """'state.single_arm' -> 'single_arm'."""
    return key.split(".", 1)[1]


def _numpy(x: Any, dtype: Any) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).astype(dtype, copy=False)


def nested_observation(batch: Mapping[str, Any], layout: DataConfig) -> dict[str, Any]:
    """The flat sub-batch `GrootBase` builds (`video.<k>` (b, 1, H, W, 3), `state.<k>` (b, 1, D) raw,
    the language key -> b str) as N1.7's nested observation, numpy on the CPU."""
    texts = batch[layout.language_key]
    return {"video": {group(k): _numpy(batch[k], np.uint8) for k, _ in layout.video},
            "state": {group(k): _numpy(batch[k], np.float32) for k, _ in layout.state},
            "language": {layout.language_key: [[str(t)] for t in texts]}}


def flat_observation(obs: Mapping[str, Any], layout: DataConfig) -> dict[str, Any]:
    """Inverse of `nested_observation` (numpy), with a one-line error for a missing or foreign key."""
    if not isinstance(obs, Mapping) or not all(isinstance(obs.get(m), Mapping) for m in ("video", "state", "language")):
        raise ValueError("an N1.6/N1.7 observation is {'video': {...}, 'state': {...}, 'language': {...}}, got "
                         f"{sorted(obs) if isinstance(obs, Mapping) else type(obs).__name__}")
    out: dict[str, Any] = {}
    for modality, keys in (("video", [k for k, _ in layout.video]), ("state", [k for k, _ in layout.state])):
        missing = [group(k) for k in keys if group(k) not in obs[modality]]
        if missing:
            raise KeyError(f"observation[{modality!r}] lacks {missing}; it has {sorted(obs[modality])}")
        for key in keys:
            out[key] = np.asarray(obs[modality][group(key)])
    language = obs["language"]
    if not language:
        raise KeyError(f"observation['language'] is empty; it needs {layout.language_key!r}")
    texts = language.get(layout.language_key, next(iter(language.values())))  # upstream reads the first key
    out[layout.language_key] = [t[0] if isinstance(t, (list, tuple)) else t for t in texts]
    return out


class N17PolicyAdapter:
    """A policy with N1.7's contract behind `bridge.groot.adapters.PolicyAdapter`, in raw units."""

    raw_units = True

    def __init__(self, policy: Any, layout: DataConfig, device: torch.device | str = "cpu",
                 model_dir: str | None = None) -> None:
        self.policy, self.layout, self.device = policy, layout, torch.device(device)
        self.seeded = bool(getattr(policy, "seeded_noise", False))
        self.model_dir = model_dir

    def get_action(self, batch: dict[str, Any], seed: int | None = None) -> dict[str, torch.Tensor]:
        """Raw sub-batch -> `action.<k>` float32 (b, T, D), absolute, LeRobot units, on the device."""
        options = {"seed": int(seed)} if self.seeded and seed is not None else None
        reply = self.policy.get_action(nested_observation(batch, self.layout), options)
        if not (isinstance(reply, Sequence) and len(reply) == 2 and isinstance(reply[0], Mapping)):
            raise ValueError(f"an N1.6/N1.7 policy returns (action dict, info dict), got {type(reply).__name__}")
        action = reply[0]
        return {k: torch.as_tensor(np.asarray(action[group(k)]), device=self.device, dtype=torch.float32)
                for k, _ in self.layout.action if group(k) in action}  # GrootBase names missing keys

    def reset(self, options: Mapping[str, Any] | None = None) -> Any:
        return self.policy.reset(options)


def load_isaac_n17(model_path: str, layout: DataConfig, embodiment_tag: str, device: str) -> N17PolicyAdapter:
    """Isaac-GR00T's N1.6/N1.7 `Gr00tPolicy(embodiment_tag, model_path, device=...)` behind the adapter;
    ImportError saying how to install it. (Its denoising steps are the checkpoint's.)"""
    try:
        from gr00t.policy.gr00t_policy import Gr00tPolicy
    except ImportError as e:
        raise ImportError(
            "loading a real GR00T N1.6/N1.7 checkpoint needs NVIDIA's Isaac-GR00T package `gr00t` (main branch), an "
            f"optional extra that could not be imported ({e}). Install it with\n    {GR00T_N17_INSTALL}\n"
            "or serve the checkpoint with its own `python gr00t/eval/run_gr00t_server.py` and pass --groot.server."
        ) from e
    policy = Gr00tPolicy(embodiment_tag, model_path, device=device)
    return N17PolicyAdapter(policy, layout, device, model_dir=str(model_path))
