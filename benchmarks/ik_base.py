"""Success rate of a base policy alone (by default the IK base on the paper task), with DR on (or off).

    python -m benchmarks.ik_base --episodes 256 --json benchmarks/results/ik_base_paper_square_cpu2.json
    python -m benchmarks.ik_base --scene so101_pick_place --base script --json benchmarks/results/script_base_so101_pick_place_cpu2.json

Runs exactly the "base alone" row of `train.evaluate` and of a `train.residual_ppo` run's summary:
the runner's residual env (`mjx_gr00t.runner.build.build_env`) with a zero residual, one
episode in each of `--episodes` parallel envs, initial states drawn from `--seed` (by default the
trainers' held-out seed), scored by `mjx_gr00t.evaluation`. Prints the success rate with a 95 %
Wilson interval; `--json` also writes the record, with the machine named.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import os
import time
from typing import Any, Literal

import jax.numpy as jnp
from mjx_gr00t import cli_args

from benchmarks.common import machine_tag, write_record
from benchmarks.runs import runner_config
from mjx_gr00t.envs import registry
from mjx_gr00t.errors import UsageError
from mjx_gr00t.evaluation import run_episodes, summarise
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.runner.build import build_env

HELD_OUT_SEED: int = 1_000_000  # train.evaluate's and the trainers' --eval-seed default (RunSettings.eval_seed)


@dataclasses.dataclass(frozen=True)
class Args:
    """Measure a base's success rate on held-out episodes."""

    scene: str = "paper_square"
    """Registered scene."""
    base: str = "ik"
    """A base the scene lists (registry.bases)."""

    episodes: int = 256
    """Episodes (run as parallel envs, one episode each)."""
    seed: int = HELD_OUT_SEED
    """Seed of the episodes' initial states and DR draws (the trainers' held-out seed by default)."""
    dr: Literal["on", "off"] = "on"
    """Domain randomisation."""
    engine: str = "auto"
    """Physics engine: auto, c, mjx or warp."""
    json: str | None = None
    """Also write the record to this JSON file (its directory must exist)."""


def validate(args: Args) -> None:
    """Raises UsageError (one line saying what to fix) for a bad flag."""
    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if args.scene not in registry.scenes():
        raise UsageError(f"--scene {args.scene!r} is not registered; scenes: {', '.join(registry.scenes())}")
    if args.base not in registry.bases(args.scene):
        raise UsageError(f"--base {args.base!r} does not suit {args.scene}; it has {', '.join(registry.bases(args.scene))}")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        raise UsageError(f"--json {args.json!r}: its directory does not exist")


def main(args: Args) -> dict[str, Any]:
    """Runs the episodes; returns the record (also printed, and written to --json)."""
    validate(args)
    env = build_env(runner_config("ppo", scene=args.scene, base=args.base, engine=args.engine,
                                  num_envs=args.episodes, dr=args.dr == "on", residual_penalty=0.0))
    zero = jnp.zeros((args.episodes, env.action_size), jnp.float32)
    start = time.perf_counter()
    summary = summarise(run_episodes(env, lambda params, state, key: zero, None, args.episodes, args.seed))
    wall = time.perf_counter() - start
    n = summary["episodes"]
    k = round(summary["success_rate"] * n)
    low, high = summary["success_ci95"]
    info = machine()
    record = {
        "command": f"python -m benchmarks.ik_base --scene {args.scene} --base {args.base} --episodes {n} "
                   f"--seed {args.seed} --dr {args.dr} --engine {args.engine}",
        "scene": args.scene, "base": args.base, "dr": args.dr, "engine": env.task.engine_name,
        "seed": args.seed, "successes": k, **summary,
        "wall_s_incl_compile": wall,
        "machine": machine_line(info), "machine_tag": machine_tag(), "machine_info": info,
    }
    print(f"{args.scene}, base {args.base} alone, DR {args.dr}: success {k}/{n} = {k / n:.1%} (95% CI {low:.1%}..{high:.1%}), "
          f"{wall:.1f} s incl. compile; {record['machine']}")
    write_record(args.json, record)
    return record


if __name__ == "__main__":
    main(cli_args.cli(Args))
