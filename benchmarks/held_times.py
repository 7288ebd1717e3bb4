"""Times to held targets of finished training runs, side by side, from their held-out evaluations.

    python -m benchmarks.held_times runs/a runs/b --targets 0.85 0.95 --json out.json

Each run must have been trained in one go with `--eval-every` (held-out success in its metrics.jsonl,
`eval/success_rate`, on the training clock `time/wall_s`). For every run and target it reports the
yardstick's readings (`mjx_gr00t.time_to_target`: held for --hold evaluations, held to the end, the
first crossing for reference), in seconds and in env steps, with the run's evaluation settings so that
runs scored differently are not compared unawares.
"""

import dataclasses
import os
from typing import Any

import tyro

from benchmarks.runs import flat_settings, read_config
from mjx_gr00t import cli_args
from mjx_gr00t.errors import UsageError
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.runner.metrics_log import METRICS_FILE, read_metrics
from mjx_gr00t.time_to_target import first_crossing, held_time


@dataclasses.dataclass(frozen=True)
class Args:
    """Times to held targets of finished `train.residual_*` runs trained with --eval-every."""

    runs: tyro.conf.Positional[tuple[str, ...]]
    """Run directories."""
    targets: tuple[float, ...] = (0.85, 0.95)
    """Held-out success targets."""
    hold: int = 3
    """Evaluations a target must hold for (the headline reading)."""
    json: str | None = None
    """Also write the record here."""


def curve_of(run: str) -> list[tuple[float, float, int]]:
    """[(training wall s, held-out success, env steps)] of run directory `run`; UsageError (one line)
    for a run without held-out evaluations."""
    path = os.path.join(run, METRICS_FILE)
    if not os.path.exists(path):
        raise UsageError(f"{run!r} has no {METRICS_FILE}; pass a finished train.residual_* run directory")
    rows = [r for r in read_metrics(path) if "eval/success_rate" in r]
    if not rows:
        raise UsageError(f"{run!r} has no held-out evaluations; train it with --eval-every N")
    return [(float(r["time/wall_s"]), float(r["eval/success_rate"]), int(r["env_steps"])) for r in rows]


def readings(curve: list[tuple[float, float, int]], target: float, hold: int) -> dict[str, Any]:
    """The yardstick's readings of one curve at one target, in seconds and env steps."""
    by_time = [(t, s) for t, s, _ in curve]
    by_steps = [(n, s) for _, s, n in curve]
    return {
        f"held_{hold}_evals_s": held_time(by_time, target, hold=hold),
        f"held_{hold}_evals_env_steps": held_time(by_steps, target, hold=hold),
        "held_to_end_s": held_time(by_time, target),
        "first_crossing_s (not held; reference only)": first_crossing(by_time, target),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """`python -m benchmarks.held_times`: prints a table; returns (and with --json writes) the record."""
    args = cli_args.cli(Args, args=argv)
    runs = []
    for run in args.runs:
        _, config = read_config(run)
        settings = flat_settings(config)
        curve = curve_of(run)
        runs.append({
            "run": run, "eval_every": settings["eval_every"], "eval_every_episodes": settings["eval_every_episodes"],
            "eval_seed": settings["eval_seed"], "final_eval": curve[-1][1], "wall_s": curve[-1][0],
            "targets": {f"{t:.3f}": readings(curve, t, args.hold) for t in args.targets},
        })
    record = {"hold": args.hold, "runs": runs, "machine": machine_line(machine())}
    for t in args.targets:
        print(f"target {t:.1%} held for {args.hold} evaluations:")
        for r in runs:
            got = r["targets"][f"{t:.3f}"]
            secs, steps, end = (got[f"held_{args.hold}_evals_s"], got[f"held_{args.hold}_evals_env_steps"],
                                got["held_to_end_s"])
            print(f"  {r['run']}: " + ("never" if secs is None else f"{secs:.1f} s, {int(steps):,} env steps")
                  + " (held to the end: " + ("never" if end is None else f"{end:.1f} s") + ")")
    if args.json:
        write_json_atomic(args.json, record)
        print(f"wrote {args.json}")
    return record


if __name__ == "__main__":
    main()
