"""Held-out evaluation of the DR ablation grid on one common, wider DR distribution.

Every cell's deterministic policy (base + alpha * mean residual) runs one episode in each of
`episodes` envs. The eval env has every DR factor on, each range `width` times as wide as the
training default about its nominal value (`randomize.widened`), so every arm faces factors it
never saw and wider ranges than 'all' trained on.

Initial states are held out: cell (arm, seed) runs the episodes drawn from `eval_seed + seed`, the
same ones for every arm of that seed (paired comparisons), different ones for each seed (so that
pooling over seeds pools distinct episodes). The base alone runs on the same episodes.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t import randomize
from mjx_gr00t.ablate.grid import Grid, cell
from mjx_gr00t.residual_env import scene_task
from mjx_gr00t.ablate.settings import residual_env
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.evaluation import EpisodeResults, run_episodes
from mjx_gr00t.rl.algo import PolicyFn, PolicyParams
from mjx_gr00t.runner.finish import residual_act


@dataclasses.dataclass(frozen=True)
class EvalSpec:
    """What the held-out evaluation runs: the wider distribution and the episodes."""

    width: float
    """Each DR range is scaled by this about its nominal value (1: the training default)."""
    episodes: int
    """Episodes per (arm, seed) cell, run as parallel envs."""
    seed: int
    """Cell (arm, seed) draws its initial states from key `seed + seed-of-the-cell`."""


def eval_dr(train_env: EpisodeEnv, width: float) -> Any:
    """The eval DR config: the scene's default DR config, every factor on, `width` times wider.
    Raises ValueError when the width takes a scale factor to <= 0."""
    task = scene_task(train_env)
    dr_default = task.config.dr
    neutral = randomize.neutral_values(type(dr_default), type(task.default_ranges).from_config)
    return randomize.widened(dr_default, width, neutral)


def make_eval_env(scene: str, base: str, engine: str, penalty: float, train_env: EpisodeEnv,
                  spec: EvalSpec) -> EpisodeEnv:
    """The residual env whose reset draws from the wider eval distribution (its config's DR), built
    from the scene config so that the model is compiled for the widest draws (e.g. Fetch sizes).
    ValueError when the width takes a scale factor to <= 0; UsageError for a config the scene rejects."""
    wide = eval_dr(train_env, spec.width)
    return residual_env(scene, base, engine, spec.episodes, penalty, wide)


def evaluate_grid(
    eval_env: EpisodeEnv, policy_fn: PolicyFn, params: PolicyParams, alpha: float, grid: Grid, spec: EvalSpec
) -> tuple[list[EpisodeResults], list[EpisodeResults]]:
    """(per cell in grid order, the base alone per seed in `grid.seeds` order): `EpisodeResults`
    ([episodes] each) of the deterministic policies on the held-out episodes.

    params: the policy params of every cell, leaves [G, ...]. For each seed, its arms' policies and
    the base alone (alpha 0) run together, vmapped: one physics batch of (arms + 1) * episodes envs."""
    act = residual_act(policy_fn)
    n_seeds = len(grid.seeds)
    cells: list[Any] = [None] * grid.size
    base: list[EpisodeResults] = []
    alphas = jnp.array([alpha] * len(grid.arms) + [0.0], jnp.float32)
    for s, seed in enumerate(grid.seeds):
        rows = np.array([*range(s, grid.size, n_seeds), s])  # this seed's arms (arm-major), then the base
        stacked = jax.tree.map(lambda x: x[rows], params)

        def run(p: Any, a: jax.Array, seed: int = seed) -> EpisodeResults:
            return run_episodes(eval_env, act, (p, a), spec.episodes, spec.seed + seed)

        batch = jax.device_get(jax.vmap(run)(stacked, alphas))
        for i, g in enumerate(rows[:-1]):
            cells[g] = cell(batch, i)
        base.append(cell(batch, len(rows) - 1))
    return cells, base
