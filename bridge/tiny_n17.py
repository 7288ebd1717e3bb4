"""The tiny model behind GR00T N1.6/N1.7's policy contract (bridge.groot.contract_n17), as Isaac-GR00T's
`Gr00tPolicy` offers it.

    policy = TinyGr00tPolicyN17.from_pretrained(DIR)   # a `python -m bridge.tiny --out DIR --contract n1.7` checkpoint
    action, info = policy.get_action({"video": {"front": (B,1,H,W,3) uint8, "wrist": ...},
                                      "state": {"single_arm": (B,1,5), "gripper": (B,1,1)},
                                      "language": {"annotation.human.task_description": [["..."]] * B}})
    # action {"single_arm": (B,16,5), "gripper": (B,16,1)} float32, absolute, LeRobot units; info {}

The observation is normalised with the checkpoint's statistics (q01/q99 under use_percentiles,
clipped under clip_outliers), the model denoises a normalised chunk, and relative groups are
un-normalised with their relative_action statistics and added to the query-time state
(`bridge.groot.normaliser`). An N1.5 checkpoint loads too (its absolute min-max normalisation).
options: None, or {"seed": int} for fresh noise (the default is the checkpoint's fixed sample).
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from bridge.groot.contract_n17 import flat_observation, group
from bridge.groot.wire import ModalityConfig
from bridge.tiny import TinyGr00tPolicy


class TinyGr00tPolicyN17:
    """`get_action(observation, options) -> (action, info)`, `reset`, `get_modality_config`."""

    seeded_noise = True

    def __init__(self, policy: TinyGr00tPolicy) -> None:
        self.policy, self.layout, self.normaliser = policy, policy.layout, policy.normaliser

    @classmethod
    def from_pretrained(cls, model_dir: str, embodiment_tag: str = "new_embodiment",
                        denoising_steps: int | None = None, device: str = "cpu") -> "TinyGr00tPolicyN17":
        return cls(TinyGr00tPolicy.from_pretrained(model_dir, embodiment_tag, denoising_steps, device))

    def get_modality_config(self) -> dict[str, ModalityConfig]:
        lay = self.layout
        return {"video": ModalityConfig((0,), tuple(group(k) for k, _ in lay.video)),
                "state": ModalityConfig((0,), tuple(group(k) for k, _ in lay.state)),
                "action": ModalityConfig(tuple(range(lay.action_horizon)), tuple(group(k) for k, _ in lay.action)),
                "language": ModalityConfig((0,), (lay.language_key,))}

    def reset(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Stateless: nothing to clear."""
        return {}

    @torch.inference_mode()
    def get_action(self, observation: Mapping[str, Any],
                   options: Mapping[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        flat = flat_observation(observation, self.layout)
        dev, lay = self.policy.device, self.layout
        batch: dict[str, Any] = {}
        for key, _ in lay.video:
            v = flat[key]
            if v.dtype != np.uint8 or v.ndim != 5:
                raise TypeError(f"video {group(key)!r} must be uint8 (B, T, H, W, 3), got {v.dtype} {v.shape}")
            batch[key] = torch.from_numpy(np.ascontiguousarray(v[:, -1:])).to(dev)
        parts = []
        for key, n in lay.state:
            s = torch.as_tensor(np.asarray(flat[key], np.float32), device=dev)
            if s.ndim != 3 or s.shape[-1] != n:
                raise ValueError(f"state {group(key)!r} must be (B, T, {n}), got {tuple(s.shape)}")
            parts.append(s[:, -1])
        state_raw = torch.cat(parts, dim=-1)
        normalised, off = self.normaliser.state(state_raw), 0
        for key, n in lay.state:
            batch[key], off = normalised[:, None, off:off + n], off + n
        batch[lay.language_key] = flat[lay.language_key]
        seed = (options or {}).get("seed")
        generator = None if seed is None else torch.Generator(device=dev).manual_seed(int(seed))
        out = self.policy.get_action_normalized(batch, generator=generator)
        chunk = self.normaliser.action_to_raw(torch.cat([out[k] for k, _ in lay.action], dim=-1), state_raw)
        action, off = {}, 0
        for key, n in lay.action:
            action[group(key)], off = chunk[..., off:off + n].float().cpu().numpy(), off + n
        return action, {}
