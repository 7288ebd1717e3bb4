"""A tiny torch policy with GR00T N1.5's exact I/O contract, for tests and machines without the weights.

    python -m bridge.tiny --out DIR [--data-config so100_dualcam] [--key-map cam01_arm0] [--seed 0]

writes a checkpoint directory that `bridge.groot.policy.GrootBase.from_pretrained(GrootSettings(model=DIR))`
loads through the same path as a real GR00T checkpoint:
- `config.json`: "model_type": "tiny_gr00t", the keys and sizes below;
- `model.safetensors`: the weights (loaded with safetensors and json only, never pickle);
- `experiment_cfg/metadata.json`: Isaac-GR00T's layout, embodiment tag -> {statistics:
  {state, action: key -> {min, max, mean, std, q01, q99}}, modalities: {video, state, action},
  embodiment_tag}, with synthetic statistics in LeRobot units (degrees, gripper 0..100).

`TinyGr00tPolicy.get_action(obs)` takes what `Gr00tPolicy.get_action` takes (`video.<k>` uint8
(B, 1, H, W, 3), `state.<k>` float (B, 1, D), `annotation.human.task_description` list of B str;
inputs with fewer than 3 dims are one unbatched observation) and returns `action.<k>` (B, 16, D) as
CPU float32 numpy, min-max un-normalised, like Isaac-GR00T. `get_action_normalized(batch)` is the
internal path the bridge uses: normalised state in, normalised action out, on the device.

The model follows N1.5's structure at toy size (about 0.29M parameters, untrained, random weights):
- backbone: a strided-conv encoder per camera on every 4th pixel (16 tokens each), a hashed word
  embedding of the instruction (12 tokens), one self-attention layer -> backbone tokens (B, S, 64);
- flow-matching action head: the state zero-padded to 64 and the noisy action padded to 32 are
  encoded (plus an embodiment embedding, 32 embodiments), and 2 DiT blocks with ada-norm timestep
  conditioning (cross-attention to the backbone tokens, then self-attention) denoise 16 steps in
  4 Euler steps from Gaussian noise. The head predicts the clean action, bounded by tanh, and turns
  it into the velocity (x1_hat - x_t) / (1 - t), so the result lies in [-1, 1] (normalised units).
- The noise is one seeded sample (1, 16, 32) shared by every row and call, so the policy is a
  deterministic function of its observation and sub-batching cannot change its output; pass a
  `torch.Generator` to `get_action_normalized` for fresh per-row noise.
"""

import argparse
import dataclasses
import json
import math
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from bridge.groot.layout import (
    LANGUAGE_KEY, METADATA_FILE, SO101_JOINT_RANGES, TINY_MODEL_TYPE, embodiment_metadata,
    min_max, normalise_min_max, read_metadata, resolve_layout, unnormalise_min_max,
)
from mjx_gr00t.export.units import sim_to_lerobot

FORMAT_VERSION: int = 1
PIXEL_STRIDE: int = 4
"""The backbone reads every 4th pixel of each 224 x 224 frame (56 x 56)."""
WEIGHTS_FILE: str = "model.safetensors"
EMBODIMENT_IDS: dict[str, int] = {"gr1": 24, "oxe_droid": 17, "agibot_genie1": 26, "new_embodiment": 31}


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    """Keys and sizes of a tiny checkpoint (config.json)."""

    video_keys: tuple[str, ...]
    state_keys: tuple[tuple[str, int], ...]
    action_keys: tuple[tuple[str, int], ...]
    language_key: str = LANGUAGE_KEY
    action_horizon: int = 16
    max_state_dim: int = 64
    max_action_dim: int = 32
    num_embodiments: int = 32
    hidden: int = 64
    heads: int = 4
    dit_layers: int = 2
    text_vocab: int = 512
    text_len: int = 12
    num_inference_timesteps: int = 4
    noise_seed: int = 0

    def __post_init__(self) -> None:
        state, action = sum(n for _, n in self.state_keys), sum(n for _, n in self.action_keys)
        if state > self.max_state_dim or action > self.max_action_dim:
            raise ValueError(f"state/action sizes {state}/{action} exceed "
                             f"{self.max_state_dim}/{self.max_action_dim}")

    def to_json(self) -> dict[str, Any]:
        return {"model_type": TINY_MODEL_TYPE, "format_version": FORMAT_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str) -> "TinyConfig":
        if d.get("model_type") != TINY_MODEL_TYPE or d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{where} is not a {TINY_MODEL_TYPE} v{FORMAT_VERSION} config: model_type "
                             f"{d.get('model_type')!r}, format_version {d.get('format_version')!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in fields}
        for k in ("video_keys", "state_keys", "action_keys"):
            d[k] = tuple(tuple(x) if isinstance(x, list) else x for x in d[k])
        return cls(**d)


def hash_tokens(texts: Sequence[str], vocab: int, length: int) -> torch.Tensor:
    """Word ids (B, length) int64: 1 + crc32(word) mod (vocab - 1), 0 = padding."""
    ids = torch.zeros(len(texts), length, dtype=torch.int64)
    for i, text in enumerate(texts):
        words = re.findall(r"[a-z0-9]+", str(text).lower())[:length]
        hashed = [1 + zlib.crc32(w.encode()) % (vocab - 1) for w in words]
        ids[i, :len(words)] = torch.tensor(hashed, dtype=torch.int64)
    return ids


def _timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of t * 1000 (GR00T discretises t into 1000 buckets)."""
    freqs = torch.exp(-math.log(10000.0) * torch.arange(dim // 2, device=t.device) / (dim // 2))
    angles = 1000.0 * t[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class AdaNorm(nn.Module):
    """LayerNorm whose scale and shift come from the timestep embedding."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.mod = nn.Linear(dim, 2 * dim)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.mod(temb)[:, None].chunk(2, dim=-1)
        return self.norm(x) * (1 + scale) + shift


class DiTBlock(nn.Module):
    """Ada-norm -> cross- or self-attention -> ada-norm -> MLP, both residual."""

    def __init__(self, dim: int, heads: int, cross: bool) -> None:
        super().__init__()
        self.cross = cross
        self.norm1, self.norm2 = AdaNorm(dim), AdaNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(
        self, x: torch.Tensor, temb: torch.Tensor, ctx: torch.Tensor, ctx_pad: torch.Tensor
    ) -> torch.Tensor:
        h = self.norm1(x, temb)
        if self.cross:
            h = self.attn(h, ctx, ctx, key_padding_mask=ctx_pad, need_weights=False)[0]
        else:
            h = self.attn(h, h, h, need_weights=False)[0]
        x = x + h
        return x + self.mlp(self.norm2(x, temb))


class TinyGr00tModel(nn.Module):
    """Backbone + flow-matching action head (see the module docstring)."""

    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.conv1 = nn.Conv2d(3, 16, kernel_size=4, stride=4)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=2, stride=2)
        self.patch = nn.Linear(32, h)
        self.view_emb = nn.Parameter(0.02 * torch.randn(len(cfg.video_keys), h))
        self.text_emb = nn.Embedding(cfg.text_vocab, h)
        self.vl_layer = nn.TransformerEncoderLayer(
            h, cfg.heads, 2 * h, dropout=0.0, batch_first=True, norm_first=True
        )
        self.state_enc = nn.Linear(cfg.max_state_dim, h)
        self.action_enc = nn.Linear(cfg.max_action_dim, h)
        self.embodiment = nn.Embedding(cfg.num_embodiments, h)
        self.pos = nn.Parameter(0.02 * torch.randn(cfg.action_horizon, h))
        self.time_mlp = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h))
        self.blocks = nn.ModuleList(DiTBlock(h, cfg.heads, cross=i % 2 == 0) for i in range(cfg.dit_layers))
        self.out_norm = nn.LayerNorm(h)
        self.decoder = nn.Linear(h, cfg.max_action_dim)
        self.register_buffer("noise", torch.zeros(1, cfg.action_horizon, cfg.max_action_dim))

    def backbone(self, videos: torch.Tensor, tokens: torch.Tensor,
                 stride: int = PIXEL_STRIDE) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, V, H, W, 3), ids (B, L) -> tokens (B, V*16 + L, hidden), padding mask (B, S).

        The encoder sees every 4th pixel (56 x 56 of a 224 x 224 image), which keeps it cheap;
        stride 1 takes frames already thinned so (as fine-tuning keeps them).
        """
        b, v = videos.shape[:2]
        x = videos[:, :, ::stride, ::stride].flatten(0, 1).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        x = nn.functional.adaptive_avg_pool2d(torch.relu(self.conv2(torch.relu(self.conv1(x)))), 4)
        img = self.patch(x.flatten(2).transpose(1, 2)).view(b, v, 16, -1) + self.view_emb[None, :, None]
        seq = torch.cat([img.flatten(1, 2), self.text_emb(tokens)], dim=1)
        pad = torch.cat([torch.zeros(b, v * 16, dtype=torch.bool, device=seq.device), tokens == 0], dim=1)
        return self.vl_layer(seq, src_key_padding_mask=pad), pad

    def denoise(self, ctx: torch.Tensor, pad: torch.Tensor, state: torch.Tensor, embodiment_id: torch.Tensor,
                noise: torch.Tensor, steps: int) -> torch.Tensor:
        """Euler flow matching from noise (B, T, A) at t=0 to the action at t=1; returns (B, T, A)."""
        b = state.shape[0]
        x = noise
        for k in range(steps):
            t = torch.full((b,), k / steps, device=x.device)
            x1_hat = self.predict_clean(ctx, pad, state, embodiment_id, x, t)
            x = x + (1.0 / steps) * (x1_hat - x) / (1.0 - k / steps)
        return x

    def predict_clean(self, ctx: torch.Tensor, pad: torch.Tensor, state: torch.Tensor, embodiment_id: torch.Tensor,
                      x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The head's guess (B, T, A) in [-1, 1] of the clean action from x_t = (1 - t) noise + t action
        (B, T, A) at times t (B,), given the backbone's tokens, the padded state (B, 1, S) and the
        embodiment ids (B,): what each Euler step follows and what fine-tuning regresses."""
        emb = self.embodiment(embodiment_id)[:, None]
        temb = self.time_mlp(_timestep_embedding(t, self.cfg.hidden))
        h = torch.cat([self.state_enc(state) + emb, self.action_enc(x) + self.pos[None] + emb], dim=1)
        for block in self.blocks:
            h = block(h, temb, ctx, pad)
        return torch.tanh(self.decoder(self.out_norm(h[:, 1:])))


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
        f32 = dict(device=self.device, dtype=torch.float32)
        self._stats = {
            (m, key): tuple(torch.as_tensor(a, **f32) for a in min_max(embodiment_meta, [(key, n)], m))
            for m, keys in (("state", self.cfg.state_keys), ("action", self.cfg.action_keys))
            for key, n in keys
        }

    @classmethod
    def from_pretrained(cls, model_dir: str, embodiment_tag: str = "new_embodiment",
                        denoising_steps: int | None = None, device: str = "cpu") -> "TinyGr00tPolicy":
        """Loads config.json, model.safetensors and experiment_cfg/metadata.json (no pickle)."""
        cfg_path, w_path = os.path.join(model_dir, "config.json"), os.path.join(model_dir, WEIGHTS_FILE)
        for path in (cfg_path, w_path):
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path!r} is missing; write one: `python -m bridge.tiny --out DIR`")
        with open(cfg_path) as f:
            cfg = TinyConfig.from_json(json.load(f), cfg_path)
        model = TinyGr00tModel(cfg)
        model.load_state_dict(load_file(w_path), strict=True)
        where = os.path.join(model_dir, METADATA_FILE)
        emb = embodiment_metadata(read_metadata(model_dir), embodiment_tag, where)
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
        for key, _ in cfg.state_keys:
            s = observations[key]
            s = torch.as_tensor(s if torch.is_tensor(s) else np.asarray(s, np.float32), dtype=torch.float32,
                                device=self.device)
            s = s[None] if unbatched else s
            batch[key] = normalise_min_max(s, *self._stats[("state", key)])
        text = observations[cfg.language_key]
        batch[cfg.language_key] = [text] if isinstance(text, str) else list(text)
        out = self.get_action_normalized(batch)
        result = {k: unnormalise_min_max(v, *self._stats[("action", k)]).cpu().numpy()
                  for k, v in out.items()}
        return {k: v[0] for k, v in result.items()} if unbatched else result


# ---------------------------------------------------------------------------------------------
# Writing a checkpoint


def _stats(lo: np.ndarray, hi: np.ndarray) -> dict[str, list[float]]:
    span = hi - lo
    return {"min": lo.tolist(), "max": hi.tolist(), "mean": ((lo + hi) / 2).tolist(),
            "std": (span / 4).tolist(), "q01": (lo + 0.01 * span).tolist(), "q99": (hi - 0.01 * span).tolist()}


def synthetic_metadata(
    cfg: TinyConfig, embodiment_tag: str, joint_ranges: Sequence[Sequence[float]]
) -> dict[str, Any]:
    """Isaac-GR00T-style metadata.json content with LeRobot-unit statistics for the SO-101 joints.

    Arm joints: 80 % of the sim range, in degrees; gripper: 0..60 (of 0..100). State and action
    share the statistics (both are absolute joint positions).
    """
    ranges = np.asarray(joint_ranges, np.float64)
    lo, hi = sim_to_lerobot(ranges[:, 0], ranges), sim_to_lerobot(ranges[:, 1], ranges)
    lo, hi = np.append(0.8 * lo[:-1], 0.0), np.append(0.8 * hi[:-1], 60.0)
    if sum(n for _, n in cfg.state_keys) != len(lo):
        raise ValueError(f"the state keys {cfg.state_keys} must cover the {len(lo)} joints")

    def per_key(keys: Sequence[tuple[str, int]]) -> tuple[dict[str, Any], dict[str, Any]]:
        stats, mods, off = {}, {}, 0
        for key, n in keys:
            sub = key.split(".", 1)[1]
            stats[sub] = _stats(lo[off:off + n], hi[off:off + n])
            mods[sub] = {"absolute": True, "rotation_type": None, "shape": [n], "continuous": True}
            off += n
        return stats, mods

    (s_stats, s_mods), (a_stats, a_mods) = per_key(cfg.state_keys), per_key(cfg.action_keys)
    video = {k.split(".", 1)[1]: {"resolution": [224, 224], "channels": 3, "fps": 30.0}
             for k in cfg.video_keys}
    return {embodiment_tag: {"statistics": {"state": s_stats, "action": a_stats},
                             "modalities": {"video": video, "state": s_mods, "action": a_mods},
                             "embodiment_tag": embodiment_tag}}


def write_checkpoint(out_dir: str, data_config: str = "so100_dualcam",
                     key_map: Mapping[str, str] | str | None = None, seed: int = 0,
                     embodiment_tag: str = "new_embodiment",
                     joint_ranges: Sequence[Sequence[float]] = SO101_JOINT_RANGES) -> str:
    """Writes config.json, model.safetensors and experiment_cfg/metadata.json into out_dir; returns it."""
    layout = resolve_layout(data_config, key_map)
    if embodiment_tag not in EMBODIMENT_IDS:
        raise ValueError(f"unknown embodiment tag {embodiment_tag!r}; known: {sorted(EMBODIMENT_IDS)}")
    cfg = TinyConfig(video_keys=tuple(k for k, _ in layout.video), state_keys=layout.state,
                     action_keys=layout.action, language_key=layout.language_key,
                     action_horizon=layout.action_horizon, noise_seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyGr00tModel(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    model.noise.copy_(torch.randn(model.noise.shape, generator=gen))
    os.makedirs(os.path.join(out_dir, "experiment_cfg"), exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out_dir, WEIGHTS_FILE),
              metadata={"format_version": str(FORMAT_VERSION)})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg.to_json(), f, indent=2)
    with open(os.path.join(out_dir, METADATA_FILE), "w") as f:
        json.dump(synthetic_metadata(cfg, embodiment_tag, joint_ranges), f, indent=2)
    return out_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bridge.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--data-config", default="so100_dualcam", help="a name in bridge.groot.layout.DATA_CONFIGS")
    parser.add_argument("--key-map", default=None, help="fine-tune keys: a name in bridge.groot.layout.KEY_MAPS")
    parser.add_argument("--embodiment-tag", default="new_embodiment")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the denoising noise")
    args = parser.parse_args(argv)
    try:
        out = write_checkpoint(args.out, args.data_config, args.key_map, args.seed, args.embodiment_tag)
    except ValueError as e:
        parser.error(str(e))
    n = sum(p.numel() for p in TinyGr00tPolicy.from_pretrained(out, args.embodiment_tag).model.parameters())
    print(f"wrote {out} ({n / 1e6:.2f}M parameters)")


if __name__ == "__main__":
    main()
