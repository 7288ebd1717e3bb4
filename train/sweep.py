"""Hyperparameter sweeps trained as one program, timed to a held target.

    python -m train.sweep                                        # the default grid on the paper twin
    python -m train.sweep --grid learning_rate=3e-4,1e-3 entropy_coef=0,0.01 --seeds 0 1
    python -m train.sweep --grid learning_rate=1e-4,3e-4,1e-3,3e-3 gamma=0.97,0.98,0.99 --sample 6
    python -m train.sweep --algo sac --fixed scene=paper_square base=ik her=False \
        --grid critic_learning_rate=3e-4,1e-3 init_alpha=0.01,0.001 utd_ratio=0.25,0.5
    python -m train.sweep --resume runs/sweep-ppo-paper_square-...   # continue an interrupted sweep

Every combination of the --grid values (or a --sample of them) x --seeds trains from the starting
recipe (default: the algorithm's default recipe). Values that are data in the algorithm's step share
one compiled program: the runs are `jax.vmap`ped through one jitted step, so their physics steps as
one batch. Data: PPO's learning rate, entropy, gamma, GAE lambda, clip and initial log std; SAC's and
fast_td3's learning rates, gamma, tau, reward scale (SAC: also its temperature's learning rate and
start; fast_td3: its exploration and target noise and action penalty); and the residual's alpha.
Flags that change shapes or loop lengths (epochs, minibatches, num_envs, unroll_length, updates per
iteration, batch size, widths) split the runs into one program per value, trained one after another;
the sweep says how many compiles that costs. Off-policy runs each keep their own replay buffer (in
memory and in every checkpoint): pass a smaller --fixed buffer_capacity for wide grids.

Each run is evaluated on the same held-out episodes every --eval-every-steps, and its time to
--target is the first evaluation from which its success holds for --hold evaluations
(mjx_gr00t/time_to_target.py), on its own clock: its share of its program's training time. With
--stop-early (default) a configuration stops once it has trained longer than the best held time so
far, since it can no longer be first. Outputs in --out: results.csv, results.md, success.png,
summary.json (with the winner and the command that trains it alone), progress.json and checkpoints/.
The library is mjx_gr00t/sweep/; this module is its command line.

The defaults are the sweep behind the paper twin's default recipe: learning rate x initial log std x
epochs, 8 configurations in 2 programs, 800k env steps per run, target 95 % held for 3 evaluations of
64 episodes. Measured on a 2-core AMD EPYC: 33 min in all (training 20 min, held-out evaluations 11 min,
4 compiles 53 s), benchmarks/results/sweep_ppo_paper_square_cpu2/.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import sys
from typing import Any

from mjx_gr00t.sweep.run import run
from mjx_gr00t.sweep.settings import SweepSettings


def parse(argv: list[str] | None = None) -> SweepSettings:
    """The typed CLI (tyro): one flag per `SweepSettings` field, explained by -h."""
    from mjx_gr00t import cli_args

    return cli_args.cli(SweepSettings, args=list(sys.argv[1:] if argv is None else argv))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m train.sweep`; returns the summary record ({} if it stopped early)."""
    return run(parse(argv))


if __name__ == "__main__":
    main()
