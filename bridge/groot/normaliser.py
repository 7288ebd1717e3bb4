"""A checkpoint's state/action normalisation on the device: N1.5's min-max, and N1.6/N1.7's with
percentiles, clipping and relative arm actions.

    norm = Normaliser(emb, layout, device)            # emb: bridge.groot.layout.embodiment_metadata(...)
    x = norm.state(state_raw)                         # (B, Ds) LeRobot units -> (B, Ds) in [-1, 1]
    chunk = norm.action_to_raw(y, state_raw)          # (B, T, Da) normalised -> (B, T, Da) absolute, LeRobot units
    y = norm.action_from_raw(chunk, state_raw)        # the inverse (a server's raw reply back to the model's units)

State and action are the layout's keys concatenated in order. A relative action group (N1.6/N1.7 with
use_relative_action; `normalisation.relative` in the record) is decoded as the reference says: un-
normalise with its relative_action statistics, then abs[t] = ref + rel[t] for every step t, with ref
the query-time state of its state group (not a running sum). Clipping (clip_outliers) applies to the
normalised state; actions are not clipped, as upstream.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from bridge.groot.layout import DataConfig, min_max, normalise_min_max, unnormalise_min_max


def _offsets(keys: tuple[tuple[str, int], ...]) -> dict[str, tuple[int, int]]:
    out, off = {}, 0
    for key, size in keys:
        out[key.split(".", 1)[1]] = (off, size)
        off += size
    return out


class Normaliser:
    """One embodiment's normalisation over a layout's concatenated state (Ds,) and action (Da,) dims."""

    def __init__(self, emb: Mapping[str, Any], layout: DataConfig, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        norm = emb.get("normalisation") or {}
        self.clip = bool(norm.get("clip"))
        self.version = norm.get("version", "n1.5")
        dev = dict(device=torch.device(device), dtype=dtype)
        state_lo, state_hi = min_max(emb, layout.state, "state")
        act_lo, act_hi = min_max(emb, layout.action, "action")
        self.state_lo, self.state_hi = torch.as_tensor(state_lo, **dev), torch.as_tensor(state_hi, **dev)
        self.action_lo, self.action_hi = torch.as_tensor(act_lo, **dev), torch.as_tensor(act_hi, **dev)
        states, actions = _offsets(layout.state), _offsets(layout.action)
        mask = np.zeros(sum(n for _, n in layout.action), bool)
        ref = np.zeros(len(mask), np.int64)
        for group, state_group in (norm.get("relative") or {}).items():
            if group not in actions:
                continue
            if state_group not in states or states[state_group][1] != actions[group][1]:
                raise ValueError(f"relative action {group!r} needs a state group {state_group!r} of the same size "
                                 f"({actions[group][1]}); the layout's state groups are {sorted(states)}")
            (a0, n), (s0, _) = actions[group], states[state_group]
            mask[a0:a0 + n], ref[a0:a0 + n] = True, np.arange(s0, s0 + n)
        self.relative = torch.as_tensor(mask, device=dev["device"])
        self._ref = torch.as_tensor(ref, device=dev["device"])

    @property
    def any_relative(self) -> bool:
        return bool(self.relative.any())

    def state(self, raw: torch.Tensor) -> torch.Tensor:
        """(..., Ds) LeRobot units -> normalised (clipped to [-1, 1] under clip_outliers)."""
        x = normalise_min_max(raw, self.state_lo.to(raw.dtype), self.state_hi.to(raw.dtype))
        return x.clamp(-1, 1) if self.clip else x

    def _reference(self, state_raw: torch.Tensor) -> torch.Tensor:
        """(B, 1, Da): each action dim's query-time state where it is relative, else 0."""
        ref = state_raw[:, self._ref] * self.relative.to(state_raw.dtype)
        return ref[:, None, :]

    def action_to_raw(self, y: torch.Tensor, state_raw: torch.Tensor) -> torch.Tensor:
        """(B, T, Da) normalised -> absolute LeRobot units; state_raw (B, Ds) the query's state."""
        lo, hi = self.action_lo.to(y.dtype), self.action_hi.to(y.dtype)
        out = unnormalise_min_max(y, lo, hi)
        return out + self._reference(state_raw.to(y.dtype)) if self.any_relative else out

    def action_from_raw(self, chunk: torch.Tensor, state_raw: torch.Tensor) -> torch.Tensor:
        """Inverse of `action_to_raw` (no clipping)."""
        rel = chunk - self._reference(state_raw.to(chunk.dtype)) if self.any_relative else chunk
        return normalise_min_max(rel, self.action_lo.to(chunk.dtype), self.action_hi.to(chunk.dtype))
