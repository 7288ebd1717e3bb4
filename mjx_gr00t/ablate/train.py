"""The training loop of the DR ablation grid: one vmapped PPO step per iteration for every cell, with a
progress bar (grid env-steps/s, mean success and return) and DIR/metrics.jsonl.

Each metrics.jsonl record holds the grid mean of every PPO metric under its usual name, and each
cell's `<arm>/seed<s>/success_rate` and `<arm>/seed<s>/ep_rew_mean`; `env_steps` counts the whole
grid's steps, `env_steps_per_run` one cell's.
"""

import dataclasses
import sys
import time
from collections.abc import Callable

import jax
import numpy as np

from mjx_gr00t.ablate.grid import Grid, init_grid, make_grid_step, shard_over_devices
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.rl import ppo
from mjx_gr00t.rl.ppo_config import PPOConfig
from mjx_gr00t.rl.rollout import EPISODE_MEANS
from mjx_gr00t.runner.loop import ctrl_c_requests
from mjx_gr00t.runner.metrics_log import MetricsLog

CELL_KEYS: dict[str, str] = {"rollout/success_rate": "success_rate", "rollout/ep_rew_mean": "ep_rew_mean"}


@dataclasses.dataclass(frozen=True)
class TrainedGrid:
    """state: the final TrainState, leaves [G, ...]. env_steps_per_cell: steps each cell took.
    compile_s: init + first iteration (compile included). train_s: the other iterations.
    env_steps_per_s: grid env steps per second over the whole loop, compile excluded.
    devices: how many devices the grid was split over (`shard_over_devices`)."""

    state: ppo.TrainState
    env_steps_per_cell: int
    compile_s: float
    train_s: float
    env_steps_per_s: float
    devices: int


def cell_labels(grid: Grid) -> list[str]:
    """'<arm>/seed<s>' of each cell, in grid order."""
    return [f"{arm.name}/seed{seed}" for arm, seed in grid.cells()]


def log_record(grid_metrics: dict[str, np.ndarray], labels: list[str]) -> dict[str, float]:
    """One jsonl record from one iteration's metrics (dict of [G] arrays): grid means; episode means
    (NaN in a cell where no episode ended) are weighted by each cell's finished episodes."""
    record = {k: float(np.mean(v)) for k, v in grid_metrics.items()}
    weights = np.asarray(grid_metrics.get("rollout/episodes", 0.0), np.float64)
    for key in EPISODE_MEANS:
        if key in grid_metrics:
            total = float(np.sum(weights))
            values = np.nan_to_num(np.asarray(grid_metrics[key], np.float64))
            record[key] = float(np.sum(weights * values) / total) if total > 0 else float("nan")
    for key, short in CELL_KEYS.items():
        for label, value in zip(labels, grid_metrics[key]):
            record[f"{label}/{short}"] = float(value)
    return record


def train_grid(
    out: str, env: EpisodeEnv, grid: Grid, config: PPOConfig, alpha_fn: Callable[[jax.Array], jax.Array]
) -> TrainedGrid:
    """Trains every cell for `config.total_iterations` iterations. Ctrl-C stops after the current
    iteration with exit 130 (a second one at once)."""
    labels = cell_labels(grid)
    steps_per_iteration = grid.size * config.batch_size
    iterations = config.total_iterations
    start = time.perf_counter()
    state, devices = shard_over_devices(init_grid(config, env, grid), grid.size)
    if devices > 1:
        print(f"the grid's {grid.size} runs are split over {devices} devices")
    step = make_grid_step(config, env, alpha_fn)
    with MetricsLog(out, "disabled", "mjx-gr00t", {}, total_steps=iterations * steps_per_iteration,
                    name="ablate_dr") as log, ctrl_c_requests() as ctrl_c:
        state, metrics = step(state)  # compiles
        jax.block_until_ready(state)
        compile_s = time.perf_counter() - start
        loop_start = time.perf_counter()
        for i in range(1, iterations + 1):
            if ctrl_c.is_set():
                break
            if i > 1:
                state, metrics = step(state)
            extra = {"env_steps_per_run": i * config.batch_size, "iteration": i}
            log.write(i * steps_per_iteration, {**log_record(jax.device_get(metrics), labels), **extra})
    if ctrl_c.is_set():
        print("\ninterrupted: the ablation stopped before evaluation; nothing was evaluated", file=sys.stderr)
        raise SystemExit(130)
    train_s = time.perf_counter() - loop_start
    loop_steps = (iterations - 1) * steps_per_iteration
    return TrainedGrid(state=state, env_steps_per_cell=iterations * config.batch_size, compile_s=compile_s,
                       train_s=train_s, env_steps_per_s=loop_steps / max(train_s, 1e-9), devices=devices)
