"""One DR ablation from its settings: build the envs and the grid, train every cell as one vmapped
program, evaluate every cell on the held-out distribution, write the results.

    summary = run(AblationSettings(arms=("none", "all"), seeds=(0, 1)))

Outputs in the settings' `out`: results.csv and results.md (success rate, 95 % Wilson intervals,
pooled over seeds and per seed; the base alone as a reference row), success.png (bars with CI
error bars), metrics.jsonl (per iteration: grid means and each cell's rollout success and return),
summary.json (timings, machine, flags), run.json.
"""

import dataclasses
import os
import time
from typing import Any, NamedTuple

from mjx_gr00t.ablate import report
from mjx_gr00t.ablate.evaluate import EvalSpec, evaluate_grid, make_eval_env
from mjx_gr00t.ablate.grid import Grid, arm_names, make_arms
from mjx_gr00t.ablate.settings import ALGO, AblationSettings, residual_env, validate
from mjx_gr00t.ablate.train import train_grid
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.errors import UsageError
from mjx_gr00t.evaluation import EpisodeResults
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.residual_env import scene_task
from mjx_gr00t.rl import algos
from mjx_gr00t.rl.algo import PolicyParams
from mjx_gr00t.runner import run_dir
from mjx_gr00t.runner.config import as_json


class Ablation(NamedTuple):
    """What an ablation runs on: the training env (one env; each cell vmaps `num_envs` of it), the
    grid of arms x seeds, the held-out eval env and what the evaluation runs."""

    env: EpisodeEnv
    grid: Grid
    eval_env: EpisodeEnv
    spec: EvalSpec


def image_only_factors(env: EpisodeEnv) -> tuple[str, ...]:
    """The scene's image-only DR factors where nothing in `env` reads frames (the ablation's bases
    are ik, script or zero; a camera in the loop would read them), else ()."""
    task = scene_task(env)
    if getattr(task.config, "perception", "model") == "camera":
        return ()
    return tuple(getattr(task.config.dr, "IMAGE_ONLY", ()))


def build(settings: AblationSettings) -> Ablation:
    """The envs, grid and eval spec of `settings`; UsageError for unknown arms or a bad eval width."""
    env = residual_env(settings.scene, settings.base_name, settings.engine, settings.num_envs,
                       settings.residual_penalty)
    dr_default = scene_task(env).config.dr
    image_only = image_only_factors(env)
    names = settings.arm_list if settings.arm_list is not None else arm_names(dr_default, image_only)
    try:
        grid = Grid(make_arms(dr_default, names, image_only), tuple(settings.seeds))
    except ValueError as e:
        raise UsageError(f"--arms: {e}") from e
    spec = EvalSpec(width=settings.eval_width, episodes=settings.eval_episodes, seed=settings.eval_seed)
    try:
        eval_env = make_eval_env(settings.scene, settings.base_name, settings.engine, settings.residual_penalty,
                                 env, spec)
    except ValueError as e:
        raise UsageError(f"--eval-width: {e}") from e
    return Ablation(env, grid, eval_env, spec)


def prepare_out(settings: AblationSettings) -> str:
    """The output directory, created, with run.json; refuses one holding other files."""
    out = settings.out or run_dir.default_out(ALGO, settings.scene, settings.base_name)
    if os.path.isdir(out) and os.listdir(out) and not settings.overwrite:
        raise UsageError(f"--out {out!r} is not empty; pass --overwrite to replace an earlier "
                         "ablation there, or choose another --out")
    saved = as_json(dataclasses.replace(settings, out=out))
    run_dir.prepare_out(out, ALGO, saved, resume=False, overwrite=settings.overwrite)
    return out


def run(settings: AblationSettings) -> dict[str, Any]:
    """Trains the grid, evaluates it, writes the outputs; returns the summary record (summary.json)."""
    validate(settings)
    start = time.perf_counter()
    env, grid, eval_env, spec = build(settings)
    out = prepare_out(settings)
    config = settings.ppo_config()
    print(f"{settings.scene}: base {settings.base_name}, engine {scene_task(env).engine_name}; "
          f"{len(grid.arms)} arms ({', '.join(a.name for a in grid.arms)}) x {len(grid.seeds)} seeds "
          f"= {grid.size} runs of {settings.num_envs} envs, {config.total_iterations} iterations of "
          f"{config.batch_size:,} steps each; out {out}")
    trained = train_grid(out, env, grid, config, AlphaSchedule(alpha=settings.alpha))

    t_eval = time.perf_counter()
    print(f"evaluating {grid.size} runs x {spec.episodes} held-out episodes, DR {spec.width}x as wide ...")
    policy_fn = algos.get("ppo").policy_fn(config)
    params = PolicyParams(network=trained.state.policy_params, normalizer=trained.state.normalizer,
                          actor_indices=trained.state.actor_indices)
    cells, base = evaluate_grid(eval_env, policy_fn, params, settings.alpha, grid, spec)
    eval_s = time.perf_counter() - t_eval

    reference = f"{settings.base_name} base alone"
    rows = result_rows(grid, cells, base, reference)
    title = (f"DR ablation: {settings.scene}, base {settings.base_name}\n"
             f"held-out success, every DR range x{spec.width} wide")
    notes = [
        f"Training: {config.total_iterations * config.batch_size:,} env steps per arm and seed, "
        f"{settings.num_envs} envs; seeds {', '.join(map(str, grid.seeds))}.",
        f"Held-out evaluation: every DR factor on, each range {spec.width}x the default width about its "
        f"nominal value; {spec.episodes} episodes per seed (key {spec.seed} + seed), deterministic policy.",
        "95 % CI: Wilson score interval over the episodes (pooled: all seeds' episodes together).",
    ]
    paths = report.write_all(out, rows, title, notes, reference)
    print(report.markdown(rows, title, []))
    summary = {
        "scene": settings.scene, "base": settings.base_name, "arms": [a.name for a in grid.arms],
        "seeds": list(grid.seeds), "eval_width": spec.width, "eval_episodes": spec.episodes,
        "env_steps_per_run": int(trained.env_steps_per_cell), "compile_s": trained.compile_s,
        "train_s": trained.train_s, "eval_s": eval_s, "total_s": time.perf_counter() - start,
        "env_steps_per_s": trained.env_steps_per_s, "devices": trained.devices,
        "machine": machine_line(machine()),
        "results": [r.record() for r in rows], "files": paths,
    }
    write_json_atomic(os.path.join(out, "summary.json"), summary)
    print(f"wrote {', '.join(paths.values())} and {out}/summary.json "
          f"({summary['total_s'] / 60:.1f} min in all)")
    return summary


def result_rows(
    grid: Grid, cells: list[EpisodeResults], base: list[EpisodeResults], reference: str
) -> list[report.Row]:
    """The report's rows: each arm's (pooled, then per seed) in grid order, then the base alone's
    under the name `reference`. cells: `EpisodeResults` per cell in grid order; base: per seed."""
    n_seeds = len(grid.seeds)
    rows = [row for i, arm in enumerate(grid.arms)
            for row in report.rows_for(arm.name, grid.seeds, cells[i * n_seeds:(i + 1) * n_seeds])]
    return rows + report.rows_for(reference, grid.seeds, base)
