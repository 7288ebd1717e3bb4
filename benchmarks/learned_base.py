"""The learned-base chain, timed on this machine: collect sim demonstrations, behaviour-clone the tiny
GR00T-contract model on them, then train a residual PPO on top of it in `robot` observation mode.

    python -m benchmarks.learned_base --out /tmp/chain --json benchmarks/results/learned_base_paper_square_cpu2.json

Each stage is the user's own command, run as a subprocess one after another:
1. `python -m train.collect --out OUT/data --episodes E` (the IK drag base, DR on, successes only);
2. `python -m bridge.finetune_tiny --dataset OUT/data --out OUT/ckpt --steps S`;
3. `python -m train.residual_ppo --base groot --groot.model OUT/ckpt --out OUT/run ...`, whose first
   held-out evaluation is the learned base alone (the residual starts at exactly zero) and whose
   last is base + residual, on the same episodes.
The record keeps each stage's wall time, the two success rates with 95 % intervals, whether the
issue's targets hold (at least +30 points, at least 80 %, at most 60 minutes), and where the
residual run's time went (renders per second of the chunk planner, from its metrics). A stage whose
output is already there is not re-run and is marked `reused` (its time is then not this run's).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import write_record
from mjx_gr00t import cli_args
from mjx_gr00t.machine import machine, machine_line

TARGET_POINTS, TARGET_SUCCESS, TARGET_MINUTES = 30.0, 0.80, 60.0


@dataclasses.dataclass(frozen=True)
class Args:
    """Collect -> behaviour cloning -> residual PPO on the learned base, timed."""

    out: str
    """Working directory: OUT/data (the dataset), OUT/ckpt (the learned base), OUT/run (the residual run)."""
    episodes: int = 64
    """Demonstrations to collect."""
    bc_steps: int = 3000
    """Behaviour-cloning optimiser steps."""
    ppo_steps: int = 300_000
    """Residual PPO env steps."""
    num_envs: int = 64
    """Parallel envs of the residual run."""
    n_action_steps: int = 16
    """Steps of each 16-step chunk executed before the learned base plans again."""
    eval_episodes: int = 128
    """Held-out episodes of the base-alone and base + residual evaluations."""
    seed: int = 0
    """Seed of the collection, the cloning and the residual run."""
    json: str | None = None
    """Also write the record to this JSON file."""


def _stage(name: str, command: list[str], done: bool, log: str) -> dict[str, Any]:
    """Runs `command` (unless `done`), its output to `log`; {command, wall_s, reused}."""
    shown = " ".join(command)
    if done:
        print(f"[{name}] reusing what is there ({shown})", flush=True)
        return {"command": shown, "wall_s": None, "reused": True}
    print(f"[{name}] {shown}", flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        code = subprocess.call([sys.executable, "-m", *command], stdout=f, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    if code:
        raise SystemExit(f"[{name}] failed with exit code {code}; see {log}")
    print(f"[{name}] {wall / 60:.1f} min", flush=True)
    return {"command": shown, "wall_s": wall, "reused": False}


def _planner_time(metrics_path: str, wall_s: float | None) -> dict[str, Any]:
    """Renders per second and the planner's share of the residual run's training wall time, from its
    metrics.jsonl (per iteration: groot/render_time and groot/inference_time are seconds per query,
    groot/queries and groot/planned_envs counts)."""
    rows = [json.loads(line) for line in open(metrics_path)] if os.path.isfile(metrics_path) else []

    def total(per_query: str) -> float:
        return sum((r.get(per_query) or 0.0) * (r.get("groot/queries") or 0.0) for r in rows
                   if r.get(per_query) == r.get(per_query))  # NaN: no query that iteration

    render, model = total("groot/render_time"), total("groot/inference_time")
    planned = sum(r.get("groot/planned_envs") or 0.0 for r in rows)
    return {"planned_envs": planned, "queries": sum(r.get("groot/queries") or 0.0 for r in rows),
            "render_s": render, "model_s": model, "renders_per_s": planned / render if render else None,
            "render_share": render / wall_s if wall_s else None, "model_share": model / wall_s if wall_s else None,
            "note": "planned_envs: env chunks planned, each rendering the front and wrist cameras (320 x 240, no "
                    "multisampling, resized to 224); render_s / model_s: the planner's host time summed over the "
                    "training iterations; shares are of the training wall time (the held-out evaluations not "
                    "included)"}


def main(args: Args) -> dict[str, Any]:
    for name in ("episodes", "bc_steps", "ppo_steps", "num_envs", "n_action_steps", "eval_episodes"):
        if getattr(args, name) < 1:
            raise SystemExit(f"python -m benchmarks.learned_base: error: --{name.replace('_', '-')} must be >= 1, "
                             f"got {getattr(args, name)}")
    os.makedirs(args.out, exist_ok=True)
    data, ckpt, run = (os.path.join(args.out, d) for d in ("data", "ckpt", "run"))
    stages = {}
    collected = os.path.isfile(os.path.join(data, "meta", "info.json"))  # train.collect continues or returns
    stages["collect"] = _stage("collect", ["train.collect", "--out", data, "--episodes", str(args.episodes),
                                           "--seed", str(args.seed)], False, os.path.join(args.out, "collect.log"))
    stages["collect"]["resumed_existing"] = collected
    stages["finetune"] = _stage("finetune", ["bridge.finetune_tiny", "--dataset", data, "--out", ckpt, "--steps",
                                             str(args.bc_steps), "--seed", str(args.seed)],
                                os.path.isfile(os.path.join(ckpt, "config.json")), os.path.join(args.out, "finetune.log"))
    ppo = ["train.residual_ppo", "--base", "groot", "--groot.model", ckpt, "--out", run, "--num-envs",
           str(args.num_envs), "--total-steps", str(args.ppo_steps), "--groot.n-action-steps", str(args.n_action_steps),
           "--eval-episodes", str(args.eval_episodes), "--seed", str(args.seed)]
    stages["residual_ppo"] = _stage("residual_ppo", ppo, os.path.isfile(os.path.join(run, "summary.json")),
                                    os.path.join(args.out, "residual_ppo.log"))
    with open(os.path.join(run, "summary.json")) as f:
        summary = json.load(f)
    base, residual = summary["base"], summary["residual"]
    fresh = [s["wall_s"] for s in stages.values() if not s["reused"]]
    total_min = sum(fresh) / 60 if len(fresh) == len(stages) else None
    points = 100 * (residual["success_rate"] - base["success_rate"])
    record = {
        "what": "the learned-base chain: collect (IK base, DR on) -> behaviour cloning of the tiny GR00T-contract "
                "model -> residual PPO on top in robot observation mode, each the user's command",
        "args": dataclasses.asdict(args), "stages": stages,
        "learned_base_alone": base, "base_plus_residual": residual, "points_added": points,
        "targets": {"points": TARGET_POINTS, "success": TARGET_SUCCESS, "minutes": TARGET_MINUTES,
                    "met_points": points >= TARGET_POINTS, "met_success": residual["success_rate"] >= TARGET_SUCCESS,
                    "total_min": total_min, "met_minutes": None if total_min is None else total_min <= TARGET_MINUTES},
        "residual_run": {k: summary.get(k) for k in ("wall_time_s", "env_steps", "env_steps_per_s")},
        "planner": _planner_time(os.path.join(run, "metrics.jsonl"), summary.get("wall_time_s")),
        "machine": machine_line(machine()),
    }
    print(f"learned base alone {100 * base['success_rate']:.1f} %, + residual {100 * residual['success_rate']:.1f} % "
          f"({points:+.1f} points); chain {'n/a' if total_min is None else f'{total_min:.1f} min'}")
    write_record(args.json, record)
    return record


if __name__ == "__main__":
    main(cli_args.cli(Args))
