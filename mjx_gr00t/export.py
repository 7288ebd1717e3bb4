"""Export a trained residual policy as plain tensors plus a JSON description (no pickles, no torch).

`write_export(out_dir, params, normalizer, spec)` writes two files:

- `residual.safetensors`: float32 tensors `mean.hidden_<i>.kernel` [in, out], `mean.hidden_<i>.bias`
  [out], `mean.head.kernel`, `mean.head.bias`, `log_std` [A] (unused by the deterministic action),
  `obs_mean` and `obs_std` [obs_dim].
- `residual.json`: everything needed to run them without this package: the layer order and sizes,
  the activation, the observation layout, how to normalise, alpha, act_scale, the residual formula,
  the joints and the LeRobot unit conversion (see `_meta` for the schema). It also records the
  SHA-256 of the tensor file, so a mismatched or corrupted pair is refused on load. On a GR00T base
  its "groot" entry names the checkpoint and the settings to query it with (mjx_gr00t.export_groot).

The deterministic residual is `clip(mlp((obs - obs_mean) / obs_std, clipped to +-obs_clip), -1, 1)`,
exactly what `GaussianPolicy` + `ppo.normalize_obs` give. `export_policy_fn` rebuilds it in JAX from
the exported tensors; `bridge/residual_torch.py` rebuilds it in torch.

LeRobot units (degrees for the arm joints, 0..100 of the sim joint range for the gripper) and their
conversions live in `mjx_gr00t.lerobot_units`, re-exported here.
"""

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from brax.training.acme import running_statistics
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from mjx_gr00t.export_format import FORMAT_VERSION, META_FILE, TENSORS_FILE, read_meta  # noqa: F401
from mjx_gr00t.lerobot_units import (  # noqa: F401  (re-exported: part of the export API)
    lerobot_delta_to_sim,
    lerobot_scale_offset,
    lerobot_to_sim,
    sim_delta_to_lerobot,
    sim_to_lerobot,
)
from mjx_gr00t.export_groot import GrootExport
from mjx_gr00t.rl.networks import ACTIVATIONS, get_activation

ALGOS: tuple[str, ...] = ("ppo", "sac")
RESIDUAL_FORMULA: str = (
    "total = clip(base + alpha * clip(residual, -1, 1), -1, 1); "
    "joint_target_delta_rad = act_scale * total"
)
ACTIVATION_FORMULAS: dict[str, str] = {
    "swish": "x * sigmoid(x)  (torch.nn.SiLU)",
    "tanh": "tanh(x)",
    "relu": "max(x, 0)",
    "elu": "x if x > 0 else exp(x) - 1  (torch.nn.ELU(alpha=1))",
}
PAPER_SQUARE_OBS_LAYOUT: tuple[tuple[str, int], ...] = (
    ("joint_pos", 6), ("joint_vel", 6), ("tool_pos", 3), ("tool_quat", 4), ("paper_pos", 3),
    ("paper_quat", 4), ("paper_corners_xy", 8), ("base_action", 6),
)
"""The paper task's observation (see envs/paper_square.py) followed by the 6-D base action."""
DEFAULT_UNITS: str = (
    "sim: rad. LeRobot: degrees for the arm joints, 0..100 for the gripper "
    "(0 = lower sim limit, closed; 100 = upper sim limit, fully open)."
)



@dataclasses.dataclass(frozen=True)
class ExportSpec:
    """What the exported files must say about a policy besides its tensors."""

    scene: str
    """Registered scene name, e.g. 'paper_square'."""
    base: str
    """Name of the base policy the residual was trained on."""
    algo: str
    """'ppo' or 'sac'."""
    hidden: tuple[int, ...]
    """Hidden widths of the mean MLP; must match the params."""
    activation: str
    """Hidden activation, one of networks.ACTIVATIONS."""
    normalize_obs: bool
    """Whether the policy saw normalised observations."""
    obs_clip: float | None
    """Clip of the normalised observation (None: no clip); ignored without normalize_obs."""
    obs_layout: tuple[tuple[str, int], ...]
    """(name, size) blocks of the observation in order; sizes sum to obs_dim."""
    alpha: float
    """Residual scale used at deployment (the schedule's final value)."""
    act_scale: float
    """Radians per unit of normalised action."""
    joint_names: tuple[str, ...]
    """One per action dimension; the joint named 'gripper' uses the 0..100 LeRobot unit."""
    joint_ranges: tuple[tuple[float, float], ...]
    """(lo, hi) sim joint range in rad, one per joint."""
    units: str = DEFAULT_UNITS
    """Free-text description of the unit conventions."""
    squash: str = "clip"
    """How the head's output becomes the residual: 'clip' to [-1, 1] (PPO's Gaussian mean) or
    'tanh' (SAC's squashed Gaussian)."""
    groot: GrootExport | None = None
    """With base 'groot': the GR00T checkpoint and settings the residual was trained on top of
    (mjx_gr00t.export_groot), written as residual.json's "groot" entry (null otherwise)."""

    def __post_init__(self) -> None:
        if self.groot is not None and self.base != "groot":
            raise ValueError(f"a GR00T record belongs to base 'groot' only, this export's base is {self.base!r}")
        if self.squash not in ("clip", "tanh"):
            raise ValueError(f"squash must be 'clip' or 'tanh', got {self.squash!r}")
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {list(ALGOS)}, got {self.algo!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1, got {self.hidden}")
        if self.obs_clip is not None and not self.obs_clip > 0:
            raise ValueError(f"obs_clip must be > 0 or None, got {self.obs_clip}")
        if not self.alpha >= 0 or not self.act_scale > 0:
            raise ValueError(f"need alpha >= 0 and act_scale > 0, got {self.alpha}, {self.act_scale}")
        if not self.obs_layout or any(int(n) < 1 for _, n in self.obs_layout):
            raise ValueError(f"obs_layout must be non-empty (name, size >= 1) pairs, got {self.obs_layout}")
        if len(self.joint_ranges) != len(self.joint_names):
            raise ValueError(
                f"{len(self.joint_names)} joint names but {len(self.joint_ranges)} joint ranges"
            )
        for name, (lo, hi) in zip(self.joint_names, self.joint_ranges, strict=True):
            if not lo < hi:
                raise ValueError(f"joint {name!r}: range must have lo < hi, got ({lo}, {hi})")

    @property
    def obs_dim(self) -> int:
        return sum(int(n) for _, n in self.obs_layout)


# ---------------------------------------------------------------------------------------------
# Writing


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


def _meta(spec: ExportSpec, tensors: Mapping[str, np.ndarray], layers: Sequence[str], sha256: str) -> dict[str, Any]:
    """The residual.json document."""
    gripper = spec.joint_names.index("gripper") if "gripper" in spec.joint_names else None
    scale, offset = lerobot_scale_offset(spec.joint_ranges, gripper)
    starts = np.cumsum([0] + [int(n) for _, n in spec.obs_layout])
    clip = float(spec.obs_clip) if (spec.normalize_obs and spec.obs_clip is not None) else None
    return {
        "format": "mjx_gr00t.residual",
        "format_version": FORMAT_VERSION,
        "tensors_file": TENSORS_FILE,
        "tensors_sha256": sha256,
        "scene": spec.scene, "base": spec.base, "algo": spec.algo,
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
        "units": {
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
        },
    }


def _write_atomic(path: str, data: bytes) -> None:
    """Writes `data` to a temporary file next to `path`, then renames it over `path`."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=os.path.basename(path) + ".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


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
    if normalizer is None:
        if spec.normalize_obs:
            raise ValueError("spec.normalize_obs is True but no normalizer was given")
        mean, std = np.zeros(obs_dim, np.float32), np.ones(obs_dim, np.float32)
    else:
        mean, std = np.asarray(normalizer.mean, np.float32), np.asarray(normalizer.std, np.float32)
        if not spec.normalize_obs:
            mean, std = np.zeros_like(mean), np.ones_like(std)
    if mean.shape != (obs_dim,) or std.shape != (obs_dim,):
        raise ValueError(f"normalizer mean/std must be ({obs_dim},), got {mean.shape}, {std.shape}")
    tensors["obs_mean"], tensors["obs_std"] = mean, std

    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=TENSORS_FILE + ".tmp-")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"format_version": str(FORMAT_VERSION)})
        with open(tmp, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        os.replace(tmp, os.path.join(out_dir, TENSORS_FILE))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    meta = _meta(spec, tensors, layers, sha)
    _write_atomic(os.path.join(out_dir, META_FILE), (json.dumps(meta, indent=2) + "\n").encode())
    return str(out_dir)


# ---------------------------------------------------------------------------------------------
# Reading


def load_export(export_dir: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, meta) from a directory written by `write_export`.

    Raises FileNotFoundError naming a missing directory or file, and ValueError for an unknown format
    version, a tensor file that does not match the json's checksum or cannot be read, or missing or
    misshapen tensors.
    """
    meta = read_meta(export_dir)
    meta_path = os.path.join(export_dir, META_FILE)
    tensors_path = os.path.join(export_dir, TENSORS_FILE)
    with open(tensors_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    if sha != meta.get("tensors_sha256"):
        raise ValueError(
            f"{tensors_path!r} does not match the checksum in {meta_path!r} (corrupted or from another export)"
        )
    try:
        tensors = load_file(tensors_path)
    except SafetensorError as e:
        raise ValueError(f"cannot read {tensors_path!r}: {e}") from e
    expected: dict[str, tuple[int, ...]] = {
        "obs_mean": (meta["obs_dim"],), "obs_std": (meta["obs_dim"],),
    }
    for layer in meta["network"]["layers"]:
        expected[layer["kernel"]] = (layer["in"], layer["out"])
        expected[layer["bias"]] = (layer["out"],)
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ValueError(f"{tensors_path!r} lacks tensors {missing}")
    wrong = {k: (tensors[k].shape, s) for k, s in expected.items() if tensors[k].shape != s}
    if wrong:
        raise ValueError(f"{tensors_path!r} has tensors of the wrong shape (got, expected): {wrong}")
    return tensors, meta


def export_policy_fn(tensors: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Callable[[jax.Array], jax.Array]:
    """The deterministic residual from exported tensors: obs [..., obs_dim] -> residual [..., A] in [-1, 1].

    Equals `clip(GaussianPolicy.apply(params, ppo.normalize_obs(config, normalizer, obs))[0], -1, 1)`.
    """
    net, norm = meta["network"], meta["normalizer"]
    activation = get_activation(net["activation"])
    layers = [(jnp.asarray(tensors[lay["kernel"]]), jnp.asarray(tensors[lay["bias"]])) for lay in net["layers"]]
    mean, std = jnp.asarray(tensors["obs_mean"]), jnp.asarray(tensors["obs_std"])
    enabled, obs_clip = bool(norm["enabled"]), norm["obs_clip"]
    tanh = net.get("output_squash", "clip") == "tanh"

    def policy(obs: jax.Array) -> jax.Array:
        x = jnp.asarray(obs, jnp.float32)
        if enabled:
            x = (x - mean) / std
            if obs_clip is not None:
                x = jnp.clip(x, -obs_clip, obs_clip)
        for i, (kernel, bias) in enumerate(layers):
            x = jnp.dot(x, kernel) + bias
            if i < len(layers) - 1:
                x = activation(x)
        if tanh:
            x = jnp.tanh(x)
        return jnp.clip(x, -1.0, 1.0)

    return policy
