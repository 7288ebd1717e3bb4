"""Writes a trained residual policy as plain tensors plus a JSON description (no pickles, no torch).

`write_export(out_dir, params, normalizer, spec)` writes two files:

- `residual.safetensors`: float32 tensors `mean.hidden_<i>.kernel` [in, out], `mean.hidden_<i>.bias`
  [out], `mean.head.kernel`, `mean.head.bias`, `log_std` [A] (unused by the deterministic action),
  `obs_mean` and `obs_std` [obs_dim].
- `residual.json`: everything needed to run them without this package: the layer order and sizes,
  the activation, the observation layout, how to normalise, alpha, act_scale, the residual formula,
  the joints and the LeRobot unit conversion (see `_meta` for the schema). It also records the
  SHA-256 of the tensor file, so a mismatched or corrupted pair is refused on load. On a GR00T base
  its "groot" entry names the checkpoint and the settings to query it with (mjx_gr00t.export.groot).

The deterministic residual is `clip(mlp((obs - obs_mean) / obs_std, clipped to +-obs_clip), -1, 1)`,
exactly what `GaussianPolicy` + `networks.normalize_obs` give. `mjx_gr00t.export.read.export_policy_fn`
rebuilds it in JAX from the exported tensors; `bridge/residual_torch.py` rebuilds it in torch.
Both files are written with `mjx_gr00t.export.format.write_bytes_atomic` (tensors first).
"""

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brax.training.acme import running_statistics
from safetensors.numpy import save

from mjx_gr00t.export.format import FORMAT_VERSION, META_FILE, TENSORS_FILE, write_bytes_atomic, write_json_atomic
from mjx_gr00t.export.spec import ACTIVATION_FORMULAS, ExportSpec
from mjx_gr00t.export.units import lerobot_scale_offset

RESIDUAL_FORMULA: str = (
    "total = clip(base + alpha * clip(residual, -1, 1), -1, 1); "
    "joint_target_delta_rad = act_scale * total"
)


def _flatten_params(policy_params: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], list[str]]:
    """GaussianPolicy params -> (flat float32 tensors, MLP layer names in order)."""
    params = policy_params.get("params", policy_params)
    if "mean" not in params or "log_std" not in params:
        raise ValueError(f"expected GaussianPolicy params with 'mean' and 'log_std', got keys {list(params)}")
    mean = params["mean"]
    n_hidden = sum(1 for k in mean if k.startswith("hidden_"))
    layers = [f"hidden_{i}" for i in range(n_hidden)] + ["head"]
    if set(mean) != set(layers):
        raise ValueError(f"unexpected MLP layers {sorted(mean)}; expected {layers}")
    tensors: dict[str, np.ndarray] = {}
    for layer in layers:
        for leaf in ("kernel", "bias"):
            tensors[f"mean.{layer}.{leaf}"] = np.ascontiguousarray(np.asarray(mean[layer][leaf], np.float32))
    tensors["log_std"] = np.asarray(params["log_std"], np.float32)
    return tensors, [f"mean.{layer}" for layer in layers]


def sac_actor_as_mean_params(actor_params: Mapping[str, Any], action_size: int) -> dict[str, Any]:
    """A SAC tanh-Gaussian actor's params ({'params': {'net': MLP with a [mean | log_std] head}})
    in the layout `write_export` takes: the head cut to its first `action_size` (mean) outputs and
    a zero log_std. Export it with `ExportSpec(squash='tanh')`."""
    net = dict(actor_params.get("params", actor_params)["net"])
    head = net.pop("head")
    mean = {**net, "head": {"kernel": np.asarray(head["kernel"])[:, :action_size],
                            "bias": np.asarray(head["bias"])[:action_size]}}
    return {"params": {"mean": mean, "log_std": np.zeros(action_size, np.float32)}}


def deterministic_actor_as_mean_params(actor_params: Mapping[str, Any], action_size: int) -> dict[str, Any]:
    """A deterministic tanh actor's params ({'params': {'net': MLP with an [A] head}}, the fast TD3
    learner's) in the layout `write_export` takes, with a zero log_std. Export it with
    `ExportSpec(squash='tanh')`. ValueError when the head is not `action_size` wide."""
    net = {k: v for k, v in actor_params.get("params", actor_params)["net"].items()}
    width = np.asarray(net["head"]["bias"]).shape[-1]
    if width != action_size:
        raise ValueError(f"the actor's head has {width} outputs, the action {action_size}")
    return {"params": {"mean": net, "log_std": np.zeros(action_size, np.float32)}}


def _layer_meta(tensors: Mapping[str, np.ndarray], layers: Sequence[str], activation: str) -> list[dict[str, Any]]:
    """One record per linear layer: tensor names, sizes and the activation that follows it."""
    out = []
    for i, name in enumerate(layers):
        fan_in, fan_out = tensors[f"{name}.kernel"].shape
        out.append({
            "name": name, "kernel": f"{name}.kernel", "bias": f"{name}.bias",
            "in": int(fan_in), "out": int(fan_out),
            "activation": activation if i < len(layers) - 1 else None,
        })
    return out


def _units_meta(spec: ExportSpec) -> dict[str, Any]:
    """residual.json's "units" entry: the sim <-> LeRobot conversion of every joint."""
    gripper = spec.joint_names.index("gripper") if "gripper" in spec.joint_names else None
    scale, offset = lerobot_scale_offset(spec.joint_ranges, gripper)
    return {
        "description": spec.units,
        "sim": "rad",
        "position_formula": "lerobot = scale * (q_rad - offset)",
        "delta_formula": "delta_lerobot = scale * delta_rad",
        "arm": "degrees: scale = 180 / pi, offset = 0",
        "gripper": "0..100: scale = 100 / (hi - lo), offset = lo (lo, hi: sim joint range in rad)",
        "joints": [
            {
                "name": name, "range_rad": [float(lo), float(hi)],
                "lerobot_unit": "percent_of_range" if i == gripper else "deg",
                "scale": float(scale[i]), "offset": float(offset[i]),
            }
            for i, (name, (lo, hi)) in enumerate(zip(spec.joint_names, spec.joint_ranges, strict=True))
        ],
    }


def _meta(spec: ExportSpec, tensors: Mapping[str, np.ndarray], layers: Sequence[str], sha256: str) -> dict[str, Any]:
    """The residual.json document."""
    starts = np.cumsum([0] + [int(n) for _, n in spec.obs_layout])
    clip = float(spec.obs_clip) if (spec.normalize_obs and spec.obs_clip is not None) else None
    mode = {"obs_mode": spec.obs_mode} if spec.obs_mode else {}
    return {
        "format": "mjx_gr00t.residual",
        "format_version": FORMAT_VERSION,
        "tensors_file": TENSORS_FILE,
        "tensors_sha256": sha256,
        "scene": spec.scene, "base": spec.base, "algo": spec.algo, **mode,
        **({"base_config": dict(spec.base_config)} if spec.base_config else {}),
        "obs_dim": spec.obs_dim,
        "action_dim": len(spec.joint_names),
        "observation_layout": [
            {"name": name, "start": int(s), "size": int(n)}
            for (name, n), s in zip(spec.obs_layout, starts, strict=False)
        ],
        "normalizer": {
            "enabled": bool(spec.normalize_obs),
            "mean": "obs_mean", "std": "obs_std",
            "obs_clip": clip,
            "formula": "x = (obs - obs_mean) / obs_std; x = clip(x, -obs_clip, obs_clip) if obs_clip"
            if spec.normalize_obs else "x = obs (obs_mean = 0, obs_std = 1 are stored)",
        },
        "network": {
            "type": "mlp",
            "activation": spec.activation,
            "activation_formula": ACTIVATION_FORMULAS[spec.activation],
            "kernel_layout": "[in, out]; y = x @ kernel + bias (torch.nn.Linear.weight = kernel.T)",
            "layers": _layer_meta(tensors, layers, spec.activation),
            "output": "residual = clip(head_output, -1, 1)" if spec.squash == "clip"
            else "residual = tanh(head_output)",
            "output_squash": spec.squash,
            "output_clip": [-1.0, 1.0],
            "log_std": "log_std",
        },
        "alpha": float(spec.alpha),
        "act_scale": float(spec.act_scale),
        "groot": None if spec.groot is None else spec.groot.to_json(),
        "residual_formula": RESIDUAL_FORMULA,
        "joint_names": list(spec.joint_names),
        "units": _units_meta(spec),
    }


def _normalizer_tensors(
    normalizer: running_statistics.RunningStatisticsState | None, normalize_obs: bool, obs_dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """(obs_mean, obs_std) float32 [obs_dim] to store: the statistics, or 0 and 1 without normalisation."""
    if normalizer is None:
        if normalize_obs:
            raise ValueError("spec.normalize_obs is True but no normalizer was given")
        mean, std = np.zeros(obs_dim, np.float32), np.ones(obs_dim, np.float32)
    else:
        mean, std = np.asarray(normalizer.mean, np.float32), np.asarray(normalizer.std, np.float32)
        if not normalize_obs:
            mean, std = np.zeros_like(mean), np.ones_like(std)
    if mean.shape != (obs_dim,) or std.shape != (obs_dim,):
        raise ValueError(f"normalizer mean/std must be ({obs_dim},), got {mean.shape}, {std.shape}")
    return mean, std


def write_export(
    out_dir: str | os.PathLike[str],
    policy_params: Mapping[str, Any],
    normalizer: running_statistics.RunningStatisticsState | None,
    spec: ExportSpec,
) -> str:
    """Writes residual.safetensors and residual.json into `out_dir` (created); returns out_dir.

    policy_params: GaussianPolicy variables, `{"params": {"mean": ..., "log_std": (A,)}}` (the inner
    dict alone is accepted too). normalizer: the observation statistics, mean/std (obs_dim,); may be
    None only when `spec.normalize_obs` is False (then mean 0 and std 1 are stored).
    """
    tensors, layers = _flatten_params(policy_params)
    hidden = tuple(int(tensors[f"{n}.kernel"].shape[1]) for n in layers[:-1])
    if hidden != tuple(int(h) for h in spec.hidden):
        raise ValueError(f"spec.hidden={spec.hidden} but the params have hidden widths {hidden}")
    obs_dim, act_dim = tensors[f"{layers[0]}.kernel"].shape[0], tensors["mean.head.bias"].shape[0]
    if obs_dim != spec.obs_dim:
        raise ValueError(f"obs_layout sums to {spec.obs_dim} but the policy takes obs_dim={obs_dim}")
    if act_dim != len(spec.joint_names):
        raise ValueError(f"the policy outputs {act_dim} actions but spec names {len(spec.joint_names)} joints")
    tensors["obs_mean"], tensors["obs_std"] = _normalizer_tensors(normalizer, spec.normalize_obs, obs_dim)

    os.makedirs(out_dir, exist_ok=True)
    data = save(tensors, metadata={"format_version": str(FORMAT_VERSION)})
    write_bytes_atomic(os.path.join(out_dir, TENSORS_FILE), data)
    write_json_atomic(os.path.join(out_dir, META_FILE), _meta(spec, tensors, layers, hashlib.sha256(data).hexdigest()))
    return str(out_dir)
