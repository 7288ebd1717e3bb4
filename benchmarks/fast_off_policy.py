"""The fast off-policy learner against SAC on one scene, in one run: what a gradient sample costs,
and how success grows with env steps and wall time at 8, 16 and 32 gradient samples per env step.

    python -m benchmarks.fast_off_policy                                  # fetch_push, 12 min a curve
    python -m benchmarks.fast_off_policy --scene fetch_pick_place --minutes 30 --ratios 8
    python -m benchmarks.fast_off_policy --skip-curves                    # the cost figures alone

Cost: each learner's train step (rollout into the replay buffer + its updates, HER on), built as the
runner builds it, timed past warm-up, side by side: SAC at its recipe (`<scene>/zero/sac`, or
fetch_push's), the fast learner at its recipe with `updates_per_iteration` set for each ratio.
Curves: `python -m train.residual_fast_td3` runs (through the runner, in this process) with
`--stop-after-minutes`, a held-out evaluation every `--eval-every` iterations off the training
clock; each curve's time to `--target` that then holds (mjx_gr00t.time_to_target) is recorded.
Nothing else should use the CPU meanwhile: the times are wall times.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import json
import os
from typing import Any

import jax
import tyro

from benchmarks.common import machine_tag, save_figure, time_steady, write_record
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.rl import algos
from mjx_gr00t.runner import cli
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.recipes import recipe_config, recipes, resolve
from mjx_gr00t.runner.config import with_flat
from mjx_gr00t.runner.run import schedules
from mjx_gr00t.time_to_target import time_to_target


@dataclasses.dataclass(frozen=True)
class Settings:
    """Which scene, which ratios, how long."""

    scene: str = "fetch_push"
    """A goal-conditioned scene with a `<scene>/zero/fast_td3` recipe or the default one."""
    ratios: tuple[int, ...] = (8, 16, 32)
    """Gradient samples per env step: num_envs * ratio / batch_size updates per iteration."""
    minutes: float = 12.0
    """Training minutes per curve (--stop-after-minutes)."""
    eval_every: int = 40
    """Iterations between held-out evaluations (128 episodes each)."""
    target: float = 0.9
    """Success rate whose held time each curve reports."""
    cost_seconds: float = 20.0
    """Seconds each train step is timed for."""
    skip_curves: bool = False
    """Time the train steps only."""
    quick: bool = False
    """Tiny sizes for tests (16 envs, batch 64, a 1,600-transition buffer, 4 evaluation episodes)."""
    out_dir: str = "runs/fast_off_policy"
    """Where the curve runs' directories go."""
    json: str | None = None
    """Output path (default benchmarks/results/fast_off_policy_<scene>_<machine>.json)."""


QUICK: dict[str, int] = {"num_envs": 16, "batch_size": 64, "buffer_capacity": 1600}


def _config(algo: str, scene: str, **settings: Any) -> Any:
    """The recipe `<scene>/zero/<algo>` (else the algorithm's default recipe moved to `scene`)."""
    name = f"{scene}/zero/{algo}"
    base = recipe_config(name) if name in recipes() else with_flat(
        recipe_config(algos.get(algo).default_recipe), {"scene": scene, "base": "zero"})
    return resolve(with_flat(base, settings), algo)


def _updates(config: Any, ratio: int) -> int:
    per_iteration = config.algo.env_steps_per_iteration * ratio
    if per_iteration % config.algo.batch_size:
        raise SystemExit(f"{ratio} samples per env step is not a whole number of updates of batch "
                         f"{config.algo.batch_size} per iteration of {config.algo.env_steps_per_iteration} env steps")
    return per_iteration // config.algo.batch_size


def cost(algo: str, scene: str, seconds: float, **settings: Any) -> dict[str, Any]:
    """One train step of `algo`'s recipe (with `settings`), past warm-up, timed."""
    cfg = _config(algo, scene, warmup_steps=0, **settings)
    env, spec = build_env(cfg), algos.get(algo)
    step = spec.make_train_step(cfg.algo, env, schedules(cfg))
    state = spec.init(cfg.algo, env, jax.random.PRNGKey(0))
    timing = time_steady(lambda s: step(s)[0], state, seconds)
    a = cfg.algo
    samples = a.updates_per_iteration * a.batch_size
    per_s = a.env_steps_per_iteration / timing["per_call_s"]
    return {"algo": algo, "num_envs": a.num_envs, "env_steps_per_iteration": a.env_steps_per_iteration,
            "updates_per_iteration": a.updates_per_iteration, "batch_size": a.batch_size,
            "samples_per_env_step": samples / a.env_steps_per_iteration, "env_steps_per_s": per_s,
            "gradient_samples_per_s": samples / timing["per_call_s"],
            "us_per_gradient_sample": 1e6 * timing["per_call_s"] / samples, **timing}


def curve(scene: str, ratio: int, s: Settings) -> dict[str, Any]:
    """A fast-learner run at `ratio` samples per env step for `s.minutes`, and its held-out curve."""
    sizes = QUICK if s.quick else {}
    cfg = _config("fast_td3", scene, **sizes)
    out = os.path.join(s.out_dir, f"{scene}_ratio{ratio}")
    argv = ["--scene", scene, "--base", "zero", "--updates-per-iteration", str(_updates(cfg, ratio)),
            "--stop-after-minutes", str(s.minutes), "--eval-every", str(s.eval_every),
            "--total-steps", "100000000", "--out", out, "--overwrite", "--wandb", "disabled"]
    for name, value in sizes.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    if s.quick:
        argv += ["--eval-every-episodes", "4", "--warmup-steps", "16"]
    if f"{scene}/zero/fast_td3" in recipes():
        argv = ["--recipe", f"{scene}/zero/fast_td3", *argv]
    cli.main("fast_td3", argv)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    points = [(r["time/wall_s"], r["env_steps"], r["eval/success_rate"]) for r in rows if "eval/success_rate" in r]
    by_time = [(t, v) for t, _, v in points]
    return {"ratio": ratio, "command": "python -m train.residual_fast_td3 " + " ".join(argv), "run_dir": out,
            "curve": [{"wall_s": t, "env_steps": n, "success": v} for t, n, v in points],
            "final_success": points[-1][2], "env_steps": points[-1][1], "wall_s": points[-1][0],
            "time_to_target": time_to_target(by_time, s.target)}


def plot(record: dict[str, Any], path: str) -> None:
    """Held-out success against env steps and against training minutes, one line per ratio."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c in record.get("curves", []):
        points = c["curve"]
        label = f"{c['ratio']} samples / env step"
        axes[0].plot([p["env_steps"] / 1e6 for p in points], [p["success"] for p in points], label=label)
        axes[1].plot([p["wall_s"] / 60 for p in points], [p["success"] for p in points], label=label)
    for ax, xlabel in zip(axes, ("env steps (M)", "training minutes")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("held-out success")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"fast_td3 on {record['scene']}, zero base ({machine_line(record['machine'])})")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    s = tyro.cli(Settings, args=argv, description=__doc__)
    info = machine()
    print(machine_line(info))
    record: dict[str, Any] = {"machine": info, "scene": s.scene, "settings": dataclasses.asdict(s), "cost": []}
    path = s.json or f"benchmarks/results/fast_off_policy_{s.scene}_{machine_tag()}.json"
    sizes = QUICK if s.quick else {}
    for ratio in s.ratios:  # refuse a bad ratio before timing anything
        _updates(_config("fast_td3", s.scene, **sizes), ratio)
    sac = cost("sac", s.scene, s.cost_seconds, **sizes)
    record["cost"].append(sac)
    print(f"sac: {sac['env_steps_per_s']:,.0f} env steps/s, {sac['us_per_gradient_sample']:.1f} us per gradient sample")
    for ratio in s.ratios:
        fast = cost("fast_td3", s.scene, s.cost_seconds, **sizes,
                    updates_per_iteration=_updates(_config("fast_td3", s.scene, **sizes), ratio))
        fast["vs_sac_env_steps_per_s"] = fast["env_steps_per_s"] / sac["env_steps_per_s"]
        record["cost"].append(fast)
        print(f"fast_td3 at {ratio} samples/env step: {fast['env_steps_per_s']:,.0f} env steps/s "
              f"({fast['vs_sac_env_steps_per_s']:.2f}x SAC), {fast['us_per_gradient_sample']:.1f} us per gradient sample")
    write_record(path, record)
    if not s.skip_curves:
        record["curves"] = []
        for ratio in s.ratios:
            record["curves"].append(curve(s.scene, ratio, s))
            c = record["curves"][-1]
            print(f"ratio {ratio}: {c['final_success']:.1%} after {c['env_steps']:,} env steps in {c['wall_s'] / 60:.1f} min")
            write_record(path, record)
        plot(record, path.replace(".json", ".png"))
    return record


if __name__ == "__main__":
    main()
