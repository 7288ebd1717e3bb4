"""The deployed loop on the `sim` stand-in against `train.evaluate` of the same run, side by side.

    python -m benchmarks.deploy_sim --run runs/x --episodes 64 --json benchmarks/results/deploy_sim_cpu2.json

Runs, on one machine, one after another:
1. what `train.evaluate` runs on the run (its env, batched, held-out seed): base + residual success;
2. `train.deploy --robot sim --perception model` on the run's export (command latency drawn by DR as
   in training, no base latency): the deployed loop, tick by tick, through the robot's units;
3. the same with the command latency fixed at 0, 33 and 66 ms;
4. with the top camera and the estimator (`--perception camera`) and 50 ms of base latency, on
   `--camera-episodes` episodes (rendering makes a tick about 0.1 s here);
5. and the two apart: the camera without base latency (`--camera-episodes`), and 50 ms of base
   latency with the noise-model perception (`--episodes`).
Records success with 95 % Wilson intervals, tick times (median, p99) and faults, the machine named.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import os
import time
from typing import Any

from mjx_gr00t import cli_args

from benchmarks.common import machine_tag, write_record
from bridge import deploy_side
from bridge.groot import planner
from mjx_gr00t.deploy import cli
from mjx_gr00t.deploy.loop import within
from mjx_gr00t.errors import UsageError
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.runner.finish import evaluate_policies
from mjx_gr00t.runner.trained import load_trained


@dataclasses.dataclass(frozen=True)
class Args:
    """Deployed loop on the stand-in vs train.evaluate, latency sweep, camera in the loop."""

    run: str
    """A training run directory (paper_square, robot observations) with its export (RUN/export)."""
    episodes: int = 64
    """Episodes of the evaluation, of the deployed loop and of each latency."""
    camera_episodes: int = 16
    """Episodes with the camera estimator and 50 ms of base latency (0: skip)."""
    seed: int = 1_000_000
    """Held-out seed (train.evaluate's default)."""
    json: str | None = None
    """Also write the record to this JSON file."""


def _deploy(args: Args, **kw: Any) -> dict[str, Any]:
    record = cli.deploy(cli.Args(export=os.path.join(args.run, "export"), seed=args.seed, **kw), deploy_side)
    keep = ("success_rate", "success_ci95", "episodes", "faults", "tick_ms", "mean_steps", "wall_s")
    return {k: record[k] for k in keep if k in record}


def main(args: Args) -> dict[str, Any]:
    if not os.path.isdir(os.path.join(args.run, "export")):
        raise UsageError(f"--run {args.run!r} has no export/ (python -m train.export --run {args.run})")
    t0 = time.perf_counter()
    trained = load_trained(args.run, groot=planner)  # what train.evaluate runs
    reference = evaluate_policies(trained.env, trained.policy_fn, trained.params, trained.config.residual.alpha,
                                  args.episodes, args.seed)["residual"]
    deployed = _deploy(args, episodes=args.episodes, perception="model")
    latency = {str(ms): _deploy(args, episodes=args.episodes, perception="model", command_latency_ms=ms)
               for ms in (0, 33.3, 66.7)}
    camera = (_deploy(args, episodes=args.camera_episodes, perception="camera", base_latency_ms=50.0)
              if args.camera_episodes else None)
    camera_alone = _deploy(args, episodes=args.camera_episodes, perception="camera") if args.camera_episodes else None
    base_late = _deploy(args, episodes=args.episodes, perception="model", base_latency_ms=50.0)
    info = machine()
    record = {
        "command": f"python -m benchmarks.deploy_sim --run {args.run} --episodes {args.episodes} "
                   f"--camera-episodes {args.camera_episodes} --seed {args.seed}",
        "evaluate": {k: reference[k] for k in ("episodes", "success_rate", "success_ci95")},
        "deploy_model_perception": deployed,
        "deploy_within_evaluate_ci95": within(deployed["success_rate"], tuple(reference["success_ci95"])),
        "deploy_command_latency_ms": latency,
        "deploy_camera_base_latency_50ms": camera,
        "deploy_camera_no_base_latency": camera_alone,
        "deploy_model_base_latency_50ms": base_late,
        "wall_s": time.perf_counter() - t0,
        "machine": machine_line(info), "machine_tag": machine_tag(), "machine_info": info,
    }
    print(f"evaluate {reference['success_rate']:.1%} {reference['success_ci95']}; deployed {deployed['success_rate']:.1%} "
          f"{deployed['success_ci95']}; latency " + ", ".join(f"{k} ms {v['success_rate']:.1%}" for k, v in latency.items())
          + (f"; camera + 50 ms base latency {camera['success_rate']:.1%}, camera alone "
             f"{camera_alone['success_rate']:.1%}" if camera else "")
          + f"; 50 ms base latency alone {base_late['success_rate']:.1%}")
    write_record(args.json, record)
    return record


if __name__ == "__main__":
    main(cli_args.cli(Args))
