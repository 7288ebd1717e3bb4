"""GR00T N1.6/N1.7 checkpoints: their processor files read into the bridge's metadata form (no torch).

    files = processor_files(ckpt_dir)          # {"processor_config.json": path, ...} or None (an N1.5 layout)
    meta = read_processor_metadata(ckpt_dir)   # tag -> the same record experiment_cfg/metadata.json gives

An N1.6/N1.7 checkpoint keeps, beside `config.json` and the weights, three files at its top level or
under `processor/` (facts: ../shared/reference/gr00t_n17.md):
- `processor_config.json`: {"processor_class", "processor_kwargs": {"modality_configs": {tag:
  {video|state|action|language: {"delta_indices", "modality_keys", action: "action_configs":
  [{"rep": RELATIVE|DELTA|ABSOLUTE, "type", "format", "state_key"}]}}}, "use_percentiles",
  "use_mean_std", "clip_outliers", "use_relative_action", "max_action_horizon", ...}};
- `statistics.json`: {tag: {"state"|"action"|"relative_action": {group: {min, max, mean, std, q01,
  q99}}}}, in the fine-tuning data's units (LeRobot's for SO-101); relative statistics may be per
  chunk step, (T, D);
- `embodiment_id.json`: tag -> the model's projector index.

The record per tag is N1.5's (`statistics`, `modalities` with each group's `shape`, `embodiment_tag`)
plus `normalisation`: {"version": "n1.7", "percentiles": use_percentiles (q01/q99 instead of min/max),
"clip": clip_outliers (normalised state clipped to [-1, 1]), "relative": {action group: state group}
(groups whose chunk is relative to the query-time state: abs[t] = state + rel[t]; only when
use_relative_action), "embodiment_id", "action_horizon"}. `bridge.groot.layout.min_max` and
`bridge.groot.normaliser.Normaliser` read it.
"""

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

PROCESSOR_FILES: tuple[str, ...] = ("processor_config.json", "statistics.json", "embodiment_id.json")
N17: str = "n1.7"
N15: str = "n1.5"
VERSIONS: tuple[str, ...] = (N15, N17)
"""GR00T contracts the bridge speaks: N1.5's (flat keys, action dict) and N1.6/N1.7's (nested, (action, info))."""


def processor_files(model_dir: str) -> dict[str, str] | None:
    """name -> path of the three processor files (top level, else processor/), None when
    processor_config.json is in neither; FileNotFoundError when it is but another is missing."""
    for where in (model_dir, os.path.join(model_dir, "processor")):
        if os.path.isfile(os.path.join(where, PROCESSOR_FILES[0])):
            paths = {name: os.path.join(where, name) for name in PROCESSOR_FILES}
            missing = [n for n, p in paths.items() if not os.path.isfile(p)]
            if missing:
                raise FileNotFoundError(f"{where!r} holds processor_config.json but not {missing}: an N1.6/N1.7 "
                                        f"checkpoint needs all of {list(PROCESSOR_FILES)}")
            return paths
    return None


def _load(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from e


def processor_sha256(model_dir: str) -> str | None:
    """SHA-256 over processor_config.json then statistics.json (what fixes the normalisation), or None."""
    paths = processor_files(model_dir)
    if paths is None:
        return None
    digest = hashlib.sha256()
    for name in PROCESSOR_FILES[:2]:
        with open(paths[name], "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def _group_shape(stats: Mapping[str, Any], where: str) -> list[int]:
    lo = stats.get("min", stats.get("q01"))
    if not isinstance(lo, list) or not lo:
        raise ValueError(f"{where} has no min (or q01) statistics")
    return [len(lo[0]) if isinstance(lo[0], list) else len(lo)]


def _relative_groups(action: Mapping[str, Any], use_relative: bool, where: str) -> dict[str, str]:
    """action group -> state group, for the RELATIVE action configs (when use_relative_action)."""
    keys, configs = list(action.get("modality_keys", [])), action.get("action_configs") or []
    if configs and len(configs) != len(keys):
        raise ValueError(f"{where}: {len(configs)} action_configs for {len(keys)} action keys {keys}")
    out = {}
    for key, cfg in zip(keys, configs):
        rep = str(cfg.get("rep", "absolute")).lower()
        if rep == "delta":
            raise ValueError(f"{where}: action {key!r} is DELTA (cumulative), which the bridge does not decode; "
                             "it decodes ABSOLUTE and RELATIVE (abs = state + rel) actions")
        if rep == "relative" and use_relative:
            out[key] = cfg.get("state_key") or key
    return out


def embodiment_record(tag: str, config: Mapping[str, Any], stats: Mapping[str, Any], ids: Mapping[str, Any],
                      where: str) -> dict[str, Any]:
    """The bridge's record of `tag` from the parsed processor_config.json, statistics.json and
    embodiment_id.json (module docstring); ValueError naming what is missing or unsupported."""
    kwargs = config.get("processor_kwargs", {})
    if kwargs.get("use_mean_std"):
        raise ValueError(f"{where}: use_mean_std is set; the bridge normalises by min/max or q01/q99 only")
    mods = kwargs.get("modality_configs", {}).get(tag)
    if not isinstance(mods, Mapping):
        raise ValueError(f"{where}: processor_config.json has no modality_configs for embodiment {tag!r}")
    tag_stats = stats.get(tag, {})
    modalities: dict[str, dict[str, Any]] = {"video": {k: {} for k in mods.get("video", {}).get("modality_keys", [])}}
    for modality in ("state", "action"):
        modalities[modality] = {}
        for key in mods.get(modality, {}).get("modality_keys", []):
            group = tag_stats.get(modality, {}).get(key)
            if group is None:
                raise ValueError(f"{where}: statistics.json has no {modality} statistics for {tag}/{key}")
            modalities[modality][key] = {"shape": _group_shape(group, f"statistics.json {tag}/{modality}/{key}")}
    relative = _relative_groups(mods.get("action", {}), bool(kwargs.get("use_relative_action")), where)
    for key in relative:
        if key not in tag_stats.get("relative_action", {}):
            raise ValueError(f"{where}: action {key!r} is relative but statistics.json has no relative_action "
                             f"statistics for it under {tag!r}")
    language = mods.get("language", {}).get("modality_keys", [])
    horizon = len(mods.get("action", {}).get("delta_indices", [])) or None
    return {"statistics": dict(tag_stats), "modalities": modalities, "embodiment_tag": tag,
            "normalisation": {"version": N17, "percentiles": bool(kwargs.get("use_percentiles")),
                              "clip": bool(kwargs.get("clip_outliers")), "relative": relative,
                              "embodiment_id": ids.get(tag), "action_horizon": horizon,
                              "language_key": language[0] if language else None}}


def read_processor_metadata(model_dir: str) -> dict[str, Any]:
    """tag -> the bridge's metadata record (module docstring) for every embodiment with modality
    configs; FileNotFoundError without processor files, ValueError for files that do not parse."""
    paths = processor_files(model_dir)
    if paths is None:
        raise FileNotFoundError(f"{model_dir!r} has no processor_config.json (nor processor/processor_config.json)")
    config, stats, ids = (_load(paths[n]) for n in PROCESSOR_FILES)
    where = os.path.dirname(paths[PROCESSOR_FILES[0]])
    if not all(isinstance(x, dict) for x in (config, stats, ids)):
        raise ValueError(f"{where!r}: {list(PROCESSOR_FILES)} must each hold a JSON object")
    tags = config.get("processor_kwargs", {}).get("modality_configs", {})
    return {tag: embodiment_record(tag, config, stats, ids, repr(where)) for tag in tags}
