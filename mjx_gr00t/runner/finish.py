"""The end of a run: held-out evaluation (base alone vs base + residual), summary.json, export, plot.

Shared by the trainers and `train.evaluate`, so the summary and the evaluate JSON are one record:
    {"scene", "episodes", "seed", "base_name", "alpha",
     "base": {success_rate, success_ci95, mean_return, mean_final_distance, ...},
     "residual": {the same keys}}
and the training run adds wall_time_s (training time summed over resumes), env_steps,
env_steps_per_s (of the last invocation) and the machine.
"""

import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from mjx_gr00t.distributed import is_main_process
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.evaluation import format_table, run_episodes, summarise
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.residual import scale_residual
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.rl.algo import PolicyFn, PolicyParams
from mjx_gr00t.runner.config import RunConfig
from mjx_gr00t.runner.loop import LoopResult
from mjx_gr00t.runner.metrics_log import METRICS_FILE, plot_learning_curve


@functools.lru_cache(maxsize=16)
def residual_act(policy_fn: PolicyFn) -> Callable[[Any, State, jax.Array], jax.Array]:
    """The evaluation act `((params, alpha), state, key) -> alpha * clip(residual)` of a policy.
    Alpha 0 is the base alone, with the same compiled rollout."""

    def act(params_alpha: tuple[Any, jax.Array], s: State, key: jax.Array) -> jax.Array:
        params, alpha = params_alpha
        return scale_residual(policy_fn(params, s.obs), alpha)

    return act


def evaluate_policy(
    env: EpisodeEnv, policy_fn: PolicyFn, params: Any, alpha: float, episodes: int, seed: int
) -> dict[str, Any]:
    """`summarise` of base + alpha * residual over `episodes` held-out episodes (from `seed`)."""
    act = residual_act(policy_fn)
    return summarise(run_episodes(env, act, (params, jnp.float32(alpha)), episodes, seed))


def evaluate_policies(
    env: EpisodeEnv, policy_fn: PolicyFn, params: Any, alpha: float, episodes: int, seed: int
) -> dict[str, dict[str, Any]]:
    """{"base": base alone, "residual": base + alpha * residual}, each a `summarise` record,
    over the same `episodes` held-out initial states (drawn from `seed`)."""
    return {
        "base": evaluate_policy(env, policy_fn, params, 0.0, episodes, seed),
        "residual": evaluate_policy(env, policy_fn, params, alpha, episodes, seed),
    }


def periodic_evaluator(
    env: EpisodeEnv, policy_fn: PolicyFn, params_of: Callable[[Any], Any],
    alpha_of: Callable[[Any], float], episodes: int, seed: int,
) -> Callable[[Any], dict[str, float]]:
    """`evaluate(train_state) -> {eval/success_rate, eval/episodes, eval/mean_return}` for the loop's
    --eval-every: base + alpha * residual on the same `episodes` held-out initial states (from `seed`)
    every time, with the policy weights `params_of(train_state)` at the alpha it trains with now,
    `alpha_of(train_state)` (a warm-up schedule's current value); compiled once."""

    def evaluate(state: Any) -> dict[str, float]:
        summary = evaluate_policy(env, policy_fn, params_of(state), alpha_of(state), episodes, seed)
        return {"eval/success_rate": float(summary["success_rate"]), "eval/episodes": float(episodes),
                "eval/mean_return": float(summary["mean_return"])}

    return evaluate


def evaluation_record(
    scene: str, base_name: str, alpha: float, episodes: int, seed: int,
    results: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The evaluate/summary JSON record (see the module docstring)."""
    return {"scene": scene, "episodes": episodes, "seed": seed, "base_name": base_name, "alpha": alpha,
            **results}


def finish_run(
    config: RunConfig, env: EpisodeEnv, policy_fn: PolicyFn, params: PolicyParams,
    export: Callable[[str], None], result: LoopResult,
) -> dict[str, Any]:
    """Evaluates, prints the table, writes summary.json, the export and the learning curve.

    config: the run's (scene, base, alpha, eval_episodes, eval_seed, out). export(dir) writes
    the residual's weights to `dir`. result: the training loop's outcome (times, env steps).
    Returns the summary record. Every process evaluates (the episodes may span hosts); only
    process 0 writes files.
    """
    args, out = config.run, config.run.out
    scene, base, alpha = config.scene.scene, config.scene.base, config.residual.alpha
    record: dict[str, Any] = {"scene": scene, "base_name": base}
    baselines = {}
    if args.eval_episodes > 0:
        print(f"evaluating on {args.eval_episodes} held-out episodes (seed {args.eval_seed}) ...")
        results = evaluate_policies(env, policy_fn, params, alpha, args.eval_episodes, args.eval_seed)
        record = evaluation_record(scene, base, alpha, args.eval_episodes, args.eval_seed, results)
        print(format_table({f"{base} base alone": results["base"],
                            f"{base} + residual": results["residual"]}))
        baselines = {f"{base} base alone (eval)": results["base"]["success_rate"],
                     "base + residual (eval)": results["residual"]["success_rate"]}
    record.update({
        "wall_time_s": result.wall_time_s,
        "env_steps": int(result.state.env_steps),
        "env_steps_per_s": result.env_steps_per_s,
        "machine": machine_line(machine()),
    })
    if not is_main_process():
        return record
    write_json_atomic(os.path.join(out, "summary.json"), record)
    export(os.path.join(out, "export"))
    plot_learning_curve(os.path.join(out, METRICS_FILE), os.path.join(out, "learning_curve.png"),
                        title=f"{scene}, base {base}", baselines=baselines)
    print(f"wrote {out}/summary.json, {out}/export/, {out}/learning_curve.png")
    return record
