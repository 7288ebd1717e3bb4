"""benchmarks.peers, part `sb3`, our side: the run SB3 is timed against, read from --ours or trained
here with periodic held-out evaluations, by `train.residual_<--ours-algo>` (PPO by default; the fast
off-policy learner or SAC with their recipes on the twin, e.g. --ours-algo fast_td3
--ours-flags='--recipe paper_square/ik/fast_td3').

    out, config = ours_run(args)        # args: benchmarks.peers.Args
"""

import shlex
from typing import Any

from mjx_gr00t.errors import UsageError
from mjx_gr00t.runner.config import RunConfig

SEED_SCENES: tuple[str, ...] = ("paper_card", "paper_square")
"""Scenes with a seed-style env for the sb3 part: `seed_env` (the card) and `seed_twin_env` (the twin)."""
OUR_ALGOS: tuple[str, ...] = ("ppo", "sac", "fast_td3")


def check_seed_task(config: RunConfig, where: str) -> None:
    """UsageError unless a run's config is a task a seed-style env reproduces."""
    scene, base, schedule = config.scene.scene, config.scene.base, config.residual.alpha_schedule
    if schedule != "constant" or base != "ik" or scene not in SEED_SCENES:
        raise UsageError(f"{where}: the seed-style SB3 envs are the paper tasks ({', '.join(SEED_SCENES)}) with the "
                         f"IK base and a constant alpha (got scene={scene!r}, base={base!r}, alpha_schedule={schedule!r})")


def ours_run(args: Any) -> tuple[str, RunConfig]:
    """Our run for the sb3 part: read from --ours (checked) or trained here by train.residual_<--ours-algo>
    with --eval-every. Returns its directory and its resolved config."""
    from benchmarks.runs import read_config
    from mjx_gr00t.runner import cli, run, run_dir

    if args.ours:
        record, config = read_config(args.ours)
        if record["algo"] not in OUR_ALGOS:
            raise UsageError(f"--ours {args.ours!r} is a {record['algo']} run; pass a train.residual_* run")
        if record.get("resumes"):
            raise UsageError(f"--ours {args.ours!r} was resumed ({len(record['resumes'])} time(s)): its clock "
                             "has gaps a time to target cannot see; pass a run trained in one go")
        check_seed_task(config, f"--ours {args.ours!r}")
        return args.ours, config
    algo = args.ours_algo
    out = args.ours_out or run_dir.default_out(algo, args.scene, args.base)
    argv = ["--scene", args.scene, "--base", args.base, "--dr" if args.dr else "--no-dr",
            "--engine", args.engine,
            *(["--num-envs", str(args.ours_num_envs)] if args.ours_num_envs else []),
            *(["--total-steps", str(args.ours_total_steps)] if args.ours_total_steps else []),
            "--seed", str(args.seed), "--wandb", "disabled", "--eval-episodes", "0",
            "--eval-every", str(args.eval_every), "--eval-every-episodes", str(args.eval_episodes),
            "--out", out, *shlex.split(args.ours_flags)]
    config = cli.parse(algo, argv)
    check_seed_task(config, "--ours-flags")
    print(f"sb3 part: ours, python -m train.residual_{algo} {' '.join(argv)}", flush=True)
    run.train(config, algo)
    return out, read_config(out)[1]


def learner_name(config: RunConfig) -> str:
    """The registered algorithm ('ppo', 'sac', 'fast_td3') a run's config trains."""
    from mjx_gr00t.rl import algos

    return next(n for n in algos.names() if isinstance(config.algo, algos.get(n).config_type))
