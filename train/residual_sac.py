"""Residual SAC (with hindsight relabelling on goal-conditioned scenes) on top of a base policy.

    python -m train.residual_sac                                  # fetch_push, zero base, SAC + HER
    python -m train.residual_sac --recipe fetch_pick_place/script/sac
    python -m train.residual_sac --scene paper_square --base ik --no-her
    python -m train.residual_sac --resume runs/<dir>                # continue exactly
    python -m train.residual_sac --resume runs/<dir> --total-steps 2000000   # train a run further

Measured (2-core AMD EPYC, no GPU, DR on, 256 held-out episodes; where other jobs shared the CPU
the times are upper bounds; benchmarks/results/residual_sac_fetch_cpu2.json): the defaults (recipe
fetch_push/zero/sac, 640k env steps) reach 98.0 % success in 33.4 min (shared); recipe
fetch_pick_place/script/sac (the scripted base, 98.0 % alone, and a residual) 99.2 % in 6.4 min
(alone); recipe fetch_pick_place/zero/sac (from scratch) 100.0 % (98.5..100) in 132 min, 75.8 % at
1.5M steps.

The runner is mjx_gr00t.runner with the algorithm fixed to SAC: the same outputs as
`train.residual_ppo`, and orbax checkpoints that hold the replay buffer, so resume is exact. Each
iteration (`--steps-per-iteration` steps on every env + `--utd-ratio` updates per env step) is one
jitted call. The replay buffer has an explicit `--buffer-capacity`; its memory is printed at start-up
and refused if the machine does not have it. With HER and the scripted base, which reads the goal,
relabelled transitions get the base action recomputed for their hindsight goal.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

from typing import Any

from bridge.groot import planner
from mjx_gr00t.runner import cli


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """`python -m train.residual_sac`: the runner with the algorithm fixed to SAC; returns the summary."""
    return cli.main("sac", argv, groot=planner, description=__doc__)


if __name__ == "__main__":
    main()
