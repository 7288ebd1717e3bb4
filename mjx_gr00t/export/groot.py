"""The GR00T base of an exported residual: what a deployment must load, and run the same way.

A residual trained on `--base groot` only works on top of the same GR00T, queried the same way.
`ExportSpec(groot=GrootExport(...))` (mjx_gr00t.export.spec) writes this record as the "groot" entry
of residual.json (`bridge.groot.planner.export_record` builds it from the run's GrootSettings);
`bridge.groot.policy.GrootBase.from_export(DIR)` loads the base back from it.

Plain data, no torch, no JAX: readers without this package find every key spelled out in the JSON.
"""

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from mjx_gr00t.export.format import META_FILE, read_meta, write_json_atomic

CHUNK_FORMULA: str = (
    "every n_action_steps policy steps (and right after a reset) GR00T plans a chunk of "
    "action_horizon absolute joint targets (LeRobot units in GR00T, rad after conversion); step i "
    "of it gives base = clip((chunk[i] - joint_target) / act_scale, -1, 1), i = 0..n_action_steps-1"
)

CONTRACTS: tuple[str, ...] = ("n1.5", "n1.7")
"""GR00T contracts a record may name (bridge.groot.processor_files.VERSIONS)."""


@dataclasses.dataclass(frozen=True)
class GrootExport:
    """The GR00T N1.5 settings a residual was trained with."""

    model: str
    """The checkpoint: a local directory (absolute path on the training machine) or a HF id."""
    data_config: str
    """Isaac-GR00T data config, e.g. 'so100_dualcam' (bridge.groot.layout.DATA_CONFIGS)."""
    embodiment_tag: str
    """Key of the checkpoint's experiment_cfg/metadata.json, e.g. 'new_embodiment'."""
    n_action_steps: int
    """Steps of each chunk executed before GR00T is queried again (1..action_horizon)."""
    video: tuple[tuple[str, str], ...]
    """(checkpoint video key, sim camera 'front' or 'wrist'), after the key map."""
    state: tuple[tuple[str, int], ...]
    """(checkpoint state key, size), after the key map; they concatenate to the joints in order."""
    action: tuple[tuple[str, int], ...]
    """(checkpoint action key, size), after the key map, same joint order."""
    key_map: tuple[tuple[str, str], ...] = ()
    """Data-config key -> checkpoint key pairs (empty: the data config's own keys)."""
    key_map_name: str | None = None
    """The name of `key_map` in bridge.groot.KEY_MAPS, if it has one."""
    action_horizon: int = 16
    """Steps per chunk."""
    denoising_steps: int = 4
    """Flow-matching Euler steps per query."""
    task: str = "Slide the paper into the red square."
    """The language instruction (annotation.human.task_description)."""
    image_size: tuple[int, int] = (224, 224)
    """(height, width) of the uint8 RGB camera images."""
    metadata_sha256: str | None = None
    """SHA-256 of the checkpoint's experiment_cfg/metadata.json (its normalisation statistics);
    None for a Hugging Face id that was not downloaded."""
    version: str | None = None
    """The GR00T contract the base spoke: 'n1.5' (flat keys) or 'n1.7' (N1.6/N1.7's nested one); None
    where it was not known at export (a served base whose server chose) or for exports made before it
    was recorded. Deployment then tells it from the checkpoint or server, as training did."""

    def __post_init__(self) -> None:
        if not self.model or not self.data_config or not self.embodiment_tag:
            raise ValueError(f"model, data_config and embodiment_tag must be non-empty, got {self.model!r}, "
                             f"{self.data_config!r}, {self.embodiment_tag!r}")
        if not 1 <= self.n_action_steps <= self.action_horizon:
            raise ValueError(f"n_action_steps must be in 1..action_horizon={self.action_horizon}, "
                             f"got {self.n_action_steps}")
        if self.denoising_steps < 1:
            raise ValueError(f"denoising_steps must be >= 1, got {self.denoising_steps}")
        if not self.video or not self.state or not self.action:
            raise ValueError("video, state and action keys must each be non-empty")
        if sum(n for _, n in self.state) != sum(n for _, n in self.action):
            raise ValueError(f"state keys {self.state} and action keys {self.action} cover different joints")
        if not self.task.strip():
            raise ValueError("task must be a non-empty instruction")
        if self.version not in (None, *CONTRACTS):
            raise ValueError(f"version must be one of {', '.join(CONTRACTS)} or None, got {self.version!r}")

    def to_json(self) -> dict[str, Any]:
        """The residual.json "groot" entry."""
        return {
            "model": self.model, "data_config": self.data_config, "embodiment_tag": self.embodiment_tag,
            "n_action_steps": self.n_action_steps, "action_horizon": self.action_horizon,
            "denoising_steps": self.denoising_steps, "task": self.task,
            "key_map": dict(self.key_map), "key_map_name": self.key_map_name,
            "video": [{"key": k, "camera": cam} for k, cam in self.video],
            "state": [{"key": k, "size": n} for k, n in self.state],
            "action": [{"key": k, "size": n} for k, n in self.action],
            "image_size": list(self.image_size), "image_dtype": "uint8 RGB (B, 1, H, W, 3)",
            "metadata_sha256": self.metadata_sha256,
            "chunk_formula": CHUNK_FORMULA,
            # Written only when known: exports without it keep their bytes (tests/data/export_v1).
            **({"version": self.version} if self.version else {}),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "residual.json") -> "GrootExport":
        """Inverse of `to_json`; ValueError naming a missing or malformed entry."""
        try:
            return cls(
                model=d["model"], data_config=d["data_config"], embodiment_tag=d["embodiment_tag"],
                n_action_steps=int(d["n_action_steps"]), action_horizon=int(d["action_horizon"]),
                denoising_steps=int(d["denoising_steps"]), task=d["task"],
                key_map=tuple(sorted(dict(d["key_map"]).items())), key_map_name=d["key_map_name"],
                video=tuple((v["key"], v["camera"]) for v in d["video"]),
                state=tuple((s["key"], int(s["size"])) for s in d["state"]),
                action=tuple((a["key"], int(a["size"])) for a in d["action"]),
                image_size=tuple(d["image_size"]), metadata_sha256=d["metadata_sha256"],
                version=d.get("version"),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"the 'groot' entry of {where} is incomplete or malformed: {e!r}") from e


def read_groot_export(export_dir: str | os.PathLike[str]) -> GrootExport:
    """The GR00T record of an export directory; ValueError when it has none (not a groot base)."""
    meta = read_meta(export_dir)
    where = os.path.join(os.fspath(export_dir), META_FILE)
    record = meta.get("groot")
    if not record:
        raise ValueError(f"{where!r} records no GR00T base (its base is {meta.get('base')!r}); only residuals "
                         "trained with --base groot carry one (re-export with `python -m train.export --run DIR`)")
    return GrootExport.from_json(record, where)


def add_groot_export(export_dir: str | os.PathLike[str], groot: GrootExport) -> None:
    """Writes `groot` into an existing export's residual.json (atomically; the tensors are untouched).

    ValueError when the export's base is not 'groot'."""
    meta = read_meta(export_dir)
    if meta.get("base") != "groot":
        raise ValueError(f"export {os.fspath(export_dir)!r} has base {meta.get('base')!r}; a GR00T record "
                         "belongs only to a residual trained with --base groot")
    meta["groot"] = groot.to_json()
    write_json_atomic(os.path.join(os.fspath(export_dir), META_FILE), meta)
