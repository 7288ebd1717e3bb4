"""Domain-randomisation ablation: which DR factors make a residual robust, measured on one wider,
held-out distribution.

    python -m train.ablate_dr                                 # 7 arms x 2 seeds, paper task; <= 30 min on 2 cores
    python -m train.ablate_dr --arms none all --seeds 0 1 2   # a subset
    python -m train.ablate_dr --eval-width 2 --out runs/abl   # a harder test distribution

Arms: 'none' (every factor at its nominal value), each factor alone (its name), 'all' (the
scene's default DR). Every arm x seed trains a residual PPO (the train.residual_ppo recipe) as
ONE program: the grid's cells are `jax.vmap`ped through one jitted PPO step, so the physics of
all cells is stepped as one batch; with several devices the cells are split among them
(`jax.sharding`, see train/ablate_grid.py). An arm is only other DR ranges, which are data in the env
state, so adding arms never adds a compile.

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

import dataclasses
import math
import os
import sys
import time
from typing import Any, Literal

from mjx_gr00t.envs import registry
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import ppo
from train import ablate_grid, ablate_report, run_dir
from train.ablate_eval import EvalSpec, evaluate_grid, make_eval_env
from train.ablate_train import train_grid
from train.residual_env import build_residual_env
from train.residual_ppo import residual_policy

ALGO: str = "ablate_dr"
DEFAULT_BASE: dict[str, str] = {
    "paper_square": "ik", "fetch_reach": "script", "fetch_push": "script", "fetch_pick_place": "script",
}


@dataclasses.dataclass(frozen=True)
class Args:
    """Train residual PPO under several DR arms x seeds as one vmapped program; evaluate every arm
    on one wider held-out DR distribution; write CSV, markdown and a bar chart with 95 % CIs.

    Defaults fit 30 min on a 2-core CPU: 7 arms x 2 seeds x 400k steps (64 envs each) = 5.6M
    steps; measured 19.6 min in all on a 2-core AMD EPYC (5,334 env-steps/s)."""

    scene: str = "paper_square"
    """Registered scene with a DR config (paper_square, fetch_push, fetch_pick_place, fetch_reach)."""
    base: Literal["ik", "script", "zero"] | None = None
    """Base policy; default: 'ik' on paper_square, 'script' on the fetch_* scenes."""
    engine: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Physics engine; 'auto' is 'c' on a CPU-only machine and 'mjx' on an accelerator."""
    arms: tuple[str, ...] | None = None
    """Arms to train, space- or comma-separated: 'none', 'all' and the scene's DR factor names
    (paper_square: paper_xy, paper_yaw, friction, paper_mass, actuator_gain). Default: every arm."""
    seeds: tuple[int, ...] = (0, 1)
    """Training seeds; every arm trains once per seed (arms of one seed share initial weights)."""
    num_envs: int = 64
    """Parallel envs per arm and seed (the grid steps arms x seeds x num_envs envs at once)."""
    total_steps: int = 400_000
    """Env steps per arm and seed (rounded up to whole iterations of num_envs * unroll_length)."""
    eval_width: float = 1.5
    """Width of the held-out DR distribution: each factor's default range scaled about its
    nominal value (1.5: 50 % wider, e.g. paper offset +-7.5 cm instead of +-5 cm); every factor on."""
    eval_episodes: int = 256
    """Held-out episodes per arm and seed (pooled over seeds in the tables)."""
    eval_seed: int = 1_000_000
    """Seed of the held-out episodes; seed s evaluates on key eval_seed + s (apart from training seeds)."""
    out: str | None = None
    """Output directory; default runs/ablate_dr-<scene>-<date>-<time>, a new one each time."""
    overwrite: bool = False
    """Replace an earlier ablation in --out."""
    alpha: float = 1.0
    """Residual scale: total = clip(base + alpha * residual), in units of the action limit."""
    residual_penalty: float = 0.001
    """Weight of the L2 penalty on the applied residual, subtracted from the reward."""
    unroll_length: int = 16
    """Env steps per env per iteration."""
    num_minibatches: int = 8
    """Minibatches per epoch."""
    update_epochs: int = 2
    """Epochs over each rollout."""
    learning_rate: float = 6e-4
    """Adam learning rate (decays linearly to 0 at --total-steps)."""
    init_log_std: float = -1.0
    """Initial log std of the residual's exploration noise (train.residual_ppo uses -1.6 for its
    3M-step runs; the ablation's shorter 64-env runs, and its measured figures, use -1.0)."""
    gamma: float = 0.98
    """Discount."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the policy and critic MLPs."""

    @property
    def base_name(self) -> str:
        """--base, or the scene's default base."""
        return self.base or DEFAULT_BASE.get(self.scene, "zero")

    @property
    def arm_list(self) -> tuple[str, ...] | None:
        """--arms split on commas as well as spaces; None: every arm."""
        if self.arms is None:
            return None
        return tuple(a.strip() for item in self.arms for a in item.split(",") if a.strip())

    @property
    def total_iterations(self) -> int:
        """Iterations per cell needed for --total-steps."""
        return math.ceil(self.total_steps / (self.num_envs * self.unroll_length))

    def ppo_config(self) -> ppo.PPOConfig:
        """The PPOConfig of every cell."""
        return ppo.PPOConfig(
            num_envs=self.num_envs, unroll_length=self.unroll_length, num_minibatches=self.num_minibatches,
            update_epochs=self.update_epochs, learning_rate=self.learning_rate, lr_schedule="linear",
            total_iterations=self.total_iterations, gamma=self.gamma, policy_hidden=self.hidden,
            value_hidden=self.hidden, init_log_std=self.init_log_std,
        )


def validate(args: Args) -> None:
    """Raises run_dir.UsageError for flags that cannot work, saying what to change."""
    fail = run_dir.UsageError
    if args.scene not in registry.scenes():
        raise fail(f"unknown scene {args.scene!r}; valid scenes: {', '.join(registry.scenes())}")
    if not hasattr(registry.default_config(args.scene), "dr"):
        raise fail(f"scene {args.scene!r} has no domain randomisation to ablate")
    for name in ("num_envs", "eval_episodes"):
        if getattr(args, name) < 1:
            raise fail(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.seeds:
        raise fail("--seeds needs at least one seed")
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        raise fail(f"--seeds must be distinct and >= 0, got {list(args.seeds)}")
    one = args.num_envs * args.unroll_length
    if args.total_steps < one:
        raise fail(f"--total-steps {args.total_steps} is smaller than one iteration "
                   f"(--num-envs {args.num_envs} x --unroll-length {args.unroll_length} = {one})")
    if not args.eval_width >= 1.0:
        raise fail(f"--eval-width must be >= 1 (the held-out distribution is at least as wide as "
                   f"training), got {args.eval_width}")
    if args.alpha < 0 or args.residual_penalty < 0:
        raise fail(f"--alpha and --residual-penalty must be >= 0, got {args.alpha}, {args.residual_penalty}")
    try:
        args.ppo_config()
    except ValueError as e:
        raise fail(str(e)) from e


def build(args: Args) -> tuple[Any, ablate_grid.Grid, Any, EvalSpec]:
    """(training env, grid, eval env, eval spec) of `args`; UsageError for unknown arms."""
    env = build_residual_env(args.scene, args.base_name, args.engine, args.num_envs, True, args.residual_penalty)
    dr_default = ablate_grid.scene_task(env).config.dr
    names = args.arm_list if args.arm_list is not None else ablate_grid.arm_names(dr_default)
    try:
        grid = ablate_grid.Grid(ablate_grid.make_arms(dr_default, names), tuple(args.seeds))
    except ValueError as e:
        raise run_dir.UsageError(f"--arms: {e}") from e
    spec = EvalSpec(width=args.eval_width, episodes=args.eval_episodes, seed=args.eval_seed)
    try:
        eval_env = make_eval_env(args.scene, args.base_name, args.engine, args.residual_penalty, env, spec)
    except ValueError as e:
        raise run_dir.UsageError(f"--eval-width: {e}") from e
    return env, grid, eval_env, spec


def prepare_out(args: Args) -> str:
    """The output directory, created, with run.json; refuses one holding other files."""
    out = args.out or os.path.join("runs", f"{ALGO}-{args.scene}-{time.strftime('%Y%m%d-%H%M%S')}")
    if os.path.isdir(out) and os.listdir(out) and not args.overwrite:
        raise run_dir.UsageError(f"--out {out!r} is not empty; pass --overwrite to replace an earlier "
                                 "ablation there, or choose another --out")
    saved = run_dir.args_dict(dataclasses.replace(args, out=out))
    run_dir.prepare_out(out, ALGO, saved, resume=False, overwrite=args.overwrite)
    return out


def run(args: Args) -> dict[str, Any]:
    """Trains the grid, evaluates it, writes the outputs; returns the summary record."""
    validate(args)
    start = time.perf_counter()
    env, grid, eval_env, spec = build(args)
    out = prepare_out(args)
    config = args.ppo_config()
    print(f"{args.scene}: base {args.base_name}, engine {ablate_grid.scene_task(env).engine_name}; "
          f"{len(grid.arms)} arms ({', '.join(a.name for a in grid.arms)}) x {len(grid.seeds)} seeds "
          f"= {grid.size} runs of {args.num_envs} envs, {config.total_iterations} iterations of "
          f"{config.batch_size:,} steps each; out {out}")
    trained = train_grid(out, args, env, grid, config, AlphaSchedule(alpha=args.alpha))

    t_eval = time.perf_counter()
    print(f"evaluating {grid.size} runs x {spec.episodes} held-out episodes, DR {spec.width}x as wide ...")
    policy_fn = residual_policy(config)
    params = (trained.state.policy_params, trained.state.normalizer)
    cells, base = evaluate_grid(eval_env, policy_fn, params, args.alpha, grid, spec)
    eval_s = time.perf_counter() - t_eval

    n_seeds = len(grid.seeds)
    reference = f"{args.base_name} base alone"
    rows = [row for i, arm in enumerate(grid.arms)
            for row in ablate_report.rows_for(arm.name, grid.seeds, cells[i * n_seeds:(i + 1) * n_seeds])]
    rows += ablate_report.rows_for(reference, grid.seeds, base)
    title = (f"DR ablation: {args.scene}, base {args.base_name}\n"
             f"held-out success, every DR range x{spec.width} wide")
    notes = [
        f"Training: {config.total_iterations * config.batch_size:,} env steps per arm and seed, "
        f"{args.num_envs} envs; seeds {', '.join(map(str, grid.seeds))}.",
        f"Held-out evaluation: every DR factor on, each range {spec.width}x the default width about its "
        f"nominal value; {spec.episodes} episodes per seed (key {spec.seed} + seed), deterministic policy.",
        "95 % CI: Wilson score interval over the episodes (pooled: all seeds' episodes together).",
    ]
    paths = ablate_report.write_all(out, rows, title, notes, reference)
    print(ablate_report.markdown(rows, title, []))
    summary = {
        "scene": args.scene, "base": args.base_name, "arms": [a.name for a in grid.arms],
        "seeds": list(grid.seeds), "eval_width": spec.width, "eval_episodes": spec.episodes,
        "env_steps_per_run": int(trained.env_steps_per_cell), "compile_s": trained.compile_s,
        "train_s": trained.train_s, "eval_s": eval_s, "total_s": time.perf_counter() - start,
        "env_steps_per_s": trained.env_steps_per_s, "devices": trained.devices,
        "machine": machine_line(machine()),
        "results": [r.record() for r in rows], "files": paths,
    }
    run_dir.write_json_atomic(os.path.join(out, "summary.json"), summary)
    print(f"wrote {', '.join(paths.values())} and {out}/summary.json "
          f"({summary['total_s'] / 60:.1f} min in all)")
    return summary


def parse(argv: list[str] | None = None) -> Args:
    """The typed CLI (tyro)."""
    import tyro

    return tyro.cli(Args, args=list(sys.argv[1:] if argv is None else argv))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m train.ablate_dr`."""
    return run(parse(argv))


if __name__ == "__main__":
    main()
