"""Residual PPO: learn a correction on top of a base policy.

    python -m train.residual_ppo                         # the paper rig's twin, IK base, DR on; ~10 min on 2 cores
    python -m train.residual_ppo --base zero --out runs/plain_rl
    python -m train.residual_ppo --resume runs/plain_rl   # continue exactly where it stopped
    python -m train.residual_ppo --recipe list            # the named recipes behind the README's results

Measured with the defaults (recipe paper_square/ik/ppo: the real rig's twin, robot observations,
DR on; 2-core AMD EPYC, no GPU, 256 held-out episodes): the IK drag base alone succeeds in 87.5 %,
IK base + residual in 97.7 % (95 % CI 95.0..98.9), after 2M env steps in 8.7 min of training
(benchmarks/results/residual_ppo_paper_square_twin_cpu2.json). The recipe's settings are the winner of
`python -m train.sweep` (benchmarks/results/sweep_ppo_paper_square_cpu2/).

The runner is mjx_gr00t.runner with the algorithm fixed to PPO: each iteration (rollout of
`--unroll-length` steps on `--num-envs` envs + PPO update) is one jitted call. Progress goes to a bar,
DIR/metrics.jsonl and wandb (offline by default); checkpoints to DIR/checkpoints every
`--checkpoint-every` iterations, at the end, and on Ctrl-C. At the end the base alone and base +
residual are evaluated on held-out seeds (DIR/summary.json), the residual is exported (DIR/export/)
and the learning curve is drawn (DIR/learning_curve.png).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

from typing import Any

from bridge.groot import planner
from mjx_gr00t.runner import cli


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """`python -m train.residual_ppo`: the runner with the algorithm fixed to PPO; returns the summary."""
    return cli.main("ppo", argv, groot=planner, description=__doc__)


if __name__ == "__main__":
    main()
