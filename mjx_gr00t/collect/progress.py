"""Where a collection stands, kept beside its dataset (meta/collect.json) so that an interrupted
`train.collect` continues at the next episode with the same draws.

Batch b of a collection rolls out `num_envs` episodes from keys drawn from (seed, b) alone; `taken`
counts the episodes of batch b already in the dataset. The dataset's own index is the truth: a crash
after an episode entered the index but before this file was rewritten shows as one more episode in
the index than `episodes` here, and `resume_point` counts it as taken.
"""

import dataclasses
import json
import os
from typing import Any

import jax

from mjx_gr00t.export.format import write_json_atomic

FILE = os.path.join("meta", "collect.json")


@dataclasses.dataclass(frozen=True)
class CollectState:
    """seed, num_envs, keep ('successes' or 'all') and source (the base or run) fix the draws; batch,
    taken, episodes, attempted, succeeded, wall_s say how far it got."""

    seed: int
    num_envs: int
    keep: str
    source: str
    batch: int = 0
    taken: int = 0
    episodes: int = 0
    attempted: int = 0
    succeeded: int = 0
    wall_s: float = 0.0

    def same_collection(self, other: "CollectState") -> list[str]:
        """The settings that differ from `other`'s (seed, num_envs, keep, source); [] when none."""
        return [f"{k} {getattr(self, k)!r} (asked {getattr(other, k)!r})"
                for k in ("seed", "num_envs", "keep", "source") if getattr(self, k) != getattr(other, k)]

    def resume_point(self, episodes_in_index: int) -> tuple[int, int]:
        """(batch, taken) to continue from, given the dataset index's episode count."""
        return self.batch, self.taken + max(0, episodes_in_index - self.episodes)

    def keys(self, batch: int) -> tuple[jax.Array, jax.Array]:
        """Batch `batch`'s reset keys (num_envs, 2) and policy key (2,)."""
        key = jax.random.fold_in(jax.random.PRNGKey(self.seed), batch)
        k_reset, k_act = jax.random.split(key)
        return jax.random.split(k_reset, self.num_envs), k_act

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load(root: str) -> CollectState | None:
    """The collection state in `root`, or None where there is none."""
    path = os.path.join(root, FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        record = json.load(f)
    fields = {f.name for f in dataclasses.fields(CollectState)}
    return CollectState(**{k: v for k, v in record.items() if k in fields})


def save(root: str, state: CollectState, extra: dict[str, Any] | None = None) -> None:
    """Writes the state (and `extra` fields beside it, e.g. rates) atomically."""
    write_json_atomic(os.path.join(root, FILE), {**state.to_dict(), **(extra or {})})
