"""Our envs and PPO against what a user would otherwise pick, measured in the same run.

    python -m benchmarks.peers                       # all parts; about 36 min on a 2-core CPU
    python -m benchmarks.peers --parts raw,fetch     # the stepping parts only, about 1 min
    python -m benchmarks.peers --parts sb3 --ours runs/ppo-paper_square-ik-...   # reuse a PPO run
    python -m benchmarks.peers --quick --out /tmp/peers   # tiny sizes, for tests

Parts (each module's docstring says exactly what is timed):
- raw (`peers_raw`): our paper env's physics steps/s against single-thread `mujoco.mj_step` and
  `mujoco.rollout` on all cores, on the same scene;
- fetch (`peers_fetch`): Gymnasium-Robotics `FetchPickAndPlace-v4`, one process, against our
  batched `fetch_pick_place`, in env steps/s;
- sb3 (`peers_sb3`): Stable-Baselines3 PPO with 4 `SubprocVecEnv` envs on our Gymnasium adapter
  of the residual paper task against `train.residual_ppo`: env steps/s, and wall time to SB3's
  final success rate.
Writes OUT.json (every record, the machine) and OUT.md (a table of rates and ratios, ours / peer
unless said otherwise). The peers need the `peers` extra: pip install -e '.[peers]'.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import importlib.util
import json
import os
import shlex
import sys
import time
from typing import Any, Literal

import tyro

from benchmarks.common import machine, machine_line, machine_tag
from train.run_dir import UsageError

PARTS: tuple[str, ...] = ("raw", "fetch", "sb3")
PEER_MODULES: dict[str, str] = {"fetch": "gymnasium_robotics", "sb3": "stable_baselines3"}


@dataclasses.dataclass(frozen=True)
class Args:
    """Benchmark our envs and PPO against raw MuJoCo, Gymnasium-Robotics Fetch and SB3 PPO."""

    parts: str = "raw,fetch,sb3"
    """Comma-separated parts to run: raw, fetch, sb3."""
    quick: bool = False
    """Tiny sizes for tests (seconds, not minutes): changes the defaults of every size flag;
    flags given explicitly still win."""
    out: str | None = None
    """Output path without extension: writes OUT.json and OUT.md. Default:
    benchmarks/results/peers_<machine tag>, e.g. peers_cpu2."""
    engine: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Our physics engine in the raw and fetch parts and our PPO ('auto': c on a CPU, mjx on a GPU)."""
    seed: int = 0
    """Seed of envs, actions and both learners."""
    raw_seconds: float = 5.0
    """raw: seconds each of mj_step, mujoco.rollout and our env is timed (after warm-up)."""
    raw_num_envs: int = 256
    """raw: batch size of mujoco.rollout and of our env."""
    fetch_seconds: float = 10.0
    """fetch: seconds the peer, our jitted env and our Gymnasium adapter are each timed."""
    fetch_num_envs: int = 1024
    """fetch: our batch size."""
    sb3_minutes: float = 20.0
    """sb3: SB3's wall-time budget, minutes."""
    sb3_max_steps: int | None = None
    """sb3: also stop SB3 after this many env steps (default: the time budget alone)."""
    sb3_num_envs: int = 4
    """sb3: SubprocVecEnv envs (one subprocess each)."""
    sb3_n_steps: int = 2048
    """sb3: PPO n_steps per env per rollout (SB3's default)."""
    sb3_batch_size: int = 64
    """sb3: PPO minibatch size (SB3's default)."""
    sb3_log_std_init: float | None = None
    """sb3: initial log std of SB3's Gaussian policy; default: our run's --init-log-std, so both
    start with the same exploration around the base (SB3's own default is 0)."""
    ours: str | None = None
    """sb3: a finished `train.residual_ppo` run directory to compare with (its task is used for SB3
    too); default: train one here with --ours-* and --base/--dr."""
    ours_total_steps: int = 3_000_000
    """sb3: --total-steps of our PPO run made here (train.residual_ppo's default)."""
    ours_num_envs: int = 256
    """sb3: --num-envs of our PPO run made here (train.residual_ppo's default)."""
    ours_flags: str = ""
    """sb3: more train.residual_ppo flags for our run made here, as one string, e.g.
    --ours-flags='--unroll-length 8'."""
    ours_out: str | None = None
    """sb3: run directory of our PPO run made here (default: a new runs/ppo-paper_square-<base>-<time>)."""
    base: Literal["ik", "zero"] = "ik"
    """sb3: base policy of the residual task when no --ours run is given."""
    dr: bool = True
    """sb3: domain randomisation of the residual task when no --ours run is given (--no-dr: off)."""
    window: int = 100
    """sb3: success rate over the last this many completed episodes (SB3's own stats window)."""


QUICK = Args(
    quick=True, raw_seconds=0.3, raw_num_envs=8, fetch_seconds=0.5, fetch_num_envs=8, sb3_minutes=30.0,
    sb3_max_steps=1024, sb3_n_steps=128, ours_total_steps=2560, ours_num_envs=16, window=4,
    ours_flags="--unroll-length 8 --num-minibatches 2 --update-epochs 1 --hidden 32 32",
)


def parse(argv: list[str] | None = None) -> Args:
    """The typed CLI; with --quick the QUICK sizes are the defaults."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return tyro.cli(Args, args=argv, default=QUICK if "--quick" in argv else Args())


def validate(args: Args) -> list[str]:
    """The parts to run; UsageError for flags that cannot work, saying what to change."""
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = sorted(set(parts) - set(PARTS))
    if bad or not parts:
        raise UsageError(f"--parts takes a comma-separated subset of {','.join(PARTS)}, got {args.parts!r}")
    for name in ("raw_seconds", "fetch_seconds", "sb3_minutes"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    for name in ("raw_num_envs", "fetch_num_envs", "sb3_num_envs", "sb3_n_steps", "sb3_batch_size",
                 "ours_total_steps", "ours_num_envs", "window"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.sb3_max_steps is not None and args.sb3_max_steps < 1:
        raise UsageError(f"--sb3-max-steps must be >= 1, got {args.sb3_max_steps}")
    if args.ours is not None and not os.path.isdir(args.ours):
        raise UsageError(f"--ours {args.ours!r} is not a directory; pass a train.residual_ppo run directory")
    for part in parts:
        module = PEER_MODULES.get(part)
        if module and importlib.util.find_spec(module) is None:
            raise UsageError(f"part {part!r} needs {module}, which is not installed: install the peers "
                             "extra (pip install -e '.[peers]') or leave the part out of --parts")
    return parts


def run_sb3_part(args: Args) -> dict[str, Any]:
    """The sb3 record: our PPO (run here or read from --ours) and SB3 on the same residual task."""
    from benchmarks import peers_sb3
    from train import residual_ppo, run_dir
    from train.metrics_log import METRICS_FILE, read_metrics

    if args.ours:
        record = run_dir.read_run(args.ours)
        if record["algo"] != "ppo":
            raise UsageError(f"--ours {args.ours!r} is a {record['algo']} run; pass a train.residual_ppo run")
        saved = record["args"]
        if saved.get("alpha_schedule", "constant") != "constant" or saved.get("base") not in ("ik", "zero", "script"):
            raise UsageError(f"--ours {args.ours!r}: SB3 can only replay a constant alpha on a JAX base "
                             f"(got alpha_schedule={saved.get('alpha_schedule')!r}, base={saved.get('base')!r})")
        out, ours = args.ours, {"run_dir": args.ours, "made_here": False, "args": saved}
    else:
        out = args.ours_out or run_dir.default_out("ppo", "paper_square", args.base)
        argv = ["--scene", "paper_square", "--base", args.base, "--dr" if args.dr else "--no-dr",
                "--engine", args.engine, "--num-envs", str(args.ours_num_envs),
                "--total-steps", str(args.ours_total_steps), "--seed", str(args.seed), "--wandb", "disabled",
                "--eval-episodes", "0", "--out", out, *shlex.split(args.ours_flags)]
        print(f"sb3 part: our PPO, python -m train.residual_ppo {' '.join(argv)}", flush=True)
        residual_ppo.main(argv)
        saved = run_dir.read_run(out)["args"]
        ours = {"run_dir": out, "made_here": True, "args": saved}
    metrics = read_metrics(os.path.join(out, METRICS_FILE))
    if not metrics:
        raise UsageError(f"{out}/{METRICS_FILE} holds no iterations; pass a run that trained")
    task = {k: saved[k] for k in ("scene", "base", "dr", "alpha", "residual_penalty")}
    log_std = args.sb3_log_std_init if args.sb3_log_std_init is not None else saved.get("init_log_std", -1.0)
    hyper = {"n_steps": args.sb3_n_steps, "batch_size": args.sb3_batch_size, "log_std_init": float(log_std)}
    print(f"sb3 part: SB3 PPO, {args.sb3_num_envs} subprocess envs, budget {args.sb3_minutes} min, task {task}",
          flush=True)
    events, sb3 = peers_sb3.train_sb3(task, args.sb3_num_envs, args.sb3_minutes * 60, args.sb3_max_steps,
                                      hyper, args.seed)
    return {"task": task, **peers_sb3.compare(events, sb3, metrics, ours, args.window)}


def markdown(results: dict[str, Any]) -> str:
    """The table of OUT.md: one row per comparison, ours / peer unless said otherwise."""
    rows = [f"# Peers: {results['machine_line']}", "", f"`{results['command']}`, {results['date']}", "",
            "| comparison | ours | peer | ratio | unit |", "|---|---|---|---|---|"]
    num = lambda x, f=",.0f", unit="": "n/a" if x is None else format(x, f) + unit  # noqa: E731
    raw = results["parts"].get("raw")
    if raw:
        what = f"our paper env ({raw['engine']}, {raw['num_envs']} envs, 1 policy step = {raw['physics_steps_per_policy_step']} physics steps)"
        rows.append(f"| {what} vs single-thread `mj_step` | {num(raw['ours_physics_steps_per_s'])} | "
                    f"{num(raw['mj_step_single_thread_physics_steps_per_s'])} | {num(raw['ratio_ours_vs_mj_step'], '.2f', 'x')} | physics steps/s |")
        rows.append(f"| {what} vs `mujoco.rollout`, all cores | {num(raw['ours_physics_steps_per_s'])} | "
                    f"{num(raw['rollout_all_cores_physics_steps_per_s'])} | {num(raw['ratio_ours_vs_rollout'], '.2f', 'x')} | physics steps/s |")
    fetch = results["parts"].get("fetch")
    if fetch:
        rows.append(f"| `fetch_pick_place` ({fetch['engine']}, {fetch['num_envs']} envs, jitted) vs `{fetch['peer']}` "
                    f"(1 process) | {num(fetch['ours_env_steps_per_s'])} | {num(fetch['peer_env_steps_per_s'])} | "
                    f"{num(fetch['ratio_ours_vs_peer'], '.1f', 'x')} | env steps/s |")
        rows.append(f"| the same through `mjx_gr00t.gym.make_vec` (numpy actions) | "
                    f"{num(fetch['ours_gym_adapter_env_steps_per_s'])} | {num(fetch['peer_env_steps_per_s'])} | "
                    f"{num(fetch['ratio_ours_gym_adapter_vs_peer'], '.1f', 'x')} | env steps/s |")
    sb3 = results["parts"].get("sb3")
    if sb3:
        rows.append(f"| our PPO vs SB3 PPO ({sb3['sb3']['num_envs']} SubprocVecEnv), training, updates included | "
                    f"{num(sb3['ours']['env_steps_per_s'])} | {num(sb3['sb3']['env_steps_per_s'])} | "
                    f"{num(sb3['env_steps_per_s_ratio'], '.1f', 'x')} | env steps/s |")
        target = sb3["target_success"]
        rows.append(f"| wall time to SB3's final success ({num(target, '.1%')}); ratio = SB3 / ours | "
                    f"{num(sb3['ours_time_to_target_s'], '.1f')} | {num(sb3['sb3_time_to_target_s'], '.1f')} | "
                    f"{num(sb3['time_to_success_ratio'], '.1f', 'x')} | s |")
        rows += ["", f"sb3: task {sb3['task']}; success = {sb3['success_measure']}. "
                     f"Final success: SB3 {num(sb3['sb3']['final_success'], '.1%')} after {num(sb3['sb3']['wall_s'], '.0f')} s "
                     f"({sb3['sb3']['env_steps']:,} steps), ours {num(sb3['ours']['final_success'], '.1%')} after "
                     f"{num(sb3['ours']['wall_s'], '.0f')} s ({sb3['ours']['env_steps']:,} steps). {sb3['note']}"]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m benchmarks.peers`; returns what it wrote to OUT.json."""
    args = parse(argv)
    parts = validate(args)
    out = args.out or os.path.join("benchmarks", "results", f"peers_{machine_tag()}")
    info = machine()
    results: dict[str, Any] = {
        "machine": info, "machine_line": machine_line(info), "args": dataclasses.asdict(args),
        "command": "python -m benchmarks.peers " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d %H:%M"), "parts": {},
    }
    print(f"machine: {results['machine_line']}", flush=True)
    for part in parts:
        start = time.perf_counter()
        if part == "raw":
            from benchmarks.peers_raw import run_raw

            record = run_raw(args.engine, args.raw_num_envs, args.raw_seconds, args.seed)
        elif part == "fetch":
            from benchmarks.peers_fetch import run_fetch

            record = run_fetch(args.engine, args.fetch_num_envs, args.fetch_seconds, args.seed)
        else:
            record = run_sb3_part(args)
        record["part_wall_s"] = time.perf_counter() - start
        results["parts"][part] = record
        print(f"{part}: done in {record['part_wall_s']:.0f} s", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out + ".json", "w") as f:
        json.dump(results, f, indent=2)
    table = markdown(results)
    with open(out + ".md", "w") as f:
        f.write(table)
    print(table + f"wrote {out}.json and {out}.md")
    return results


if __name__ == "__main__":
    main()
