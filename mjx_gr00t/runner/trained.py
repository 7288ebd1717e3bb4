"""A trained residual, restored from a run directory whichever algorithm made it.

    trained = load_trained("runs/residual_ppo")
    trained.policy_fn(trained.params, obs)          # [N, D] -> [N, A]
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from mjx_gr00t.envs.base import EpisodeEnv
from train import run_dir

# (params, obs [N, D]) -> deterministic residual r [N, A] in [-1, 1]; one function object per
# network config, so that evaluating new weights reuses compiled code.
PolicyFn = Callable[[Any, jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class Trained:
    """A trained residual restored from a run directory, whichever algorithm made it.

    args: the trainer's Args. env: its residual env. policy_fn(params, obs): deterministic
    residual policy. params: its weights (and normaliser). export(dir): writes the export
    files. env_steps: steps it was trained for.
    """

    args: Any
    env: EpisodeEnv
    policy_fn: PolicyFn
    params: Any
    export: Callable[[str], None]
    env_steps: int


def load_trained(run: str) -> Trained:
    """The latest checkpoint of the run in `run`; a clear error if it is missing or not a run."""
    record = run_dir.read_run(run)
    if record["algo"] == "ppo":
        from train.residual_ppo import restore_trained
    elif record["algo"] == "sac":
        from train.residual_sac import restore_trained
    else:
        raise run_dir.UsageError(f"{run!r} holds an unknown algorithm {record['algo']!r}")
    return restore_trained(run, record)
