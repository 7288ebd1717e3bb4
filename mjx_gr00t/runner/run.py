"""One runner for every registered algorithm: build, train (or resume), evaluate, export.

    summary = train(default_config("ppo"), "ppo")          # what `python -m train.residual_ppo` runs
    summary = train(config, "sac", groot=bridge.groot.planner)

Each iteration is the algorithm's one jitted call; the Python loop around it (mjx_gr00t.runner.loop)
logs, evaluates, checkpoints and shows progress. At the end the base alone and base + residual are
evaluated on held-out seeds (DIR/summary.json), the residual is exported (DIR/export/) and the
learning curve is drawn (DIR/learning_curve.png).
"""

import dataclasses
from typing import Any

import jax

from mjx_gr00t.errors import UsageError
from mjx_gr00t.groot_settings import check_groot
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import algos
from mjx_gr00t.rl.algo import Algo, Schedules
from mjx_gr00t.runner import run_dir
from mjx_gr00t.runner.build import GrootBridge, build_env, groot_export
from mjx_gr00t.runner.config import RunConfig, as_json
from mjx_gr00t.runner.export import write_run_export
from mjx_gr00t.runner.finish import finish_run, periodic_evaluator
from mjx_gr00t.runner.loop import check_resume, open_checkpoints, run_loop, saved_form
from mjx_gr00t.runner.recipes import resolve, total_iterations


def schedules(config: RunConfig) -> Schedules:
    """The residual's alpha schedule and (off-policy) apply-probability ramp; UsageError if invalid."""
    r = config.residual
    try:
        return Schedules(
            alpha=AlphaSchedule(alpha=r.alpha, schedule=r.alpha_schedule, warmup_steps=r.alpha_warmup_steps),
            apply_prob=AlphaSchedule(alpha=1.0, schedule="linear", alpha_start=r.residual_apply_start,
                                     warmup_steps=r.residual_apply_warmup_steps))
    except ValueError as e:
        raise UsageError(str(e)) from e


def validate(config: RunConfig, algo: Algo) -> None:
    """UsageError for settings that cannot work together, saying what to change."""
    r = config.residual
    if r.alpha < 0:
        raise UsageError(f"--alpha must be >= 0, got {r.alpha}")
    if r.residual_penalty < 0:
        raise UsageError(f"--residual-penalty must be >= 0, got {r.residual_penalty}")
    if not 0.0 <= r.residual_apply_start <= 1.0:
        raise UsageError(f"--residual-apply-start must be in [0, 1], got {r.residual_apply_start}")
    if r.residual_apply_start != 1.0 and not algo.applies_residual_stochastically:
        raise UsageError(f"--residual-apply-start applies to off-policy learners; {algo.name} always applies "
                         "the residual (leave it at 1)")
    one = algo.steps_per_iteration(config.algo)
    if config.run.total_steps < one:
        raise UsageError(f"--total-steps {config.run.total_steps} is smaller than one iteration ({one} env steps: "
                         "--num-envs x the steps per env of an iteration)")
    run_dir.validate_run_settings(config.run)
    check_groot(config.groot, config.scene.base)
    schedules(config)


def train(config: RunConfig, algo_name: str, groot: GrootBridge | None = None) -> dict[str, Any]:
    """Runs (or resumes) training of `config` with the registered algorithm `algo_name`, then evaluates
    and exports. Returns the summary record ({} when stopped early). groot: the GR00T bridge module,
    needed with --base groot."""
    algo = algos.get(algo_name)
    config = resolve(config, algo.name)
    validate(config, algo)
    scene, base = config.scene.scene, config.scene.base
    out = config.run.resume or config.run.out or run_dir.default_out(algo.name, scene, base)
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, out=out))
    if config.run.resume:  # refuse a run that cannot be resumed before compiling anything
        run_dir.prepare_out(out, algo.name, {}, resume=True, overwrite=False)
        check_resume(out, algo.name, config)
    env = build_env(config, groot)  # before the run dir is written: a bad --groot.model writes nothing
    try:
        algo.check(config.algo, env)
        state = algo.init(config.algo, env, jax.random.PRNGKey(config.seed))
    except ValueError as e:
        raise UsageError(f"{algo.name} on scene {scene!r}: {e}") from e
    run_dir.prepare_out(out, algo.name, as_json(saved_form(config)), resume=bool(config.run.resume),
                        overwrite=config.run.overwrite)
    sched = schedules(config)
    steps = algo.steps_per_iteration(config.algo)
    train_step = algo.make_train_step(config.algo, env, sched)
    if groot is not None and base == "groot":
        train_step = groot.with_groot_metrics(train_step, env, steps)
    iterations = total_iterations(config, algo.name)
    ckpt, state = open_checkpoints(out, algo.name, config, state, iterations)
    print(f"{scene}: base {base}, engine {env.task.engine_name}, {algo.describe(config.algo, env)}, "
          f"{iterations} iterations; run dir {out}")
    policy_fn = algo.policy_fn(config.algo)
    evaluate = periodic_evaluator(env, policy_fn, algo.inference_params, lambda s: float(sched.alpha(s.env_steps)),
                                  config.run.eval_every_episodes, config.run.eval_seed)
    result = run_loop(algo.name, config, ckpt, state, train_step, steps, iterations, evaluate=evaluate)
    if not result.finished:
        return {}
    params = algo.inference_params(result.state)
    record_groot = groot_export(config, groot)
    return finish_run(config, env, policy_fn, params, result=result,
                      export=lambda d: write_run_export(d, config, algo, env, params, record_groot))
