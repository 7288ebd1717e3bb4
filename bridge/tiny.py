"""A tiny torch policy with GR00T's exact I/O contracts, for tests and machines without the weights.

    python -m bridge.tiny --out DIR [--contract n1.5|n1.7] [--data-config so100_dualcam] [--key-map cam01_arm0] [--seed 0]

writes a checkpoint directory (`bridge.tiny_checkpoint`: config.json "model_type": "tiny_gr00t",
model.safetensors, and N1.5's experiment_cfg/metadata.json or N1.6/N1.7's processor files) that
`bridge.groot.policy.GrootBase.from_pretrained(GrootSettings(model=DIR))` loads through the same path
as a real GR00T checkpoint. Weights load with safetensors and json only, never pickle.

`TinyGr00tPolicy.get_action(obs)` takes what `Gr00tPolicy.get_action` takes (`video.<k>` uint8
(B, 1, H, W, 3), `state.<k>` float (B, 1, D), `annotation.human.task_description` list of B str;
inputs with fewer than 3 dims are one unbatched observation) and returns `action.<k>` (B, 16, D) as
CPU float32 numpy, un-normalised (relative groups made absolute) like Isaac-GR00T; N1.6/N1.7's
nested contract is `bridge.tiny_n17.TinyGr00tPolicyN17`. `get_action_normalized(batch)` is the
internal path the bridge uses: normalised state in, normalised action out, on the device.

The model itself (about 0.29M parameters; N1.5's structure at toy size) is `bridge.tiny_model`.
"""

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from bridge.groot.layout import DataConfig, embodiment_metadata, read_metadata
from bridge.groot.normaliser import Normaliser
from bridge.tiny_model import EMBODIMENT_IDS, WEIGHTS_FILE, TinyConfig, TinyGr00tModel, hash_tokens


class TinyGr00tPolicy:
    """The tiny model plus its metadata, with Gr00tPolicy's get_action contract."""

    def __init__(self, model: TinyGr00tModel, embodiment_meta: Mapping[str, Any], embodiment_tag: str,
                 denoising_steps: int, device: str | torch.device = "cpu") -> None:
        if embodiment_tag not in EMBODIMENT_IDS:
            raise ValueError(f"unknown embodiment tag {embodiment_tag!r}; known: {sorted(EMBODIMENT_IDS)}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.cfg = model.cfg
        self.embodiment_id = EMBODIMENT_IDS[embodiment_tag]
        self.denoising_steps = int(denoising_steps)
        self.emb = embodiment_meta
        self.layout = DataConfig("tiny", tuple((k, "") for k in self.cfg.video_keys), self.cfg.state_keys,
                                 self.cfg.action_keys, self.cfg.language_key, self.cfg.action_horizon)
        self.normaliser = Normaliser(embodiment_meta, self.layout, self.device)

    @classmethod
    def from_pretrained(cls, model_dir: str, embodiment_tag: str = "new_embodiment",
                        denoising_steps: int | None = None, device: str = "cpu") -> "TinyGr00tPolicy":
        """Loads config.json, model.safetensors and the normalisation metadata, either layout (no pickle)."""
        cfg_path, w_path = os.path.join(model_dir, "config.json"), os.path.join(model_dir, WEIGHTS_FILE)
        for path in (cfg_path, w_path):
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path!r} is missing; write one: `python -m bridge.tiny --out DIR`")
        with open(cfg_path) as f:
            cfg = TinyConfig.from_json(json.load(f), cfg_path)
        model = TinyGr00tModel(cfg)
        model.load_state_dict(load_file(w_path), strict=True)
        emb = embodiment_metadata(read_metadata(model_dir), embodiment_tag, f"the metadata of {model_dir!r}")
        steps = cfg.num_inference_timesteps if denoising_steps is None else denoising_steps
        return cls(model, emb, embodiment_tag, steps, device)

    @torch.inference_mode()
    def get_action_normalized(
        self, batch: Mapping[str, Any], generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Normalised batch (bridge.groot.adapters.PolicyAdapter) -> `action.<k>` (B, 16, D), normalised, on the device.

        generator: None uses the checkpoint's fixed noise sample; a generator draws fresh noise per row.
        """
        cfg, dev = self.cfg, self.device
        videos = torch.cat([torch.as_tensor(batch[k], device=dev) for k in cfg.video_keys], dim=1)  # B,V,H,W,3
        states = [torch.as_tensor(batch[k], device=dev, dtype=torch.float32) for k, _ in cfg.state_keys]
        state = torch.cat(states, dim=-1)
        b = state.shape[0]
        state = nn.functional.pad(state, (0, cfg.max_state_dim - state.shape[-1]))
        tokens = hash_tokens(batch[cfg.language_key], cfg.text_vocab, cfg.text_len).to(dev)
        ctx, pad = self.model.backbone(videos, tokens)
        if generator is None:
            noise = self.model.noise.expand(b, -1, -1)
        else:
            noise = torch.randn(b, cfg.action_horizon, cfg.max_action_dim, generator=generator,
                                device=generator.device).to(dev)
        emb_id = torch.full((b,), self.embodiment_id, dtype=torch.int64, device=dev)
        action = self.model.denoise(ctx, pad, state, emb_id, noise, self.denoising_steps)
        out, off = {}, 0
        for key, n in cfg.action_keys:
            out[key] = action[..., off:off + n]
            off += n
        return out

    def get_action(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Gr00tPolicy.get_action: raw observation (LeRobot units) -> `action.<k>` CPU float32 numpy (B, 16, D).

        Raises KeyError naming missing keys, TypeError for non-uint8 images.
        """
        cfg = self.cfg
        needed = (*cfg.video_keys, *(k for k, _ in cfg.state_keys), cfg.language_key)
        missing = [k for k in needed if k not in observations]
        if missing:
            raise KeyError(f"observation lacks {missing}; this checkpoint takes {list(cfg.video_keys)}, "
                           f"{[k for k, _ in cfg.state_keys]} and {cfg.language_key!r}")
        unbatched = any(np.ndim(observations[k]) < 3 for k, _ in cfg.state_keys)
        batch: dict[str, Any] = {}
        for key in cfg.video_keys:
            v = observations[key]
            v = v if torch.is_tensor(v) else torch.from_numpy(np.asarray(v))
            if v.dtype != torch.uint8:
                raise TypeError(f"{key} must be uint8 images, got {v.dtype}")
            batch[key] = (v[None] if unbatched else v).to(self.device)
        states = []
        for key, _ in cfg.state_keys:
            s = observations[key]
            s = torch.as_tensor(s if torch.is_tensor(s) else np.asarray(s, np.float32), dtype=torch.float32,
                                device=self.device)
            states.append(s[None] if unbatched else s)
        state_raw = torch.cat(states, dim=-1)[:, -1]  # (B, Ds): the query-time state
        normalised = self.normaliser.state(torch.cat(states, dim=-1))
        off = 0
        for key, n in cfg.state_keys:
            batch[key], off = normalised[..., off:off + n], off + n
        text = observations[cfg.language_key]
        batch[cfg.language_key] = [text] if isinstance(text, str) else list(text)
        out = self.get_action_normalized(batch)
        chunk = self.normaliser.action_to_raw(torch.cat([out[k] for k, _ in cfg.action_keys], dim=-1), state_raw)
        result, off = {}, 0
        for key, n in cfg.action_keys:
            result[key], off = chunk[..., off:off + n].cpu().numpy(), off + n
        return {k: v[0] for k, v in result.items()} if unbatched else result


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bridge.tiny --out DIR`: see bridge.tiny_checkpoint.main."""
    from bridge.tiny_checkpoint import main as write_main

    write_main(argv)


if __name__ == "__main__":
    main()
