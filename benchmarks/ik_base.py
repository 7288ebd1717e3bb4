"""Success rate of the IK push base alone on the paper task, with DR on (or off).

    python -m benchmarks.ik_base --episodes 256

Runs `--episodes` envs in parallel for one full episode each and counts those whose sheet ended
with all four corners inside the square. Prints the rate with a 95 % Wilson interval.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import json
import time
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from benchmarks.common import machine, machine_line
from mjx_gr00t.bases.ik import IKPushBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_square import PaperDRConfig, PaperSquareConfig
from mjx_gr00t.evaluation import wilson


@dataclasses.dataclass(frozen=True)
class Args:
    """Measure the IK base's success rate on held-out seeds."""

    episodes: int = 256
    """Episodes (run as parallel envs, one episode each)."""
    seed: int = 12345
    """Seed of the episodes' initial states and DR draws."""
    dr: Literal["on", "off"] = "on"
    """Domain randomisation."""
    engine: str = "auto"
    """Physics engine."""
    json: str | None = None
    """Also write the result to this JSON file."""


def main(args: Args) -> dict:
    if args.episodes < 1:
        raise SystemExit(f"--episodes must be >= 1, got {args.episodes}")
    dr = PaperDRConfig() if args.dr == "on" else PaperDRConfig.off()
    config = PaperSquareConfig(num_envs=args.episodes, engine=args.engine, dr=dr)
    env = registry.make("paper_square", config)
    base = IKPushBase(env.task)

    @jax.jit
    def episode(key):
        state = jax.vmap(env.reset)(jax.random.split(key, args.episodes))

        def body(carry, _):
            s, finished, solved = carry
            nxt = jax.vmap(env.step)(s, jax.vmap(base)(s))
            solved = solved | ((nxt.success > 0) & ~finished)
            finished = finished | (nxt.done > 0)
            return (nxt, finished, solved), None

        zeros = jnp.zeros(args.episodes, bool)
        (_, _, solved), _ = jax.lax.scan(body, (state, zeros, zeros), None, length=config.episode_length)
        return solved

    start = time.perf_counter()
    solved = np.asarray(episode(jax.random.PRNGKey(args.seed)))
    wall = time.perf_counter() - start
    k, n = int(solved.sum()), args.episodes
    low, high = wilson(k, n)
    result = {
        "base": "ik", "dr": args.dr, "episodes": n, "successes": k, "success_rate": k / n,
        "success_ci95": [low, high], "seed": args.seed, "wall_s": wall,
        "machine": machine_line(machine()),
    }
    print(f"IK base, DR {args.dr}: success {k}/{n} = {k / n:.1%} (95% CI {low:.1%}..{high:.1%}), "
          f"{wall:.1f} s incl. compile")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main(tyro.cli(Args))
