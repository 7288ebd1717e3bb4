"""GR00T N1.5 as a batched base policy: sim observations in, (B, 16, 6) joint-target chunks out.

    base  = GrootBase.from_pretrained(GrootSettings(model="ckpt_dir", data_config="so100_dualcam"))
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

What to load and how to query it is a `mjx_gr00t.groot_settings.GrootSettings` (the record a trainer's
--groot.* flags fill); the base keeps it as `settings`. Fine-tunes with other keys use a key map from
data-config keys to checkpoint keys (`bridge.groot.layout.KEY_MAPS` by name, or any map); data-config
keys mapped to one checkpoint key are concatenated in data-config order (e.g. `state.single_arm` (5)
and `state.gripper` (1) -> `state.arm_0` (6)).
"""

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before jax is imported)

import jax
import numpy as np
import torch

from bridge.dlpack import jax_to_torch, torch_to_jax
from bridge.groot.adapters import IsaacGr00tAdapter, PolicyAdapter, TinyAdapter
from bridge.groot.contract_n17 import N17PolicyAdapter, load_isaac_n17
from bridge.groot.layout import (
    DEFAULT_DENOISING_STEPS, METADATA_FILE, SO101_JOINT_RANGES, DataConfig, check_layout, check_modalities,
    check_units, checkpoint_kind, embodiment_metadata, metadata_sha256, read_metadata, resolve_layout,
    resolve_version,
)
from bridge.groot.normaliser import Normaliser
from bridge.groot.processor_files import N17
from bridge.tiny_n17 import TinyGr00tPolicyN17
from mjx_gr00t.export.groot import read_groot_export
from mjx_gr00t.export.units import lerobot_scale_offset
from mjx_gr00t.groot_settings import GrootSettings, groot_problem

JointRanges = Sequence[Sequence[float]]
"""(J, 2) sim joint ranges in rad, lo < hi; the last joint is the gripper (0..100 in LeRobot units)."""


def check_settings(settings: GrootSettings, layout: DataConfig, joint_ranges: JointRanges) -> None:
    """ValueError unless `settings` can query a checkpoint of `layout` with these joints."""
    problem = groot_problem(settings)
    if problem is not None:
        raise ValueError(f"{problem[0]} {problem[1]}")
    if not 1 <= settings.n_action_steps <= layout.action_horizon:
        raise ValueError(f"n_action_steps must be in 1..{layout.action_horizon}, got {settings.n_action_steps}")
    joints = sum(n for _, n in layout.state)
    if len(joint_ranges) != joints or any(not lo < hi for lo, hi in joint_ranges):
        raise ValueError(f"joint_ranges must be {joints} pairs (lo < hi), got {joint_ranges}")


class GrootBase:
    """A GR00T-style checkpoint as a batched base policy in sim units (see the module docstring).

    Attributes: `settings` (the GrootSettings it was loaded with), `layout` (the data config after
    the key map), `joint_ranges`, `last_timing` (seconds of the last `plan`: `groot/inference_time`
    per chunk, `groot/inference_time_per_env_step` = that / n_action_steps, and the to-torch / model /
    to-JAX parts), `nonfinite_envs` (envs whose chunk had non-finite values and was replaced, in total).
    """

    def __init__(self, adapter: PolicyAdapter, layout: DataConfig, emb_meta: Mapping[str, Any],
                 settings: GrootSettings, joint_ranges: JointRanges = SO101_JOINT_RANGES) -> None:
        check_settings(settings, layout, joint_ranges)
        self.adapter, self.layout, self.settings, self.emb_meta = adapter, layout, settings, emb_meta
        self.joint_ranges = tuple((float(lo), float(hi)) for lo, hi in joint_ranges)
        self.device = torch.device(settings.device)
        dev = dict(device=self.device, dtype=torch.float32)
        self.raw_units = bool(getattr(adapter, "raw_units", False))
        if emb_meta:
            check_units(emb_meta, layout, joint_ranges)
        self.normaliser = None if self.raw_units else Normaliser(emb_meta, layout, self.device)
        scale, offset = lerobot_scale_offset(self.joint_ranges, gripper_index=-1)
        self._scale, self._offset = torch.as_tensor(scale, **dev), torch.as_tensor(offset, **dev)
        self._last_good: torch.Tensor | None = None
        self.last_timing: dict[str, float] = {}
        self.nonfinite_envs = 0

    @classmethod
    def from_pretrained(cls, settings: GrootSettings, key_map: Mapping[str, str] | None = None,
                        denoising_steps: int = DEFAULT_DENOISING_STEPS,
                        joint_ranges: JointRanges = SO101_JOINT_RANGES) -> "GrootBase":
        """Loads `settings.model`: a real GR00T N1.5 or N1.6/N1.7 (local dir or HF id; needs `gr00t`) or a
        bridge.tiny checkpoint of either contract, on `settings.device` (`resolve_version` picks the contract).

        key_map: a data-config key -> checkpoint key map that replaces settings.key_map (for maps
        not among KEY_MAPS, e.g. one an export recorded). denoising_steps: flow-matching Euler steps.
        joint_ranges: the sim joints' ranges (J, 2), rad. ValueError or FileNotFoundError for
        settings or a checkpoint that cannot work, raised before the weights load where possible."""
        if not settings.model:
            raise ValueError("settings.model must name a checkpoint directory or Hugging Face id, got None")
        if denoising_steps < 1:
            raise ValueError(f"denoising_steps must be >= 1, got {denoising_steps}")
        layout = resolve_layout(settings.data_config, settings.key_map if key_map is None else key_map)
        check_settings(settings, layout, joint_ranges)
        model_path = os.fspath(settings.model)
        kind, local = checkpoint_kind(model_path)
        tag, device = settings.embodiment_tag, settings.device
        if local:  # check before the (possibly multi-GB) weights load
            emb = embodiment_metadata(read_metadata(model_path), tag, f"the metadata of {model_path!r}")
            check_layout(layout, emb, repr(model_path))
        version = resolve_version(settings.version, model_path, local)
        if kind == "tiny" and version == N17:
            policy = TinyGr00tPolicyN17.from_pretrained(model_path, tag, denoising_steps, device)
            adapter: Any = N17PolicyAdapter(policy, layout, device, model_dir=model_path)
        elif kind == "tiny":
            adapter = TinyAdapter.load(model_path, tag, denoising_steps, device)
        elif version == N17:
            adapter = load_isaac_n17(model_path, layout, tag, device)
        else:
            adapter = IsaacGr00tAdapter.load(model_path, settings.data_config, layout, tag, denoising_steps, device)
        if not local and version == N17:  # the policy normalises itself; its modality config must match
            emb = {}
            check_modalities(layout, adapter.policy.get_modality_config(), repr(model_path), groups=True)
        elif not local:
            emb = embodiment_metadata(read_metadata(adapter.model_dir), tag, adapter.model_dir)
            check_layout(layout, emb, repr(model_path))
        return cls(adapter, layout, emb, settings, joint_ranges)

    @classmethod
    def from_export(cls, export_dir: str, model: str | None = None, max_batch: int = 64,
                    device: str = "cpu") -> "GrootBase":
        """The GR00T base a residual export was trained on, queried as in training: its residual.json
        "groot" record (mjx_gr00t.export.groot) gives the data config, key map, embodiment tag,
        n_action_steps, denoising steps and task.

        model: where the checkpoint is here (default: the recorded directory or HF id). A local
        checkpoint whose metadata.json (normalisation statistics) differs from the recorded one is
        refused with a ValueError."""
        rec = read_groot_export(export_dir)
        path = model or rec.model
        sha = metadata_sha256(path) if os.path.isdir(path) else None
        if rec.metadata_sha256 and sha and sha != rec.metadata_sha256:
            raise ValueError(
                f"the normalisation statistics of {path!r} ({METADATA_FILE}, or N1.6/N1.7's processor_config.json + "
                f"statistics.json) differ from those the residual in {export_dir!r} was trained with (SHA-256 {sha[:12]}... vs {rec.metadata_sha256[:12]}...): "
                "another checkpoint or other normalisation statistics; pass the training checkpoint")
        settings = GrootSettings(
            model=path, data_config=rec.data_config, key_map=rec.key_map_name,
            embodiment_tag=rec.embodiment_tag, n_action_steps=rec.n_action_steps, max_batch=max_batch,
            task=rec.task, device=device, version=rec.version or "auto")
        base = cls.from_pretrained(settings, key_map=dict(rec.key_map) or None, denoising_steps=rec.denoising_steps)
        got = (base.layout.video, base.layout.state, base.layout.action)
        if got != (rec.video, rec.state, rec.action):
            raise ValueError(f"data config {rec.data_config!r} now resolves to keys {got}, the export recorded "
                             f"{(rec.video, rec.state, rec.action)}; the bridge's data configs changed")
        return base

    @property
    def n_action_steps(self) -> int:
        """Steps of each chunk to execute before the next `plan`."""
        return self.settings.n_action_steps

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
            return [task or self.settings.task] * n
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
        joints = len(self.joint_ranges)
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
            state_raw = (q - self._offset) * self._scale
            state = state_raw if self.normaliser is None else self.normaliser.state(state_raw)
            parts = []
            for s in range(0, n, self.settings.max_batch):
                e = min(n, s + self.settings.max_batch)
                batch: dict[str, Any] = {key: images[cam][s:e, None] for key, cam in self.layout.video}
                off = 0
                for key, size in self.layout.state:
                    batch[key] = state[s:e, None, off:off + size]
                    off += size
                batch[self.layout.language_key] = texts[s:e]
                out = self.adapter.get_action(batch) if seed is None else self.adapter.get_action(
                    batch, seed=(int(seed) + s) % 2**63)
                parts.append(self._join(out, e - s))
            action = torch.cat(parts)
            if self.normaliser is not None:
                action = self.normaliser.action_to_raw(action, state_raw)
            chunk = self._repair(action / self._scale + self._offset, q, fallback)
        self._sync()
        t2 = time.perf_counter()
        result = torch_to_jax(chunk) if isinstance(joint_pos_rad, jax.Array) else chunk
        t3 = time.perf_counter()
        total = t3 - t0
        self.last_timing = {
            "groot/inference_time": total,
            "groot/inference_time_per_env_step": total / self.settings.n_action_steps,
            "groot/to_torch_time": t1 - t0, "groot/model_time": t2 - t1, "groot/to_jax_time": t3 - t2,
            "groot/batch": float(n), "groot/sub_batches": float(len(parts)),
        }
        return result
