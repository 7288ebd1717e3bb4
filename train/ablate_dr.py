"""Domain-randomisation ablation: which DR factors make a residual robust, measured on one wider,
held-out distribution.

    python -m train.ablate_dr                                 # 7 arms x 2 seeds, paper task; <= 30 min on 2 cores
    python -m train.ablate_dr --arms none all --seeds 0 1 2   # a subset
    python -m train.ablate_dr --eval-width 2 --out runs/abl   # a harder test distribution

Arms: 'none' (every factor at its nominal value), each factor alone (its name), 'all' (the
scene's default DR). Every arm x seed trains a residual PPO (the train.residual_ppo recipe) as
ONE program: the grid's cells are `jax.vmap`ped through one jitted PPO step, so the physics of
all cells is stepped as one batch; with several devices the cells are split among them
(`jax.sharding`, see mjx_gr00t/ablate/grid.py). An arm is only other DR ranges, which are data
in the env state, so adding arms never adds a compile. The library is mjx_gr00t/ablate/; this
module is its command line.

Then every cell's deterministic policy runs on the same held-out distribution: every factor on,
each range `--eval-width` times as wide as the default about its nominal value, on initial
states no training run saw. Outputs in --out: results.csv and results.md (success rate, 95 %
Wilson intervals, pooled over seeds and per seed; the base alone as a reference row),
success.png (bars with CI error bars), metrics.jsonl (per iteration: grid means and each cell's
rollout success and return), summary.json (timings, machine, flags), run.json.

Why the defaults fit 30 minutes on a 2-core CPU: the full residual PPO (256 envs, 3M steps)
trains at about 4,700 env-steps/s there, so the whole grid can share about 6M env steps: 7 arms x
2 seeds = 14 runs of 64 envs (896 envs stepped together) x 400k steps = 5.6M steps. Two seeds is
the fewest that shows seed spread. Measured with the defaults (`python -m train.ablate_dr`, AMD
EPYC, 2 cores, quiet): 19.6 min in all (compile 30 s, training 17.5 min at 5,334 env-steps/s,
evaluation of 16 policies x 256 episodes 93 s). 400k steps tell arms apart: at --eval-width 1.5,
'none' 33.6 % (29.6..37.8), 'paper_xy' 57.4 % (53.1..61.6), 'all' 52.1 % (47.8..56.4), the IK base
alone 29.7 % (benchmarks/results/ablate_dr_paper_square_cpu2/).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import sys
from typing import Any

from mjx_gr00t.ablate.run import run
from mjx_gr00t.ablate.settings import AblationSettings


def parse(argv: list[str] | None = None) -> AblationSettings:
    """The typed CLI (tyro): one flag per `AblationSettings` field, explained by -h."""
    from mjx_gr00t import cli_args

    return cli_args.cli(AblationSettings, args=list(sys.argv[1:] if argv is None else argv))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m train.ablate_dr`; returns the summary record."""
    return run(parse(argv))


if __name__ == "__main__":
    main()
