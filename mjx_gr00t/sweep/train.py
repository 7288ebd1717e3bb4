"""Trains one group of a sweep: its runs as one vmapped program, evaluated on held-out episodes every
`eval_every` iterations, with early stops, checkpoints and exact resume.

    finished = train_group(ctx, g, program)      # False when stopped by Ctrl-C or --stop-after

After every evaluation the group's stacked state is checkpointed (orbax, OUT/checkpoints/group<g>) and
the progress written (OUT/progress.json); a resumed sweep restores both and continues bit for bit.
When configurations stop early their runs leave the stacked state, and the smaller program is compiled
again (counted in the group's `compiles`).
"""

import dataclasses
import os
import threading
import time

import jax
import numpy as np

from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.sweep import outcome
from mjx_gr00t.sweep.plan import Plan
from mjx_gr00t.runner.recipes import total_iterations
from mjx_gr00t.sweep.program import GroupProgram, select
from mjx_gr00t.sweep.progress import Progress
from mjx_gr00t.sweep.settings import SweepSettings


@dataclasses.dataclass
class Context:
    """What every group's training shares: settings, plan, progress, the output directory, and the
    iterations this invocation may still run (None: no limit; --stop-after)."""

    settings: SweepSettings
    plan: Plan
    progress: Progress
    out: str
    iterations_left: int | None = None
    ctrl_c: threading.Event | None = None
    """Set by Ctrl-C: the sweep stops after the current iteration, with a checkpoint."""

    def must_stop(self) -> bool:
        return self.iterations_left == 0 or (self.ctrl_c is not None and self.ctrl_c.is_set())


def eval_every(settings: SweepSettings, batch_size: int) -> int:
    """Iterations between held-out evaluations: --eval-every-steps in whole iterations (at least 1)."""
    return max(1, round(settings.eval_every_steps / batch_size))


def checkpointer(out: str, g: int) -> Checkpointer:
    """Group g's checkpoints. Two are kept: progress.json is written after each save, so the one it
    points to must survive the next save until then."""
    return Checkpointer(os.path.join(out, "checkpoints", f"group{g}"), max_to_keep=2)


def describe(ctx: Context, g: int) -> str:
    """'group 2/4: update_epochs=4, unroll_length=32 (8 runs)': what the group's runs share."""
    group = ctx.plan.groups[g]
    configs = [ctx.plan.configs[r.index] for r in group.runs]
    shared = {k: v for k, v in configs[0].items() if all(c.get(k) == v for c in configs)}
    label = ", ".join(f"{k}={v}" for k, v in shared.items()) or "all swept values are data"
    return f"group {g + 1}/{len(ctx.plan.groups)}: {label} ({len(group.runs)} runs)"


def _final_evaluation(ctx: Context, program: GroupProgram, state: object, hyper: object, rows: list[int],
                      active: list[int]) -> None:
    """The --final-episodes held-out evaluation of the runs at `rows` of the stacked state."""
    if not rows:
        return
    sub_state, sub_hyper = select(state, rows), select(hyper, rows)
    results = program.evaluate_episodes(sub_state, sub_hyper, ctx.settings.final_episodes, ctx.settings.eval_seed)
    for i, row in enumerate(rows):
        run = ctx.progress.runs[active[row]]
        successes = int(np.sum(results.success[i]))
        run.final = {"successes": successes, "episodes": ctx.settings.final_episodes,
                     "success_rate": successes / ctx.settings.final_episodes, "clock_s": run.clock_s,
                     "env_steps": run.env_steps}


def train_group(ctx: Context, g: int, program: GroupProgram) -> bool:
    """Trains group `g` to its end (every run trained to --total-steps or stopped early). Returns False
    when this invocation must stop first (Ctrl-C or --stop-after), after a checkpoint."""
    settings, plan, gp = ctx.settings, ctx.plan, ctx.progress.groups[g]
    group = plan.groups[g]
    per_iteration = program.steps_per_iteration
    every = eval_every(settings, per_iteration)
    total = total_iterations(group.config, program.algo)
    ckpt = checkpointer(ctx.out, g)
    if gp.active is None:
        gp.active = [plan.runs.index(r) for r in group.runs]
    runs = [plan.runs[k] for k in gp.active]
    state, hyper = program.init(runs), program.hyper(runs)
    if gp.iteration > 0:
        state = ckpt.restore(state, gp.iteration)
        print(f"{describe(ctx, g)}: resumed at iteration {gp.iteration}/{total}")
    else:
        print(f"{describe(ctx, g)}: {total} iterations of {per_iteration:,} steps per run, "
              f"held-out evaluation every {every}")
    step = None
    while gp.iteration < total and gp.active:
        if ctx.must_stop():
            _save(ctx, g, ckpt, state)
            return False
        if step is None:  # a new program (or a smaller one after early stops): compiled off the clock
            step, seconds = program.compile_step(state, hyper)
            gp.compiles += 1
            gp.compile_s += seconds
        start = time.perf_counter()
        state, _ = step(state, hyper)
        jax.block_until_ready(state)
        seconds = time.perf_counter() - start
        gp.train_s += seconds
        gp.iteration += 1
        if ctx.iterations_left is not None:
            ctx.iterations_left -= 1
        for k in gp.active:
            ctx.progress.runs[k].clock_s += seconds / len(gp.active)
            ctx.progress.runs[k].env_steps += per_iteration
        if gp.iteration % every == 0 or gp.iteration == total:
            state, hyper, smaller = _evaluate(ctx, g, program, state, hyper, total)
            step = None if smaller else step
            _save(ctx, g, ckpt, state)
    gp.done = True
    ctx.progress.save(ctx.out)
    return True


def _evaluate(ctx: Context, g: int, program: GroupProgram, state: object, hyper: object,
              total: int) -> tuple[object, object, bool]:
    """The periodic held-out evaluation; final evaluations and removal of runs that end here.
    Returns (state, hyper, whether runs left them: the step must be compiled for the smaller batch)."""
    settings, plan, gp = ctx.settings, ctx.plan, ctx.progress.groups[g]
    start = time.perf_counter()
    success = program.evaluate(state, hyper, settings.eval_episodes, settings.eval_seed)
    for k, rate in zip(gp.active, success):
        run = ctx.progress.runs[k]
        run.curve.append((run.clock_s, run.env_steps, float(rate)))
    ending = list(range(len(gp.active))) if gp.iteration == total else []
    stopped = []
    if settings.stop_early and not ending:
        stopped = outcome.can_stop(plan, ctx.progress, gp.active, settings.target, settings.hold)
        ending = [row for row, k in enumerate(gp.active) if plan.runs[k].index in stopped]
    leader = outcome.best(plan, ctx.progress, settings.target, settings.hold)
    for row in ending:
        run = ctx.progress.runs[gp.active[row]]
        run.stopped = "budget" if gp.iteration == total else (
            f"early: trained {run.clock_s:.0f} s, past the best held time to target ({leader[1]:.0f} s)")
    _final_evaluation(ctx, program, state, hyper, ending, gp.active)
    gp.eval_s += time.perf_counter() - start
    best_text = "none yet" if leader is None else f"config {leader[0]} at {leader[1]:.0f} s"
    rates = " ".join(f"{r:.2f}" for r in success)
    print(f"  group {g + 1} it {gp.iteration}/{total}: held-out success [{rates}]; best held "
          f"{settings.target:.0%}: {best_text}" + (f"; stopping config(s) {stopped}" if stopped else ""))
    if ending and gp.iteration < total:
        keep = [row for row in range(len(gp.active)) if row not in ending]
        gp.active = [gp.active[row] for row in keep]
        if keep:
            return select(state, keep), select(hyper, keep), True
    return state, hyper, False


def _save(ctx: Context, g: int, ckpt: Checkpointer, state: object) -> None:
    """Checkpoint of the group's state at its iteration, then the progress that points to it."""
    iteration = ctx.progress.groups[g].iteration
    if ctx.progress.groups[g].active and ckpt.latest_step() != iteration:  # saved after its evaluation already
        ckpt.save(iteration, state)
    ctx.progress.save(ctx.out)
