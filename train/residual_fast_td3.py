"""The fast off-policy learner (FastTD3 family, + HER on goal-conditioned scenes) on top of a base policy.

    python -m train.residual_fast_td3                                   # the paper twin, IK base
    python -m train.residual_fast_td3 --recipe fetch_pick_place/zero/fast_td3 --updates-per-iteration 4
    python -m train.residual_fast_td3 --resume runs/<dir>                 # continue exactly

Many envs (512) and large updates (16 of batch 1,024 per vector step: 32 gradient samples per env
step, SAC's recipe takes 64; 8 and 16 learned slower, see below), all in one jitted
`lax.scan`; twin distributional (C51) critics with
LayerNorm in one vmapped call, delayed actor updates, a fast target (tau 0.1), per-env exploration
noise and running observation normalisation. HER relabels inside jit, the goal-reading base rebased for
hindsight goals, as SAC does. In residual mode the actor's head starts at zero and the critics see
the base and the summed action.

Measured on 2 CPU cores (AMD EPYC, no GPU; `python -m benchmarks.fast_off_policy`): one train step on
fetch_pick_place runs 972 env-steps/s at 32 samples per env step, 1,827 at 8, SAC's recipe 468
(32.1, 68.4 and 33.4 us per gradient sample). On fetch_push from a zero base it learned slower than
SAC: 17.2 % held-out success after 12 min at 32 samples per env step (8.6 % at 16, 2.3 % at 8), where
SAC's default reaches 98 % in 33 min; SAC stays the better learner on Fetch.

The default, `--recipe paper_square/ik/fast_td3`, is the winner of `python -m train.sweep --algo
fast_td3` on the paper twin (benchmarks/results/sweep_fast_td3_paper_square_cpu2/): 256 envs, 8 updates
of 512 per vector step, no random warm-up, a slow actor (1e-4) and a strong action penalty (10). Run
alone it held 95 % held-out success from 124 s (147k env steps) and ended at 100 % after 300k steps in
237 s of training, where the PPO default holds 95 % from 234 s
(benchmarks/results/twin_ppo_vs_fast_td3_cpu2.json).

The runner is mjx_gr00t.runner with the algorithm fixed to `fast_td3`: the same outputs as
`train.residual_sac`, orbax checkpoints that hold the replay buffer (resume is exact), and a replay
buffer whose memory is printed at start-up and refused if the machine does not have it.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

from typing import Any

from bridge.groot import planner
from mjx_gr00t.runner import cli


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """`python -m train.residual_fast_td3`: the runner with the algorithm fixed to fast_td3; returns the summary."""
    return cli.main("fast_td3", argv, groot=planner, description=__doc__)


if __name__ == "__main__":
    main()
