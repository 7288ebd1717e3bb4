"""GR00T data configs, key maps and checkpoint metadata: what the bridge knows about a checkpoint's
layout, without torch or the model.

    layout = resolve_layout("so100_dualcam", "cam01_arm0")   # keys after the fine-tune's key map
    emb = embodiment_metadata(read_metadata(ckpt_dir), "new_embodiment")
    check_layout(layout, emb)                               # ValueError naming every mismatch
    lo, hi = min_max(emb, layout.state, "state")            # (D,) float64 each, LeRobot units

`checkpoint_kind(path)` tells a tiny checkpoint from a real GR00T one by its config.json;
`checkpoint_version(path)` tells N1.5's layout (experiment_cfg/metadata.json) from N1.6/N1.7's
(processor files, read by `bridge.groot.processor_files` into the same record).
`normalise_min_max` / `unnormalise_min_max` are Isaac-GR00T's min-max mode on torch tensors (torch
is imported when they run, so this module loads without it).
"""

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bridge.groot.processor_files import N15, N17, processor_files, processor_sha256, read_processor_metadata
from mjx_gr00t.groot_settings import CHUNK_STEPS

if TYPE_CHECKING:
    import torch

LANGUAGE_KEY: str = "annotation.human.task_description"
TINY_MODEL_TYPE: str = "tiny_gr00t"
GR00T_MODEL_TYPES: tuple[str, ...] = ("gr00t_n1_5",)
KNOWN_MODEL_TYPES: tuple[str, ...] = (TINY_MODEL_TYPE, *GR00T_MODEL_TYPES)
METADATA_FILE: str = os.path.join("experiment_cfg", "metadata.json")
DEFAULT_DENOISING_STEPS: int = 4
"""Flow-matching Euler steps per query (Isaac-GR00T's default)."""
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
    action_horizon: int = CHUNK_STEPS

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


def resolve_version(flag: str, model_path: str, local: bool) -> str:
    """The GR00T contract of `model_path`: a local checkpoint's files decide (a contrary flag is a
    ValueError); a Hugging Face id takes the flag, else its name (N1.5 / N1.6 / N1.7)."""
    if local:
        found = checkpoint_version(model_path)
        if flag not in ("auto", found):
            raise ValueError(f"version {flag} was asked for (--groot.version, or the server's --version) but "
                             f"{model_path!r} is a GR00T {found} checkpoint (its files say so); drop the flag or pass "
                             "the matching checkpoint")
        return found
    if flag != "auto":
        return flag
    name = re.search(r"n1[._-]?([567])", model_path.lower())
    if name is None:
        raise ValueError(f"cannot tell the GR00T version of {model_path!r} from its name: pass --groot.version n1.5 "
                         "or n1.7")
    return N15 if name.group(1) == "5" else N17


def checkpoint_version(model_dir: str) -> str:
    """'n1.7' for a checkpoint with N1.6/N1.7 processor files, 'n1.5' for experiment_cfg/metadata.json;
    FileNotFoundError naming both layouts otherwise."""
    if processor_files(model_dir) is not None:
        return N17
    if os.path.isfile(os.path.join(model_dir, METADATA_FILE)):
        return N15
    raise FileNotFoundError(
        f"{model_dir!r} holds neither {METADATA_FILE} (GR00T N1.5) nor processor_config.json + statistics.json + "
        "embodiment_id.json (N1.6/N1.7): a GR00T checkpoint needs its normalisation statistics (a tiny one: "
        "`python -m bridge.tiny --out DIR [--contract n1.7]`)")


def read_metadata(model_dir: str) -> dict[str, Any]:
    """Embodiment tag -> {statistics, modalities, embodiment_tag[, normalisation]}: N1.5's
    experiment_cfg/metadata.json as it is, or an N1.6/N1.7 checkpoint's processor files in that form."""
    if checkpoint_version(model_dir) == N17:
        return read_processor_metadata(model_dir)
    path = os.path.join(model_dir, METADATA_FILE)
    try:
        with open(path) as f:
            meta = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{path!r} must map embodiment tags to metadata, got {type(meta).__name__}")
    return meta


def metadata_sha256(model_dir: str) -> str | None:
    """SHA-256 of what fixes a checkpoint's normalisation (N1.5: experiment_cfg/metadata.json; N1.6/N1.7:
    processor_config.json + statistics.json), None when there is neither."""
    if processor_files(model_dir) is not None:
        return processor_sha256(model_dir)
    path = os.path.join(model_dir, METADATA_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


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
    norm = emb.get("normalisation") or {}
    if norm.get("language_key") not in (None, layout.language_key):
        problems.append(f"language key {norm['language_key']!r} where this side sends {layout.language_key!r}")
    if norm.get("action_horizon") not in (None, layout.action_horizon):
        problems.append(f"an action horizon of {norm['action_horizon']}, not {layout.action_horizon}")
    if problems:
        raise ValueError(
            f"data config {layout.name!r} (after the key map) does not match {where}: " + "; ".join(problems)
            + ". Pick the matching data config or pass a key_map."
        )


RADIAN_SPAN: float = 2 * np.pi * 1.05
"""An arm joint's state statistics spanning less than this look like radians when all of them do."""


def check_units(emb: Mapping[str, Any], layout: DataConfig, joint_ranges: Sequence[Sequence[float]],
                where: str = "the checkpoint") -> None:
    """ValueError (one line) unless the checkpoint's state statistics are in LeRobot's SO-101 units, as
    the twin sends them: the arm in degrees (not radians: every arm joint spanning under ~6.6, nor servo
    ticks: beyond 1.5x the joint's limit) and the gripper in 0..100 (the last joint)."""
    from mjx_gr00t.export.units import sim_to_lerobot

    lo, hi = min_max(emb, layout.state, "state")
    ranges = np.asarray(joint_ranges, np.float64)
    if lo.ndim != 1 or len(lo) != len(ranges):
        return
    limit = np.abs(np.stack([sim_to_lerobot(ranges[:, 0], ranges), sim_to_lerobot(ranges[:, 1], ranges)])).max(0)
    arm_lo, arm_hi, problems = lo[:-1], hi[:-1], []
    if len(arm_lo) and np.all(arm_hi - arm_lo < RADIAN_SPAN) and np.all(limit[:-1] > 4 * RADIAN_SPAN):
        spans = np.round(arm_hi - arm_lo, 2).tolist()
        problems.append(f"every arm joint's state statistics span under {RADIAN_SPAN:.1f} ({spans}): radians, where "
                        "LeRobot's SO-101 uses degrees")
    beyond = np.flatnonzero(np.maximum(np.abs(arm_lo), np.abs(arm_hi)) > 1.5 * limit[:-1])
    if len(beyond):
        problems.append(f"arm joints {beyond.tolist()} have state statistics beyond 1.5x their limits in degrees "
                        f"({np.round(limit[beyond], 1).tolist()}): servo ticks or another unit")
    if lo[-1] < -5.0 or hi[-1] > 105.0:
        problems.append(f"the gripper's state statistics run {lo[-1]:.3g}..{hi[-1]:.3g}, not within LeRobot's 0..100")
    if problems:
        raise ValueError(f"{where} was not trained in LeRobot's SO-101 units: " + "; ".join(problems)
                         + ". Fine-tune on data in LeRobot units (train.collect writes them) or convert its "
                         "statistics.")


def check_modalities(layout: DataConfig, modalities: Any, where: str, groups: bool = False) -> None:
    """ValueError unless a policy's get_modality_config ({modality: ModalityConfig}) names the keys of
    `layout` (checkpoint keys; `groups`: without the modality prefix, as N1.6/N1.7 name them) and its
    action horizon."""
    name = (lambda k: k.split(".", 1)[1]) if groups else (lambda k: k)  # noqa: E731
    want = {"video": [name(k) for k, _ in layout.video], "state": [name(k) for k, _ in layout.state],
            "action": [name(k) for k, _ in layout.action], "language": [layout.language_key]}
    problems = []
    for modality, keys in want.items():
        cfg = modalities.get(modality) if isinstance(modalities, Mapping) else None
        have = getattr(cfg, "modality_keys", None)
        if have is None:
            problems.append(f"no {modality!r} modality config")
        elif sorted(have) != sorted(keys):
            problems.append(f"{modality} keys {list(have)} where this side sends {keys}")
        elif modality == "action" and len(cfg.delta_indices) != layout.action_horizon:
            problems.append(f"an action horizon of {len(cfg.delta_indices)}, not {layout.action_horizon}")
    if problems:
        raise ValueError(f"the GR00T policy at {where} does not match data config {layout.name!r} (after the key "
                         "map): " + "; ".join(problems) + ". Serve the same data config and key map on both sides.")


def min_max(
    emb: Mapping[str, Any], keys: Sequence[tuple[str, int]], modality: str
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), each the concatenation over `keys` of the metadata's statistics, float64: (D,), or
    (T, D) when a relative action group has per-step statistics. N1.6/N1.7 records (their
    `normalisation`) take q01/q99 when `percentiles`, and a relative action group's relative_action
    statistics."""
    norm = emb.get("normalisation") or {}
    lo_name, hi_name = ("q01", "q99") if norm.get("percentiles") else ("min", "max")
    relative = norm.get("relative", {}) if modality == "action" else {}
    los, his = [], []
    for key, _ in keys:
        sub = key.split(".", 1)[1]
        stats = emb["statistics"]["relative_action" if sub in relative else modality][sub]
        los.append(np.asarray(stats[lo_name], np.float64))
        his.append(np.asarray(stats[hi_name], np.float64))
    steps = max((a.shape[0] for a in los if a.ndim == 2), default=None)
    if steps is not None:
        los = [np.broadcast_to(a, (steps, a.shape[-1])) for a in los]
        his = [np.broadcast_to(a, (steps, a.shape[-1])) for a in his]
    return np.concatenate(los, axis=-1), np.concatenate(his, axis=-1)


def normalise_min_max(x: "torch.Tensor", lo: "torch.Tensor", hi: "torch.Tensor") -> "torch.Tensor":
    """Isaac-GR00T's min_max mode: 2 (x - min) / (max - min) - 1, and 0 where max == min.

    x (..., D), lo and hi (D,): torch tensors on one device."""
    import torch

    span = hi - lo
    return torch.where(span != 0, 2 * (x - lo) / torch.where(span != 0, span, 1) - 1, 0)


def unnormalise_min_max(x: "torch.Tensor", lo: "torch.Tensor", hi: "torch.Tensor") -> "torch.Tensor":
    """Inverse of `normalise_min_max`: (x + 1) / 2 (max - min) + min (no clipping, as Isaac-GR00T)."""
    return (x + 1) / 2 * (hi - lo) + lo


def checkpoint_kind(model_path: str) -> tuple[str, bool]:
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
    if model_type in GR00T_MODEL_TYPES or processor_files(model_path) is not None:
        return "gr00t", True
    raise ValueError(f"{path!r} has model_type {model_type!r} and no N1.6/N1.7 processor files; known: "
                     f"{KNOWN_MODEL_TYPES}")
