"""One sweep from its settings: plan the runs, check memory, train every group as one vmapped program,
time each configuration to the held target, write the results and the winner.

    summary = run(SweepSettings(grid=("learning_rate=3e-4,1e-3",), total_steps=500_000))

Outputs in the settings' `out`: results.csv, results.md, success.png (see `report`), summary.json
(the winner as flat settings and a command, compiles, timings, the machine), progress.json and
checkpoints/ (what --resume continues from), run.json (the settings).
"""

import dataclasses
import os
import time
from typing import Any

from mjx_gr00t.errors import UsageError
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.runner import run_dir
from mjx_gr00t.runner.config import as_json
from mjx_gr00t.runner.loop import ctrl_c_requests
from mjx_gr00t.sweep import outcome, report
from mjx_gr00t.sweep.plan import Plan, check_memory, make_plan, parse_value
from mjx_gr00t.sweep.program import build_program
from mjx_gr00t.sweep.progress import Progress
from mjx_gr00t.sweep.settings import DEFAULT_GRIDS, SweepSettings, validate
from mjx_gr00t.sweep.train import Context, train_group

ALGO: str = "sweep"


def saved_settings(out: str) -> SweepSettings:
    """The settings of the sweep in `out` (its run.json), for --resume."""
    record = run_dir.read_run(out)
    if record.get("algo") != ALGO:
        raise UsageError(f"{out!r} holds a {record.get('algo')} run, not a sweep")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in record["config"].items()}
    known = {f.name for f in dataclasses.fields(SweepSettings)}
    return SweepSettings(**{k: v for k, v in values.items() if k in known})


def prepare(settings: SweepSettings, plan: Plan) -> str:
    """The output directory: a fresh one with run.json, or the resumed one."""
    if settings.resume:
        return settings.resume
    scene = plan.groups[0].config.scene.scene
    out = settings.out or os.path.join("runs", f"{ALGO}-{settings.algo}-{scene}-{time.strftime('%Y%m%d-%H%M%S')}")
    saved = as_json(dataclasses.replace(settings, out=out, resume=None, stop_after=None))
    run_dir.prepare_out(out, ALGO, saved, resume=False, overwrite=settings.overwrite)
    return out


def run(settings: SweepSettings) -> dict[str, Any]:
    """Runs (or resumes) the sweep; returns the summary record ({} when it stopped before the end)."""
    if settings.resume:
        settings = dataclasses.replace(saved_settings(settings.resume), resume=settings.resume,
                                       stop_after=settings.stop_after)
    if settings.grid is None:  # the algorithm's default grid, written out in run.json
        settings = dataclasses.replace(settings, grid=DEFAULT_GRIDS[settings.algo])
    validate(settings)
    start = time.perf_counter()
    plan = make_plan(settings)
    programs = [build_program(group) for group in plan.groups]
    shrink = "num_envs or unroll_length" if settings.algo == "ppo" else "buffer_capacity (each run's replay) or num_envs"
    check_memory([(len(g.runs), p.bytes_per_run()) for g, p in zip(plan.groups, programs)], shrink=shrink)
    out = prepare(settings, plan)
    progress = Progress.load(out, plan) if settings.resume else Progress.new(plan)
    swept = ", ".join(name for name, _ in settings.grid_items())
    print(f"sweep of {settings.algo} over {swept}: {len(plan.configs)} configurations x {len(settings.seeds)} "
          f"seeds = {len(plan.runs)} runs in {len(plan.groups)} programs (at least {len(plan.groups)} compiles; "
          f"each early stop recompiles its program smaller); target {settings.target:.0%} held for "
          f"{settings.hold} evaluations; out {out}")
    ctx = Context(settings, plan, progress, out, iterations_left=settings.stop_after)
    with ctrl_c_requests() as ctrl_c:
        ctx.ctrl_c = ctrl_c
        for g, program in enumerate(programs):
            if not progress.groups[g].done and not train_group(ctx, g, program):
                why = "Ctrl-C" if ctrl_c.is_set() else "--stop-after"
                print(f"stopped by {why} with a checkpoint; continue with: python -m train.sweep --resume {out}")
                return {}
    return finish(settings, plan, progress, out, time.perf_counter() - start)


def _flag(name: str, value: Any) -> str:
    """One CLI flag of the trainers: --name value, --name v1 v2 for a tuple, --name / --no-name for a bool."""
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} " + (" ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value))


def winner_command(settings: SweepSettings, values: dict[str, Any]) -> str:
    """The command that trains a configuration alone as the sweep did: its recipe, --fixed settings, run
    length and swept values."""
    fixed = {name: parse_value(text) for name, text in settings.fixed_items()}
    flags = [*([f"--recipe {settings.recipe}"] if settings.recipe else []),
             *(_flag(k, v) for k, v in {**fixed, "total_steps": settings.total_steps, **values}.items())]
    return f"python -m train.residual_{settings.algo} {' '.join(flags)}"


def winner_settings(plan: Plan, index: int) -> dict[str, Any]:
    """The flat settings of configuration `index`: the swept values over the starting recipe."""
    return dict(plan.configs[index])


def finish(settings: SweepSettings, plan: Plan, progress: Progress, out: str, wall_s: float) -> dict[str, Any]:
    """Writes the results and summary.json; prints the table; returns the summary."""
    rows = report.table(plan, progress, settings)
    scene = plan.groups[0].config.scene
    title = (f"Sweep of {settings.algo} on {scene.scene} (base {scene.base}): time to a held "
             f"{settings.target:.0%} held-out success")
    paths = report.write_all(out, rows, plan, progress, settings, title)
    print(report.markdown(rows, list(plan.configs[0]), title, []))
    leader = outcome.best(plan, progress, settings.target, settings.hold)
    recipe = settings.recipe or f"the default recipe of train.residual_{settings.algo}"
    winner = None
    if leader is not None:
        values = winner_settings(plan, leader[0])
        winner = {"config": leader[0], "settings": values, "time_to_target_s": leader[1], "over": recipe,
                  "command": winner_command(settings, values)}
        print(f"winner: config {leader[0]} {values}, held {settings.target:.0%} from {leader[1]:.0f} s; "
              f"train it alone with: {winner['command']}")
    else:
        print(f"no configuration held {settings.target:.0%} for {settings.hold} evaluations")
    groups = progress.groups
    summary = {
        "settings": as_json(settings), "configurations": len(plan.configs), "runs": len(plan.runs),
        "programs": len(plan.groups), "compiles": sum(g.compiles for g in groups),
        "compile_s": sum(g.compile_s for g in groups), "train_s": sum(g.train_s for g in groups),
        "eval_s": sum(g.eval_s for g in groups), "wall_s_this_invocation": wall_s,
        "winner": winner, "results": rows, "files": paths, "machine": machine_line(machine()),
        "notes": report.notes(settings),
    }
    write_json_atomic(os.path.join(out, "summary.json"), summary)
    print(f"wrote {', '.join(paths.values())} and {out}/summary.json; {summary['compiles']} compiles "
          f"({summary['compile_s']:.0f} s)")
    return summary
