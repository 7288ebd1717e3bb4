"""The tiny GR00T-contract model (bridge.tiny's), its config and text hashing; torch only.

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

import dataclasses
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from bridge.groot.layout import LANGUAGE_KEY, TINY_MODEL_TYPE

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
