"""GR00T N1.5 as a batched base policy: sim observations in, (B, 16, 6) joint-target chunks out.

    base  = GrootBase.from_pretrained("ckpt_dir", data_config="so100_dualcam")
    chunk = base.plan(front, wrist, joint_pos_rad)   # uint8 (B,224,224,3) x 2, (B,6) rad -> (B,16,6) rad

Every checkpoint takes the same path (see `from_pretrained`):
1. `config.json` names the model: "model_type" "gr00t_n1_5" is a real GR00T N1.5, loaded through
   Isaac-GR00T's `Gr00tPolicy` (`IsaacGr00tAdapter`; the optional extra `gr00t`);
   "tiny_gr00t" is `bridge.tiny`. A path that is not a local directory is taken as a Hugging Face id
   of a real GR00T checkpoint.
2. `experiment_cfg/metadata.json` gives the per-embodiment min/max statistics (LeRobot units). The
   data config's keys, after the key map, are checked against it, and the statistics become
   normalisers on the device.
3. `plan`: sim rad -> LeRobot units (degrees for the arm, 0..100 for the gripper) -> min-max
   normalise -> the adapter's `get_action(normalised batch) -> normalised action`, in sub-batches of
   `max_batch` -> concatenate -> un-normalise -> rad. Unit conversion and (un-)normalisation run on
   the device in torch; only the adapter talks to the model. (Isaac-GR00T's own image and text
   preprocessing is numpy, so for a real checkpoint the images visit the CPU inside the adapter.)

Fine-tunes with other keys use a key map from data-config keys to checkpoint keys; data-config keys
mapped to one checkpoint key are concatenated in data-config order (e.g. `state.single_arm` (5) and
`state.gripper` (1) -> `state.arm_0` (6)). `KEY_MAPS["cam01_arm0"]` is the one for
`video.image_cam_0/1`, `state.arm_0`, `action.arm_0` (cam_0 taken as the front camera).
"""

import copy
import dataclasses
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before jax is imported)

import jax
import numpy as np
import torch

from bridge.dlpack import jax_to_torch, torch_to_jax
from mjx_gr00t.export import lerobot_scale_offset

LANGUAGE_KEY: str = "annotation.human.task_description"
TINY_MODEL_TYPE: str = "tiny_gr00t"
GR00T_MODEL_TYPES: tuple[str, ...] = ("gr00t_n1_5",)
KNOWN_MODEL_TYPES: tuple[str, ...] = (TINY_MODEL_TYPE, *GR00T_MODEL_TYPES)
METADATA_FILE: str = os.path.join("experiment_cfg", "metadata.json")
DEFAULT_TASK: str = "Slide the paper into the red square."
SO101_JOINT_RANGES: tuple[tuple[float, float], ...] = (
    (-1.91986, 1.91986), (-1.7453293, 1.7453293), (-1.69, 1.69), (-1.658063, 1.658063),
    (-2.7438473, 2.7438473), (-0.174533, 1.7453292),
)
"""Sim joint ranges in rad, shoulder_pan ... gripper, as in envs_xml/so101.xml (tested)."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """A GR00T data config, reduced to what the bridge needs."""

    name: str
    video: tuple[tuple[str, str], ...]
    """(video key, sim camera 'front' or 'wrist'), in the model's view order."""
    state: tuple[tuple[str, int], ...]
    """(state key, size); concatenated they are the six sim joints, shoulder_pan ... gripper."""
    action: tuple[tuple[str, int], ...]
    """(action key, size), in the same joint order."""
    language_key: str = LANGUAGE_KEY
    action_horizon: int = 16

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in (*self.video, *self.state, *self.action))


_ARM = (("state.single_arm", 5), ("state.gripper", 1))
DATA_CONFIGS: dict[str, DataConfig] = {
    "so100_dualcam": DataConfig("so100_dualcam", (("video.front", "front"), ("video.wrist", "wrist")),
                                _ARM, (("action.single_arm", 5), ("action.gripper", 1))),
    "so100": DataConfig("so100", (("video.webcam", "front"),), _ARM,
                        (("action.single_arm", 5), ("action.gripper", 1))),
}
KEY_MAPS: dict[str, dict[str, str]] = {
    "cam01_arm0": {
        "video.front": "video.image_cam_0", "video.wrist": "video.image_cam_1",
        "state.single_arm": "state.arm_0", "state.gripper": "state.arm_0",
        "action.single_arm": "action.arm_0", "action.gripper": "action.arm_0",
    },
}
"""Named key maps for fine-tunes (data-config key -> checkpoint key)."""


def _merge(keys: tuple[tuple[str, int], ...], key_map: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """Renames keys; adjacent keys renamed to one target are concatenated (sizes add up)."""
    out: list[tuple[str, int]] = []
    for key, size in keys:
        target = key_map.get(key, key)
        if out and out[-1][0] == target:
            out[-1] = (target, out[-1][1] + size)
        elif any(k == target for k, _ in out):
            raise ValueError(f"key map sends non-adjacent keys to {target!r}; only adjacent keys concatenate")
        else:
            out.append((target, size))
    return tuple(out)


def resolve_layout(data_config: str, key_map: Mapping[str, str] | str | None = None) -> DataConfig:
    """The data config named `data_config` with the checkpoint's own keys (after `key_map`).

    key_map: data-config key -> checkpoint key, or a name in KEY_MAPS, or None.
    """
    if data_config not in DATA_CONFIGS:
        raise ValueError(f"unknown data config {data_config!r}; known: {sorted(DATA_CONFIGS)}")
    base = DATA_CONFIGS[data_config]
    if isinstance(key_map, str):
        if key_map not in KEY_MAPS:
            raise ValueError(f"unknown key map {key_map!r}; known: {sorted(KEY_MAPS)}, or pass a dict")
        key_map = KEY_MAPS[key_map]
    key_map = dict(key_map or {})
    unknown = sorted(set(key_map) - set(base.keys))
    if unknown:
        raise ValueError(
            f"key map names keys {unknown} that data config {data_config!r} lacks; it has {list(base.keys)}"
        )
    for src, dst in key_map.items():
        if dst.split(".", 1)[0] != src.split(".", 1)[0] or "." not in dst:
            raise ValueError(f"key map must keep the modality: {src!r} -> {dst!r}")
    video = tuple((key_map.get(k, k), cam) for k, cam in base.video)
    if len({k for k, _ in video}) != len(video):
        raise ValueError(f"key map sends two cameras to one video key: {video}")
    return dataclasses.replace(base, video=video, state=_merge(base.state, key_map),
                               action=_merge(base.action, key_map))


# ---------------------------------------------------------------------------------------------
# Checkpoint metadata (Isaac-GR00T's experiment_cfg/metadata.json)


def read_metadata(model_dir: str) -> dict[str, Any]:
    """The parsed experiment_cfg/metadata.json: embodiment tag -> {statistics, modalities, embodiment_tag}."""
    path = os.path.join(model_dir, METADATA_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path!r} is missing: a GR00T checkpoint directory must hold {METADATA_FILE} with the "
            "per-embodiment normalisation statistics (a tiny one: `python -m bridge.tiny --out DIR`)"
        )
    try:
        with open(path) as f:
            meta = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{path!r} must map embodiment tags to metadata, got {type(meta).__name__}")
    return meta


def embodiment_metadata(meta: Mapping[str, Any], tag: str, where: str = "metadata.json") -> dict[str, Any]:
    """meta[tag], or a ValueError naming the tags that exist."""
    if tag not in meta:
        raise ValueError(f"embodiment tag {tag!r} is not in {where}; it has {sorted(meta)}")
    return meta[tag]


def check_layout(layout: DataConfig, emb: Mapping[str, Any], where: str = "the checkpoint") -> None:
    """Raises ValueError unless every key of `layout` is in the checkpoint's metadata with its size."""
    try:
        mods, stats = emb["modalities"], emb["statistics"]
        have = {m: dict(mods[m]) for m in ("video", "state", "action")}
    except (KeyError, TypeError) as e:
        raise ValueError(f"metadata of {where} lacks 'modalities'/'statistics' entries: {e}") from e
    problems = [f"{k} (not among video keys {sorted(have['video'])})"
                for k, _ in layout.video if k.split(".", 1)[1] not in have["video"]]
    for modality, keys in (("state", layout.state), ("action", layout.action)):
        for key, size in keys:
            sub = key.split(".", 1)[1]
            if sub not in have[modality] or sub not in stats.get(modality, {}):
                problems.append(f"{key} (not among {modality} keys {sorted(have[modality])})")
            elif list(have[modality][sub].get("shape", [])) != [size]:
                problems.append(f"{key} has shape {have[modality][sub].get('shape')} in the metadata, "
                                f"the data config wants [{size}]")
    if problems:
        raise ValueError(
            f"data config {layout.name!r} (after the key map) does not match {where}: " + "; ".join(problems)
            + ". Pick the matching data config or pass a key_map."
        )


def min_max(
    emb: Mapping[str, Any], keys: Sequence[tuple[str, int]], modality: str
) -> tuple[np.ndarray, np.ndarray]:
    """(min, max), each the concatenation over `keys` of the metadata's statistics, float64."""
    stats = emb["statistics"][modality]
    lo = np.concatenate([np.asarray(stats[k.split(".", 1)[1]]["min"], np.float64) for k, _ in keys])
    hi = np.concatenate([np.asarray(stats[k.split(".", 1)[1]]["max"], np.float64) for k, _ in keys])
    return lo, hi


def normalise_min_max(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Isaac-GR00T's min_max mode: 2 (x - min) / (max - min) - 1, and 0 where max == min."""
    span = hi - lo
    return torch.where(span != 0, 2 * (x - lo) / torch.where(span != 0, span, 1) - 1, 0)


def unnormalise_min_max(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalise_min_max`: (x + 1) / 2 (max - min) + min (no clipping, as Isaac-GR00T)."""
    return (x + 1) / 2 * (hi - lo) + lo


# ---------------------------------------------------------------------------------------------
# Adapters and the base


class PolicyAdapter(Protocol):
    """What the base needs from a model: one sub-batch, normalised in, normalised out.

    batch: `video.<k>` uint8 (b, 1, H, W, 3), `state.<k>` float32 (b, 1, D) min-max normalised,
    torch on the base's device, and the language key -> list of b str (checkpoint keys).
    Returns `action.<k>` -> float (b, horizon, D), normalised, on the device.
    seed: None, or the seed of the flow-matching noise for this sub-batch (same seed and inputs,
    same action). Callers pass it only when they have one, so adapters without it still work.
    """

    def get_action(self, batch: dict[str, Any], seed: int | None = None) -> dict[str, torch.Tensor]: ...


@dataclasses.dataclass(frozen=True)
class GrootConfig:
    """How to load and query a GR00T-style checkpoint (everything but its path)."""

    data_config: str = "so100_dualcam"
    """A name in DATA_CONFIGS (also the Isaac-GR00T data config used for a real checkpoint)."""
    embodiment_tag: str = "new_embodiment"
    """Key of experiment_cfg/metadata.json; SO-100/101 fine-tunes use 'new_embodiment'."""
    key_map: tuple[tuple[str, str], ...] | None = None
    """Data-config key -> checkpoint key pairs for fine-tunes with other keys."""
    n_action_steps: int = 8
    """How many of the chunk's steps run before the next query (1..action_horizon)."""
    max_batch: int = 64
    """Largest sub-batch given to the model at once."""
    device: str = "cpu"
    """'cpu', 'cuda' or 'cuda:N'."""
    denoising_steps: int = 4
    """Flow-matching Euler steps."""
    task: str = DEFAULT_TASK
    """Default language instruction."""
    joint_ranges: tuple[tuple[float, float], ...] = SO101_JOINT_RANGES
    """Sim joint ranges (rad); the gripper's (last) sets its 0..100 LeRobot scale."""

    def __post_init__(self) -> None:
        layout = resolve_layout(self.data_config, dict(self.key_map or ()))
        if not 1 <= self.n_action_steps <= layout.action_horizon:
            raise ValueError(f"n_action_steps must be in 1..{layout.action_horizon}, got {self.n_action_steps}")
        if self.max_batch < 1 or self.denoising_steps < 1:
            raise ValueError(
                f"max_batch and denoising_steps must be >= 1, got {self.max_batch}, {self.denoising_steps}"
            )
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if not self.task.strip():
            raise ValueError("task must be a non-empty instruction")
        joints = sum(n for _, n in layout.state)
        if len(self.joint_ranges) != joints or any(not lo < hi for lo, hi in self.joint_ranges):
            raise ValueError(f"joint_ranges must be {joints} pairs (lo < hi), got {self.joint_ranges}")


def _checkpoint_kind(model_path: str) -> tuple[str, bool]:
    """('tiny' or 'gr00t', is_local_dir) from config.json's model_type; non-directories are HF ids."""
    if not os.path.isdir(model_path):
        if os.path.exists(model_path) or not re.fullmatch(r"[\w.-]+/[\w.-]+", model_path):
            raise FileNotFoundError(f"{model_path!r} is neither a checkpoint directory nor a Hugging Face id")
        return "gr00t", False
    path = os.path.join(model_path, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} is missing: not a GR00T or bridge.tiny checkpoint directory")
    with open(path) as f:
        model_type = json.load(f).get("model_type")
    if model_type == TINY_MODEL_TYPE:
        return "tiny", True
    if model_type in GR00T_MODEL_TYPES:
        return "gr00t", True
    raise ValueError(f"{path!r} has model_type {model_type!r}; known: {KNOWN_MODEL_TYPES}")


class TinyAdapter:
    """bridge.tiny's policy behind the PolicyAdapter interface (its normalised internal path)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    @classmethod
    def load(cls, model_dir: str, config: GrootConfig, layout: DataConfig) -> "TinyAdapter":
        from bridge.tiny import TinyGr00tPolicy  # lazy: bridge.tiny imports this module

        return cls(TinyGr00tPolicy.from_pretrained(
            model_dir, embodiment_tag=config.embodiment_tag,
            denoising_steps=config.denoising_steps, device=config.device))

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

    It relies on this surface of Isaac-GR00T (n1.5-release); tests/test_groot_bridge.py drives it
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


class GrootBase:
    """A GR00T-style checkpoint as a batched base policy in sim units (see the module docstring).

    Attributes: `last_timing` (seconds of the last `plan`: `groot/inference_time` per chunk,
    `groot/inference_time_per_env_step` = that / n_action_steps, and the to-torch / model / to-JAX
    parts), `nonfinite_envs` (envs whose chunk had non-finite values and was replaced, in total).
    """

    def __init__(self, adapter: PolicyAdapter, layout: DataConfig, emb_meta: Mapping[str, Any],
                 config: GrootConfig) -> None:
        self.adapter, self.layout, self.config, self.emb_meta = adapter, layout, config, emb_meta
        self.device = torch.device(config.device)
        dev = dict(device=self.device, dtype=torch.float32)
        state_lo, state_hi = min_max(emb_meta, layout.state, "state")
        act_lo, act_hi = min_max(emb_meta, layout.action, "action")
        self._state_lo, self._state_hi = torch.as_tensor(state_lo, **dev), torch.as_tensor(state_hi, **dev)
        self._act_lo, self._act_hi = torch.as_tensor(act_lo, **dev), torch.as_tensor(act_hi, **dev)
        scale, offset = lerobot_scale_offset(config.joint_ranges, gripper_index=-1)
        self._scale, self._offset = torch.as_tensor(scale, **dev), torch.as_tensor(offset, **dev)
        self._last_good: torch.Tensor | None = None
        self.last_timing: dict[str, float] = {}
        self.nonfinite_envs = 0

    @classmethod
    def from_pretrained(cls, model_path: str, data_config: str = "so100_dualcam",
                        embodiment_tag: str = "new_embodiment",
                        key_map: Mapping[str, str] | str | None = None,
                        n_action_steps: int = 8, max_batch: int = 64, device: str = "cpu",
                        denoising_steps: int = 4, task: str = DEFAULT_TASK,
                        joint_ranges: Sequence[Sequence[float]] = SO101_JOINT_RANGES) -> "GrootBase":
        """Loads a real GR00T N1.5 (local dir or HF id; needs `gr00t`) or a bridge.tiny checkpoint."""
        if isinstance(key_map, str):
            resolve_layout(data_config, key_map)  # validates the name
            key_map = KEY_MAPS[key_map]
        config = GrootConfig(data_config, embodiment_tag, tuple(sorted((key_map or {}).items())) or None,
                             n_action_steps, max_batch, device, denoising_steps, task,
                             tuple((float(lo), float(hi)) for lo, hi in joint_ranges))
        return cls.from_config(model_path, config)

    @classmethod
    def from_config(cls, model_path: str, config: GrootConfig) -> "GrootBase":
        """`from_pretrained` with a ready GrootConfig."""
        layout = resolve_layout(config.data_config, dict(config.key_map or ()))
        kind, local = _checkpoint_kind(os.fspath(model_path))
        if local:  # check before the (possibly multi-GB) weights load
            where = os.path.join(model_path, METADATA_FILE)
            emb = embodiment_metadata(read_metadata(model_path), config.embodiment_tag, where)
            check_layout(layout, emb, repr(model_path))
        if kind == "tiny":
            adapter: Any = TinyAdapter.load(model_path, config, layout)
        else:
            adapter = IsaacGr00tAdapter.load(model_path, config.data_config, layout, config.embodiment_tag,
                                             config.denoising_steps, config.device)
        if not local:
            meta = read_metadata(adapter.model_dir)
            emb = embodiment_metadata(meta, config.embodiment_tag, adapter.model_dir)
            check_layout(layout, emb, repr(model_path))
        return cls(adapter, layout, emb, config)

    @property
    def n_action_steps(self) -> int:
        """Steps of each chunk to execute before the next `plan`."""
        return self.config.n_action_steps

    @property
    def action_horizon(self) -> int:
        """Steps per chunk (16 for GR00T N1.5)."""
        return self.layout.action_horizon

    # -- plan ---------------------------------------------------------------------------------

    def _tensor(self, x: Any, name: str, dtype: torch.dtype, shape_tail: tuple[int, ...]) -> torch.Tensor:
        if isinstance(x, jax.Array):
            t = jax_to_torch(x)
        elif isinstance(x, np.ndarray):
            t = torch.from_numpy(x)
        elif isinstance(x, torch.Tensor):
            t = x
        else:
            raise TypeError(f"{name} must be a jax.Array, torch.Tensor or numpy array, got {type(x).__name__}")
        if t.ndim != 1 + len(shape_tail) or any(s not in (-1, d) for s, d in zip(shape_tail, t.shape[1:])):
            want = ", ".join("*" if s < 0 else str(s) for s in shape_tail)
            raise ValueError(f"{name} must have shape (B, {want}), got {tuple(t.shape)}")
        if dtype == torch.uint8 and t.dtype != torch.uint8:
            raise TypeError(f"{name} must be uint8 images (GR00T's video contract), got {t.dtype}")
        return t.to(device=self.device, dtype=dtype)

    def _tasks(self, task: str | Sequence[str] | None, n: int) -> list[str]:
        if task is None or isinstance(task, str):
            return [task or self.config.task] * n
        if len(task) != n:
            raise ValueError(f"task must be one str or {n} strs (one per env), got {len(task)}")
        return [str(s) for s in task]

    def _join(self, out: Mapping[str, torch.Tensor], n: int) -> torch.Tensor:
        parts = []
        for key, size in self.layout.action:
            want = (n, self.layout.action_horizon, size)
            if key not in out:
                raise ValueError(f"the model returned {sorted(out)}, without {key!r}")
            if tuple(out[key].shape) != want:
                got = tuple(out[key].shape)
                raise ValueError(f"the model returned {key} with shape {got}, expected {want}")
            parts.append(out[key].to(device=self.device, dtype=torch.float32))
        return torch.cat(parts, dim=-1)

    def _repair(self, chunk: torch.Tensor, q: torch.Tensor, fallback: torch.Tensor | None) -> torch.Tensor:
        """Envs whose chunk is not finite get `fallback` (each env's last good chunk), else the last
        call's chunk if it has the same shape, else hold q; counted in `nonfinite_envs`."""
        bad = ~torch.isfinite(chunk).all(dim=(1, 2))
        n_bad = int(bad.sum())
        if n_bad:
            self.nonfinite_envs += n_bad
            last = self._last_good
            hold = q[:, None, :].expand_as(chunk)
            if fallback is not None:
                good = torch.isfinite(fallback).all(dim=(1, 2))
                replacement = torch.where(good[:, None, None], fallback, hold)
            else:
                replacement = last if last is not None and last.shape == chunk.shape else hold
            chunk = torch.where(bad[:, None, None], replacement, chunk)
        self._last_good = chunk
        return chunk

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def plan(self, images_front: Any, images_wrist: Any, joint_pos_rad: Any,
             task: str | Sequence[str] | None = None, seed: int | None = None,
             fallback: Any = None) -> Any:
        """A (B, 16, 6) float32 chunk of joint targets in sim rad, for B envs at once.

        images_front, images_wrist: uint8 (B, H, W, 3) (224 x 224 for GR00T); joint_pos_rad:
        (B, 6); each a jax.Array, torch tensor or numpy array. task: None (the configured task), one
        instruction, or one per env. seed: None (the model's own noise), or the noise seed: sub-batch
        k (from row s) gets seed + s, so equal inputs, seed and max_batch give an equal chunk.
        fallback: None, or (B, 16, 6) rad chunks that replace non-finite rows (each env's last good
        chunk; rows not finite themselves hold joint_pos_rad). Returns a jax.Array when
        joint_pos_rad is one (zero-copy), else a torch tensor on the base's device.
        """
        t0 = time.perf_counter()
        joints = len(self.config.joint_ranges)
        q = self._tensor(joint_pos_rad, "joint_pos_rad", torch.float32, (joints,))
        n = q.shape[0]
        images = {"front": self._tensor(images_front, "images_front", torch.uint8, (-1, -1, 3)),
                  "wrist": self._tensor(images_wrist, "images_wrist", torch.uint8, (-1, -1, 3))}
        for name, img in images.items():
            if img.shape[0] != n:
                raise ValueError(f"images_{name} has batch {img.shape[0]} but joint_pos_rad has {n}")
        texts = self._tasks(task, n)
        if fallback is not None:
            fallback = self._tensor(fallback, "fallback", torch.float32, (self.layout.action_horizon, joints))
            if fallback.shape[0] != n:
                raise ValueError(f"fallback has batch {fallback.shape[0]} but joint_pos_rad has {n}")
        self._sync()
        t1 = time.perf_counter()
        with torch.inference_mode():
            state = normalise_min_max((q - self._offset) * self._scale, self._state_lo, self._state_hi)
            parts = []
            for s in range(0, n, self.config.max_batch):
                e = min(n, s + self.config.max_batch)
                batch: dict[str, Any] = {key: images[cam][s:e, None] for key, cam in self.layout.video}
                off = 0
                for key, size in self.layout.state:
                    batch[key] = state[s:e, None, off:off + size]
                    off += size
                batch[self.layout.language_key] = texts[s:e]
                out = self.adapter.get_action(batch) if seed is None else self.adapter.get_action(
                    batch, seed=(int(seed) + s) % 2**63)
                parts.append(self._join(out, e - s))
            action = unnormalise_min_max(torch.cat(parts), self._act_lo, self._act_hi)
            chunk = self._repair(action / self._scale + self._offset, q, fallback)
        self._sync()
        t2 = time.perf_counter()
        result = torch_to_jax(chunk) if isinstance(joint_pos_rad, jax.Array) else chunk
        t3 = time.perf_counter()
        total = t3 - t0
        self.last_timing = {
            "groot/inference_time": total,
            "groot/inference_time_per_env_step": total / self.config.n_action_steps,
            "groot/to_torch_time": t1 - t0, "groot/model_time": t2 - t1, "groot/to_jax_time": t3 - t2,
            "groot/batch": float(n), "groot/sub_batches": float(len(parts)),
        }
        return result
