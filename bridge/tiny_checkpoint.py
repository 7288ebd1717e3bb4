"""Writes a tiny GR00T-contract checkpoint (bridge.tiny's model) in N1.5's layout or N1.6/N1.7's.

    python -m bridge.tiny --out DIR [--contract n1.5|n1.7] [--data-config so100_dualcam] [--key-map cam01_arm0] [--seed 0]
    write_checkpoint(DIR, contract="n1.7")

Both layouts hold `config.json` ("model_type": "tiny_gr00t") and `model.safetensors`, and then:
- n1.5: `experiment_cfg/metadata.json` (tag -> statistics, modalities, embodiment_tag);
- n1.7: `processor_config.json` (modality configs with action_configs: the arm RELATIVE to its
  state, the gripper ABSOLUTE, use_relative_action, use_percentiles and clip_outliers on, as
  Isaac-GR00T's fine-tuning launcher sets them), `statistics.json` (state, action, relative_action)
  and `embodiment_id.json`.
Statistics are synthetic, in LeRobot units (degrees for the arm, 0..100 for the gripper).
"""

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from bridge.groot.layout import METADATA_FILE, SO101_JOINT_RANGES, resolve_layout
from bridge.groot.processor_files import N15, N17, VERSIONS
from bridge.tiny_model import EMBODIMENT_IDS, FORMAT_VERSION, WEIGHTS_FILE, TinyConfig, TinyGr00tModel
from mjx_gr00t.export.units import sim_to_lerobot

RELATIVE_SPAN_DEG: float = 30.0
"""Synthetic relative-action statistics of the arm: +/- this many degrees from the query-time state."""


def _stats(lo: np.ndarray, hi: np.ndarray) -> dict[str, list[float]]:
    span = hi - lo
    return {"min": lo.tolist(), "max": hi.tolist(), "mean": ((lo + hi) / 2).tolist(),
            "std": (span / 4).tolist(), "q01": (lo + 0.01 * span).tolist(), "q99": (hi - 0.01 * span).tolist()}


def _joint_bounds(cfg: TinyConfig, joint_ranges: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Arm joints: 80 % of the sim range, in degrees; gripper: 0..60 (of 0..100)."""
    ranges = np.asarray(joint_ranges, np.float64)
    lo, hi = sim_to_lerobot(ranges[:, 0], ranges), sim_to_lerobot(ranges[:, 1], ranges)
    lo, hi = np.append(0.8 * lo[:-1], 0.0), np.append(0.8 * hi[:-1], 60.0)
    if sum(n for _, n in cfg.state_keys) != len(lo):
        raise ValueError(f"the state keys {cfg.state_keys} must cover the {len(lo)} joints")
    return lo, hi


def _per_key(keys: Sequence[tuple[str, int]], lo: np.ndarray, hi: np.ndarray) -> dict[str, Any]:
    out, off = {}, 0
    for key, n in keys:
        out[key.split(".", 1)[1]] = _stats(lo[off:off + n], hi[off:off + n])
        off += n
    return out


def synthetic_metadata(
    cfg: TinyConfig, embodiment_tag: str, joint_ranges: Sequence[Sequence[float]]
) -> dict[str, Any]:
    """N1.5's experiment_cfg/metadata.json content; state and action share the joint statistics."""
    lo, hi = _joint_bounds(cfg, joint_ranges)
    mods = {m: {k.split(".", 1)[1]: {"absolute": True, "rotation_type": None, "shape": [n], "continuous": True}
                for k, n in keys} for m, keys in (("state", cfg.state_keys), ("action", cfg.action_keys))}
    video = {k.split(".", 1)[1]: {"resolution": [224, 224], "channels": 3, "fps": 30.0} for k in cfg.video_keys}
    return {embodiment_tag: {"statistics": {"state": _per_key(cfg.state_keys, lo, hi),
                                            "action": _per_key(cfg.action_keys, lo, hi)},
                             "modalities": {"video": video, **mods}, "embodiment_tag": embodiment_tag}}


def synthetic_processor_files(
    cfg: TinyConfig, embodiment_tag: str, joint_ranges: Sequence[Sequence[float]]
) -> dict[str, Any]:
    """file name -> content of N1.6/N1.7's processor_config.json, statistics.json, embodiment_id.json,
    with the synthetic joint statistics and +/- RELATIVE_SPAN_DEG for the relative arm."""
    lo, hi = _joint_bounds(cfg, joint_ranges)
    rel = np.full(len(lo), RELATIVE_SPAN_DEG)
    return processor_files_content(cfg, embodiment_tag, _per_key(cfg.state_keys, lo, hi),
                                   _per_key(cfg.action_keys, lo, hi), _per_key(cfg.action_keys, -rel, rel))


def relative_groups(cfg: TinyConfig) -> list[str]:
    """The action groups an N1.7 tiny checkpoint makes RELATIVE: all but a 1-D last group (the gripper)."""
    sub = [k.split(".", 1)[1] for k, _ in cfg.action_keys]
    return sub[:-1] if cfg.action_keys[-1][1] == 1 else sub


def processor_files_content(cfg: TinyConfig, embodiment_tag: str, state_stats: dict[str, Any],
                            action_stats: dict[str, Any], relative_stats: dict[str, Any]) -> dict[str, Any]:
    """The three N1.6/N1.7 processor files for `cfg`'s keys and these per-group statistics (group ->
    {min, max, mean, std, q01, q99}); relative_stats is read for `relative_groups(cfg)` only."""
    sub = lambda key: key.split(".", 1)[1]  # noqa: E731
    relative = relative_groups(cfg)
    action_configs = [{"rep": "RELATIVE" if sub(k) in relative else "ABSOLUTE", "type": "NON_EEF",
                       "format": "DEFAULT", "state_key": sub(k) if sub(k) in relative else None}
                      for k, _ in cfg.action_keys]
    modality_configs = {
        "video": {"delta_indices": [0], "modality_keys": [sub(k) for k in cfg.video_keys]},
        "state": {"delta_indices": [0], "modality_keys": [sub(k) for k, _ in cfg.state_keys]},
        "action": {"delta_indices": list(range(cfg.action_horizon)),
                   "modality_keys": [sub(k) for k, _ in cfg.action_keys], "action_configs": action_configs},
        "language": {"delta_indices": [0], "modality_keys": [cfg.language_key]},
    }
    kwargs = {"modality_configs": {embodiment_tag: modality_configs}, "max_state_dim": cfg.max_state_dim,
              "max_action_dim": cfg.max_action_dim, "max_action_horizon": cfg.action_horizon,
              "use_percentiles": True, "use_mean_std": False, "clip_outliers": True, "use_relative_action": True,
              "image_target_size": [224, 224]}
    statistics = {embodiment_tag: {"state": state_stats, "action": action_stats,
                                   "relative_action": {g: relative_stats[g] for g in relative}}}
    return {"processor_config.json": {"processor_class": "TinyGr00tProcessor", "processor_kwargs": kwargs},
            "statistics.json": statistics, "embodiment_id.json": {embodiment_tag: EMBODIMENT_IDS[embodiment_tag]}}


def write_checkpoint(out_dir: str, data_config: str = "so100_dualcam",
                     key_map: Mapping[str, str] | str | None = None, seed: int = 0,
                     embodiment_tag: str = "new_embodiment",
                     joint_ranges: Sequence[Sequence[float]] = SO101_JOINT_RANGES, contract: str = N15) -> str:
    """Writes config.json, model.safetensors and the `contract`'s metadata files into out_dir; returns it."""
    if contract not in VERSIONS:
        raise ValueError(f"contract must be one of {VERSIONS}, got {contract!r}")
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
    write_model(out_dir, model)
    if contract == N17:
        files = synthetic_processor_files(cfg, embodiment_tag, joint_ranges)
    else:
        files = {METADATA_FILE: synthetic_metadata(cfg, embodiment_tag, joint_ranges)}
    write_json_files(out_dir, files)
    return out_dir


def write_model(out_dir: str, model: TinyGr00tModel) -> None:
    """config.json and model.safetensors (no pickle)."""
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out_dir, WEIGHTS_FILE),
              metadata={"format_version": str(FORMAT_VERSION)})
    write_json_files(out_dir, {"config.json": model.cfg.to_json()})


def write_json_files(out_dir: str, files: Mapping[str, Any]) -> None:
    """Each relative path -> its JSON content, under out_dir (folders made)."""
    for name, content in files.items():
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(content, f, indent=2)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bridge.tiny --out DIR ...`."""
    parser = argparse.ArgumentParser(prog="python -m bridge.tiny", description=(
        "Write a tiny, untrained GR00T-contract checkpoint (about 0.29M parameters) for tests and machines "
        "without the weights; --base groot --groot.model DIR loads it through the real path."))
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--contract", default=N15, choices=VERSIONS, help="checkpoint layout and policy contract: "
                        "n1.5 (experiment_cfg/metadata.json) or n1.7 (N1.6/N1.7's processor_config.json, "
                        "statistics.json, embodiment_id.json; relative arm actions) (default n1.5)")
    parser.add_argument("--data-config", default="so100_dualcam", help="a name in bridge.groot.layout.DATA_CONFIGS "
                        "(default so100_dualcam)")
    parser.add_argument("--key-map", default=None, help="fine-tune keys: a name in bridge.groot.layout.KEY_MAPS "
                        "(default none)")
    parser.add_argument("--embodiment-tag", default="new_embodiment", help=f"one of {sorted(EMBODIMENT_IDS)} "
                        "(default new_embodiment)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the denoising noise (default 0)")
    args = parser.parse_args(argv)
    try:
        out = write_checkpoint(args.out, args.data_config, args.key_map, args.seed, args.embodiment_tag,
                               contract=args.contract)
    except ValueError as e:
        parser.error(str(e))
    with open(os.path.join(out, "config.json")) as f:
        n = sum(p.numel() for p in TinyGr00tModel(TinyConfig.from_json(json.load(f), out)).parameters())
    print(f"wrote {out} ({args.contract} layout, {n / 1e6:.2f}M parameters)")
