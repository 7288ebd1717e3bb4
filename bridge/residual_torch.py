"""The exported residual policy in torch (no JAX, no pickles).

Reads what `mjx_gr00t.export.write.write_export` wrote: `residual.json` (layout, normaliser, alpha,
act_scale, units) and `residual.safetensors` (float32 tensors, kernels stored [in, out]).

    policy = ResidualPolicy.from_export("runs/x/export")
    r      = policy(obs)                        # obs [..., obs_dim] -> residual [..., A] in [-1, 1]
    total  = policy.total_action(obs, base)     # clip(base + alpha * r, -1, 1), [..., A]
    delta  = policy.to_lerobot_delta(total)     # joint-target delta: degrees (arm), 0..100 (gripper)

Everything runs in float32; `.to(device)` moves the normaliser and unit buffers with the weights.
"""

import hashlib
import os
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from mjx_gr00t.export.format import META_FILE, TENSORS_FILE, read_meta  # JAX-free

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "swish": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU,
}


def _read_meta(export_dir: str) -> dict[str, Any]:
    """residual.json, after checking the directory, both files and the format version."""
    meta = read_meta(export_dir)
    if meta["network"]["activation"] not in ACTIVATIONS:
        raise ValueError(f"unknown activation {meta['network']['activation']!r}; known: {sorted(ACTIVATIONS)}")
    return meta


class ResidualPolicy(nn.Module):
    """Deterministic residual: normalise (and clip) obs, run the MLP, clip to [-1, 1].

    Buffers: `obs_mean`, `obs_std` (obs_dim,), `lerobot_scale` (A,) = act_scale * per-joint LeRobot
    scale. Attributes: `alpha`, `act_scale`, `obs_clip` (None: no clip), `joint_names`, `meta`.
    """

    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    lerobot_scale: torch.Tensor

    def __init__(self, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.meta = meta
        net, norm = meta["network"], meta["normalizer"]
        modules: list[nn.Module] = []
        for i, layer in enumerate(net["layers"]):
            kernel, bias = tensors[layer["kernel"]], tensors[layer["bias"]]
            if tuple(kernel.shape) != (layer["in"], layer["out"]) or tuple(bias.shape) != (layer["out"],):
                raise ValueError(
                    f"layer {layer['name']}: kernel {tuple(kernel.shape)} / bias {tuple(bias.shape)} do not "
                    f"match ({layer['in']}, {layer['out']}) from the json"
                )
            linear = nn.Linear(layer["in"], layer["out"])
            with torch.no_grad():
                linear.weight.copy_(kernel.to(torch.float32).T)
                linear.bias.copy_(bias.to(torch.float32))
            modules.append(linear)
            if i < len(net["layers"]) - 1:
                modules.append(ACTIVATIONS[net["activation"]]())
        self.mlp = nn.Sequential(*modules)
        self.normalize = bool(norm["enabled"])
        self.obs_clip: float | None = None if norm["obs_clip"] is None else float(norm["obs_clip"])
        self.tanh_output = meta["network"].get("output_squash", "clip") == "tanh"
        self.alpha = float(meta["alpha"])
        self.act_scale = float(meta["act_scale"])
        self.joint_names: list[str] = list(meta["joint_names"])
        self.register_buffer("obs_mean", tensors["obs_mean"].to(torch.float32).clone())
        self.register_buffer("obs_std", tensors["obs_std"].to(torch.float32).clone())
        scale = torch.tensor([j["scale"] for j in meta["units"]["joints"]], dtype=torch.float32)
        self.register_buffer("lerobot_scale", self.act_scale * scale)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_export(cls, export_dir: str | os.PathLike[str]) -> "ResidualPolicy":
        """Loads residual.json + residual.safetensors from `export_dir` (on the CPU).

        Raises FileNotFoundError for a missing directory or file, ValueError for an unknown format
        version, a checksum mismatch, or missing tensors.
        """
        export_dir = os.fspath(export_dir)
        meta = _read_meta(export_dir)
        tensors_path = os.path.join(export_dir, TENSORS_FILE)
        with open(tensors_path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != meta.get("tensors_sha256"):
                raise ValueError(f"{tensors_path!r} does not match the checksum in {META_FILE}")
        tensors = load_file(tensors_path)
        needed = {"obs_mean", "obs_std"}
        for layer in meta["network"]["layers"]:
            needed |= {layer["kernel"], layer["bias"]}
        missing = sorted(needed - set(tensors))
        if missing:
            raise ValueError(f"{tensors_path!r} lacks tensors {missing}")
        return cls(meta, tensors)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """obs [..., obs_dim] -> residual [..., A], float32 in [-1, 1]."""
        x = obs.to(torch.float32)
        if self.normalize:
            x = (x - self.obs_mean) / self.obs_std
            if self.obs_clip is not None:
                x = torch.clamp(x, -self.obs_clip, self.obs_clip)
        y = self.mlp(x)
        if self.tanh_output:
            y = torch.tanh(y)
        return torch.clamp(y, -1.0, 1.0)

    def total_action(self, obs: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """obs [..., obs_dim], base [..., A] normalised base action -> clip(base + alpha * r, -1, 1) [..., A]."""
        return torch.clamp(base.to(torch.float32) + self.alpha * self.forward(obs), -1.0, 1.0)

    def to_lerobot_delta(self, total: torch.Tensor) -> torch.Tensor:
        """total [..., A] normalised -> joint-target delta [..., A]: degrees (arm), 0..100 units (gripper)."""
        return total.to(torch.float32) * self.lerobot_scale
