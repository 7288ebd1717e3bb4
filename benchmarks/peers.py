"""Our envs and PPO against what a user would otherwise pick, measured in the same run.

    python -m benchmarks.peers                       # all parts; about 40 min on a 2-core CPU
    python -m benchmarks.peers --parts raw,fetch     # the stepping parts only, about 1 min
    python -m benchmarks.peers --parts sb3 --ours runs/ppo-paper_square-ik-...   # reuse a PPO run
    python -m benchmarks.peers --parts sb3 --scene paper_square      # the sb3 part on the rig's twin
    python -m benchmarks.peers --quick --out /tmp/peers   # tiny sizes, for tests

Parts (each module's docstring says exactly what is timed):
- raw (`peers_raw`): our paper env's physics steps/s against single-thread `mujoco.mj_step` and
  `mujoco.rollout` on all cores, on the same scene;
- fetch (`peers_fetch`): Gymnasium-Robotics `FetchPickAndPlace-v4` (whole arm, mocap weld), in one
  process and in one process per core, against our batched `fetch_pick_place` (gripper on slides, no
  arm), in env steps/s, with each scene's single-thread `mj_step` cost;
- sb3 (`peers_sb3`): seed-style Stable-Baselines3 PPO (4 plain Gymnasium envs stepping MuJoCo
  directly, `benchmarks.seed_env`, or on `--scene paper_square` `benchmarks.seed_twin_env`; plain
  and in VecNormalize) against `train.residual_ppo --eval-every 20`: env steps/s, and wall time to
  SB3's final held-out success, counted only once it holds (`mjx_gr00t.time_to_target`), both
  sides scored by one evaluator (`benchmarks.heldout`; on the twin SB3 reads the actor's entries).
SB3 SAC + HER against ours to 90 % on pick-and-place is `python -m benchmarks.peers_fetch_sac` (hours).
Writes OUT.json (every record, the machine) and OUT.md (a table of rates and ratios, ours / peer
unless said otherwise). The peers need the `peers` extra: pip install -e '.[peers]'.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import importlib.util
import json
import os
import sys
import time
from typing import Any, Literal

import numpy as np
from mjx_gr00t import cli_args

from benchmarks.common import machine_tag
from mjx_gr00t.errors import UsageError
from mjx_gr00t.machine import machine, machine_line
from benchmarks.peers_ours import check_seed_task, learner_name, ours_run

PARTS: tuple[str, ...] = ("raw", "fetch", "sb3")
LEARNERS: dict[str, str] = {"ppo": "PPO", "sac": "SAC", "fast_td3": "fast off-policy learner (fast_td3)"}
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
    """Our physics engine in the raw and fetch parts, our run made here and the held-out evaluator
    ('auto': c on a CPU, mjx on a GPU)."""
    seed: int = 0
    """Seed of envs, actions and both learners."""
    raw_seconds: float = 5.0
    """raw: seconds each of mj_step, mujoco.rollout and our env is timed (after warm-up)."""
    raw_num_envs: int = 256
    """raw: batch size of mujoco.rollout and of our env."""
    fetch_seconds: float = 10.0
    """fetch: seconds each measurement is timed: the peer in 1 and in N processes, our jitted env, our
    Gymnasium adapter, and each scene's raw mj_step."""
    fetch_num_envs: int = 1024
    """fetch: our batch size."""
    sb3_minutes: float = 10.0
    """sb3: each SB3 run's training wall-time budget, minutes (held-out evaluations are off the clock)."""
    sb3_max_steps: int | None = None
    """sb3: also stop each SB3 run after this many env steps (default: the time budget alone)."""
    sb3_configs: str = "plain,vecnormalize"
    """sb3: comma-separated SB3 runs: plain (the seed's setup), vecnormalize (the same in VecNormalize)."""
    sb3_num_envs: int = 4
    """sb3: seed-style envs (the seed's 4)."""
    sb3_vec_env: Literal["dummy", "subproc"] = "dummy"
    """sb3: SB3 VecEnv class: dummy (all envs in one process) or subproc (one process each)."""
    sb3_n_steps: int = 256
    """sb3: PPO n_steps per env per rollout (the seed's 256)."""
    sb3_batch_size: int = 64
    """sb3: PPO minibatch size (the seed's 64)."""
    sb3_learning_rate: float = 3e-4
    """sb3: PPO learning rate (the seed's 3e-4); everything else is SB3's default."""
    sb3_eval_every_s: float = 30.0
    """sb3: seconds of SB3 training between held-out evaluations."""
    eval_every: int = 20
    """sb3: --eval-every of our run made here (iterations between held-out evaluations)."""
    eval_episodes: int = 128
    """sb3: held-out episodes per evaluation, both sides (our run made here uses it as
    --eval-every-episodes; with --ours, that run's own value is used)."""
    ours: str | None = None
    """sb3: a finished `train.residual_ppo` run directory trained with --eval-every, in one go (its task
    and evaluation seed are used for SB3 too); default: train one here with --ours-* and --base/--dr."""
    ours_algo: Literal["ppo", "sac", "fast_td3"] = "ppo"
    """sb3: the learner of our run made here: train.residual_<ours_algo> (its recipe via --ours-flags)."""
    ours_total_steps: int | None = None
    """sb3: --total-steps of our run made here (default: the trainer's, or its --recipe's)."""
    ours_num_envs: int | None = None
    """sb3: --num-envs of our run made here (default: the trainer's, or its --recipe's)."""
    ours_flags: str = ""
    """sb3: more trainer flags for our run made here, as one string (--ours-flags='--recipe paper_square/ik/fast_td3')."""
    ours_out: str | None = None
    """sb3: run directory of our run made here (default: a new runs/<algo>-<scene>-<base>-<time>)."""
    scene: Literal["paper_card", "paper_square"] = "paper_card"
    """sb3: scene without --ours (with it, that run's): paper_card (SB3 on `benchmarks.seed_env`) or
    paper_square, the twin (`benchmarks.seed_twin_env`, the actor's observation: SB3 has no asymmetric critic)."""
    base: Literal["ik"] = "ik"
    """sb3: base policy of the residual task (the seed-style envs have the IK base)."""
    dr: bool = True
    """sb3: domain randomisation of the residual task without --ours (--no-dr: off)."""
    window: int = 100
    """sb3: episodes in the training-rollout success window recorded for reference (not the target)."""
    reanalyse: str | None = None
    """Recompute the sb3 comparisons of this peers JSON from its stored curves (and its run dir's metrics,
    or --ours: a one-go run of its task) with the current definitions, no training; rewrites it and its .md."""


QUICK = Args(
    quick=True, raw_seconds=0.3, raw_num_envs=8, fetch_seconds=0.5, fetch_num_envs=8, sb3_minutes=30.0,
    sb3_max_steps=512, sb3_n_steps=64, sb3_eval_every_s=0.5, eval_every=2, eval_episodes=4,
    ours_total_steps=512, ours_num_envs=16, window=4,
    ours_flags=("--unroll-length 8 --num-minibatches 2 --update-epochs 1 --policy-hidden 32 32 "
                "--value-hidden 32 32"),
)
SB3_CONFIGS: tuple[str, ...] = ("plain", "vecnormalize")


def parse(argv: list[str] | None = None) -> Args:
    """The typed CLI; with --quick the QUICK sizes are the defaults."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return cli_args.cli(Args, args=argv, default=QUICK if "--quick" in argv else Args())


def validate(args: Args) -> list[str]:
    """The parts to run; UsageError for flags that cannot work, saying what to change."""
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = sorted(set(parts) - set(PARTS))
    if bad or not parts:
        raise UsageError(f"--parts takes a comma-separated subset of {','.join(PARTS)}, got {args.parts!r}")
    configs = [c.strip() for c in args.sb3_configs.split(",") if c.strip()]
    if not configs or set(configs) - set(SB3_CONFIGS):
        raise UsageError(f"--sb3-configs takes a comma-separated subset of {','.join(SB3_CONFIGS)}, "
                         f"got {args.sb3_configs!r}")
    for name in ("raw_seconds", "fetch_seconds", "sb3_minutes", "sb3_eval_every_s", "sb3_learning_rate"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    for name in ("raw_num_envs", "fetch_num_envs", "sb3_num_envs", "sb3_n_steps", "sb3_batch_size",
                 "ours_total_steps", "ours_num_envs", "window", "eval_every", "eval_episodes"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
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
    """The sb3 record: our run (PPO or --ours-algo; run here or read from --ours) and seed-style SB3 on the same task,
    each scored by the same held-out evaluator."""
    from benchmarks import peers_sb3, seed_env
    from benchmarks.heldout import HeldOutEvaluator, task_of
    from benchmarks.runs import flat_settings
    from mjx_gr00t.runner.metrics_log import METRICS_FILE, read_metrics

    out, config = ours_run(args)
    path = os.path.join(out, METRICS_FILE)
    metrics = read_metrics(path) if os.path.exists(path) else []
    if not metrics:
        raise UsageError(f"{path} holds no iterations; pass a run that trained")
    try:
        peers_sb3.ours_curves(metrics)
    except ValueError as e:
        raise UsageError(f"--ours {out!r}: {e}") from e
    task = task_of(config)
    episodes, seed = config.run.eval_every_episodes, config.run.eval_seed
    evaluator = HeldOutEvaluator(task, episodes=episodes, seed=seed)
    seed_config = _seed_config(task)
    # The overhead of the Python env over bare mj_step is measured on the card's seed env (seed_env).
    overhead = (seed_env.overhead(seconds=0.3 if args.quick else 6.0, seed=args.seed, config=seed_config)
                if task["scene"] == "paper_card" else None)
    runs = []
    for name in [c.strip() for c in args.sb3_configs.split(",") if c.strip()]:
        settings = peers_sb3.SB3Settings(
            num_envs=args.sb3_num_envs, n_steps=args.sb3_n_steps, batch_size=args.sb3_batch_size,
            learning_rate=args.sb3_learning_rate, vec_env=args.sb3_vec_env, normalize=name == "vecnormalize",
            budget_s=args.sb3_minutes * 60, max_steps=args.sb3_max_steps, eval_every_s=args.sb3_eval_every_s,
            seed=args.seed)
        print(f"sb3 part: {settings.name}, {settings.num_envs} envs ({settings.vec_env}), budget "
              f"{args.sb3_minutes} min, held-out evaluation of {episodes} episodes every {settings.eval_every_s} s",
              flush=True)
        runs.append(peers_sb3.train_sb3(settings, evaluator, seed_config, evaluator.env.spec.actor_indices))
    start = evaluator(lambda obs: np.zeros((obs.shape[0], evaluator.env.action_size), np.float32))["success_rate"]
    ours = {"run_dir": out, "made_here": not args.ours, "algo": learner_name(config), "args": flat_settings(config)}
    return {"task": task, "heldout_episodes": episodes, "heldout_seed": seed, "seed_env_overhead": overhead,
            **peers_sb3.compare(runs, metrics, ours, args.window, episodes, start)}


def _seed_config(task: dict[str, Any]) -> Any:
    """The seed-style env's config for `task` (`heldout.task_of`): its scene, alpha, penalty and DR."""
    from benchmarks.seed_env import SeedConfig, SeedDR
    from benchmarks.seed_twin_base import TwinConfig, TwinDR

    twin = task["scene"] == "paper_square"
    config, dr = (TwinConfig, TwinDR) if twin else (SeedConfig, SeedDR)
    return config(alpha=float(task["alpha"]), residual_penalty=float(task["residual_penalty"]),
                  **({} if task["dr"] else {"dr": dr.off()}))


def reanalyse_sb3(path: str, ours_dir: str | None = None) -> dict[str, Any]:
    """Re-reads the sb3 part of a peers JSON (the measured curves; our run's metrics from its run dir,
    or from `ours_dir`, a run of the same task made since, which replaces it) and recomputes its
    comparisons with the current definitions; records when and why."""
    from benchmarks import peers_sb3
    from benchmarks.heldout import HeldOutEvaluator, task_of
    from benchmarks.runs import flat_settings, read_config
    from mjx_gr00t.runner.metrics_log import METRICS_FILE, read_metrics

    with open(path) as f:
        results = json.load(f)
    sb3 = results["parts"].get("sb3")
    if sb3 is None:
        raise UsageError(f"{path} has no sb3 part to reanalyse")
    replaced = None
    if ours_dir is not None:
        record, config = read_config(ours_dir)
        check_seed_task(config, f"--ours {ours_dir!r}")
        task = {k: v for k, v in task_of(config).items() if k in sb3["task"]}
        if task != sb3["task"] or record.get("resumes"):
            raise UsageError(f"--ours {ours_dir!r} is not a one-go run of the JSON's task {sb3['task']} (got {task})")
        replaced = {"run_dir": sb3["ours"]["run_dir"], "made_here": sb3["ours"]["made_here"]}
        sb3["ours"] = {"run_dir": ours_dir, "made_here": False, "algo": learner_name(config), "args": flat_settings(config)}
    out = sb3["ours"]["run_dir"]
    metrics = read_metrics(os.path.join(out, METRICS_FILE))
    evaluator = HeldOutEvaluator(sb3["task"], episodes=sb3["heldout_episodes"], seed=sb3["heldout_seed"])
    start = evaluator(lambda obs: np.zeros((obs.shape[0], evaluator.env.action_size), np.float32))["success_rate"]
    ours = {k: sb3["ours"][k] for k in ("run_dir", "made_here", "args")}
    ours["algo"] = sb3["ours"].get("algo", "ppo")
    sb3.update(peers_sb3.compare(sb3["sb3"], metrics, ours, results["args"]["window"], sb3["heldout_episodes"], start))
    results.setdefault("reanalysed", []).append(
        {"date": time.strftime("%Y-%m-%d %H:%M"),
         "command": "python -m benchmarks.peers --reanalyse " + path + (f" --ours {ours_dir}" if ours_dir else ""),
         "why": "the same measured curves read with the current time-to-target definitions",
         **({"ours_replaced": replaced, "ours_now": ours_dir} if replaced else {})})
    return results


def markdown(results: dict[str, Any]) -> str:
    """The table of OUT.md: one row per comparison, ours / peer unless said otherwise."""
    rows = [f"# Peers: {results['machine_line']}", "", f"`{results['command']}`, {results['date']}", "",
            *[f"Reanalysed {r['date']}: `{r['command']}` ({r['why']}" + (f"; our run replaced by {r['ours_now']}, made since" if r.get("ours_now") else "")
              + ")." for r in results.get("reanalysed", [])],
            "",
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
        procs, om, pm = fetch["peer_processes"], fetch["ours_mj_step"], fetch["peer_mj_step"]
        rows.append(f"| `fetch_pick_place` ({fetch['engine']}, {fetch['num_envs']} envs, jitted; {fetch['ours_physics']}) "
                    f"vs `{fetch['peer']}` ({fetch['peer_physics']}), {procs} processes (AsyncVectorEnv) | "
                    f"{num(fetch['ours_env_steps_per_s'])} | {num(fetch['peer_env_steps_per_s'])} | "
                    f"{num(fetch['ratio_ours_vs_peer'], '.1f', 'x')} | env steps/s |")
        rows.append(f"| the same vs the peer in 1 process | {num(fetch['ours_env_steps_per_s'])} | "
                    f"{num(fetch['peer_single_process_env_steps_per_s'])} | "
                    f"{num(fetch['ratio_ours_vs_peer_single_process'], '.1f', 'x')} | env steps/s |")
        rows.append(f"| the same through `mjx_gr00t.gym.make_vec` (numpy actions) vs the peer, {procs} processes | "
                    f"{num(fetch['ours_gym_adapter_env_steps_per_s'])} | {num(fetch['peer_env_steps_per_s'])} | "
                    f"{num(fetch['ratio_ours_gym_adapter_vs_peer'], '.1f', 'x')} | env steps/s |")
        rows.append(f"| single-thread `mj_step`, each scene's own model ({om['physics_steps_per_env_step']} vs "
                    f"{pm['physics_steps_per_env_step']} physics steps per env step); ratio = peer / ours | "
                    f"{num(om['us_per_physics_step'], '.1f')} | {num(pm['us_per_physics_step'], '.1f')} | "
                    f"{num(fetch['physics_cost_ratio_peer_vs_ours'], '.1f', 'x')} | µs per physics step |")
        rows.append(f"| env-steps ratio ({procs} processes) over the `mj_step` cost ratio: what cheaper physics "
                    f"does not explain | | | {num(fetch['ratio_ours_vs_peer_per_physics_cost'], '.1f', 'x')} | |")
    sb3 = results["parts"].get("sb3")
    if sb3:
        ours = sb3["ours"]
        first = "first_crossing_s (not held; for reference only)"
        for run, cmp in zip(sb3["sb3"], sb3["comparisons"]):
            hp, target = run["hyperparameters"], cmp["target_success"]
            peer_t, ours_t = cmp["peer_time_to_target"], cmp["ours_time_to_target"]
            head = [k for k in cmp if k.endswith("(headline)")][0]
            k = head.split("_")[2]
            lo, hi = cmp["final_success_ci95"]
            rows.append(f"| our {LEARNERS[ours.get('algo', 'ppo')]} vs {run['name']} ({hp['vec_env']} VecEnv, {run['settings']['num_envs']} envs), "
                        f"training, updates included | {num(ours['env_steps_per_s'])} | {num(run['env_steps_per_s'])} | "
                        f"{num(cmp['env_steps_per_s_ratio'], '.1f', 'x')} | env steps/s |")
            rows.append(f"| wall time to {num(target, '.1%')} held-out success, **held for {k} evaluations** "
                        f"({run['name']}'s final {num(cmp['final_success'], '.1%')}, 95 % CI {num(lo, '.1%')}.."
                        f"{num(hi, '.1%')}: the target is its low end); ratio = SB3 / ours | "
                        f"{num(ours_t[f'held_{k}_evals_s'], '.1f')} | {num(peer_t[f'held_{k}_evals_s'], '.1f')} | "
                        f"**{num(cmp[head], '.2f', 'x')}** | s |")
            rows.append(f"| the same, held to the end of each run | {num(ours_t['held_s'], '.1f')} | "
                        f"{num(peer_t['held_s'], '.1f')} | {num(cmp['ratio_held'], '.2f', 'x')} | s |")
            rows.append(f"| the same, first crossing (not held; reference only) | {num(ours_t[first], '.1f')} | "
                        f"{num(peer_t[first], '.1f')} | "
                        f"{num(cmp['ratio_first_crossing (not held; for reference only)'], '.2f', 'x')} | s |")
            if cmp.get("target_at_or_below_start"):
                rows.append(f"| (the target is at or below the base alone's {num(cmp['start_success (base alone, same episodes)'], '.1%')}: "
                            "this ratio compares evaluation schedules, not learning) | | | | |")
        rows += [f"| our wall time to {float(name):.0%} held-out success, held for 3 evaluations | "
                 f"{num(t['held_3_evals_s'], '.1f')} | | | s |" for name, t in ours.get("time_to_fixed_targets", {}).items()]
        overhead = sb3.get("seed_env_overhead") or {}
        finals = "; ".join(f"{r['name']} {num(r['final_success'], '.1%')} after {num(r['wall_s'], '.0f')} s "
                           f"({r['env_steps']:,} steps)" for r in sb3["sb3"])
        rows += ["", f"sb3: task {sb3['task']}; success = {sb3['success_measure']}, {sb3['heldout_episodes']} episodes "
                     f"from seed {sb3['heldout_seed']}. Final held-out success: {finals}; ours "
                     f"{num(ours['final_success'], '.1%')} after {num(ours['wall_s'], '.0f')} s ({ours['env_steps']:,} steps). "
                     f"Evaluations every {num(ours['eval_interval_s'], '.0f')} s of training (ours) and "
                     f"{num(sb3['comparisons'][0]['eval_interval_s']['peer'], '.0f')} s (SB3). "
                     f"The seed-style env's overhead over raw `mj_step`: "
                     f"{num(overhead.get('overhead_fraction'), '.1%')} of its time "
                     f"({num(overhead.get('python_ms_per_policy_step'), '.2f')} ms of Python per policy step)."]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m benchmarks.peers`; returns what it wrote to OUT.json."""
    args = parse(argv)
    if args.reanalyse:
        if not os.path.isfile(args.reanalyse) or not args.reanalyse.endswith(".json"):
            raise UsageError(f"--reanalyse {args.reanalyse!r} is not a peers .json file")
        results = reanalyse_sb3(args.reanalyse, args.ours)
        return _write(results, args.reanalyse[:-len(".json")])
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
    return _write(results, out)


def _write(results: dict[str, Any], out: str) -> dict[str, Any]:
    """Writes OUT.json and OUT.md; returns `results`."""
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
