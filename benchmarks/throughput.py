"""The project's speed report: every scene on every engine at several batch sizes, three figures each.

    python -m benchmarks.throughput                    # CPU defaults: paper_square on c, mjx, warp
    python -m benchmarks.throughput --preset all       # every scene x mjx, c, warp at 256 envs
    python -m benchmarks.throughput --preset gpu       # paper_square, mjx + warp, 1,024..16,384 envs
    python -m benchmarks.throughput --scenes paper_square --engines mjx --num-envs 256,1024

For each (scene, engine, num_envs) it times, after a warm-up call that compiles (reported apart as
`compile_s`; `block_until_ready` on every call), the figures of `benchmarks.throughput_figures`:
`env` (env steps alone), `env_policy` (the residual env with its scripted base + the PPO policy's
forward pass, as in a training rollout), `train_ppo` (a whole PPO iteration, updates included) and,
on the Fetch-like scenes, `train_sac` (a SAC + HER iteration). Each record gives env (policy)
steps/s and physics steps/s (policy steps x physics substeps), and counts XLA compilations during
the timed calls (`compiles_in_timed_region`, 0 when nothing recompiled). References on the same
models: single-thread C `mj_step`, and raw `mujoco.rollout` on all cores at each batch size.

Each record: scene, engine, num_envs, figure, policy_steps_per_s (= env steps/s),
physics_steps_per_s, substeps, compile_s, first_call_s, build_s (env/state set-up, its own jits),
env_steps_per_call, per_call_s, calls, timed_s, compiles_in_timed_region, dr, machine, xla_flags,
what defines the figure (base, algo, updates_per_call, ...), and on `env` records the references.

It writes JSON (rewritten after every measurement, so an interrupted run keeps what it measured)
and a PNG plot, throughput against num_envs, to benchmarks/results/throughput_<machine tag>.*.
An engine that cannot start here (e.g. `warp` without warp-lang) is recorded with its reason.
`warp` runs on the CPU too (Warp's `cpu` device); the first figure's `compile_s` includes compiling
Warp's kernels when its cache ($WARP_CACHE_PATH, default ~/.cache/warp) is empty.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import json
import os
import time
from typing import Any, Literal

from mjx_gr00t import cli_args

from benchmarks import throughput_figures as figs
from benchmarks.common import machine_tag, mj_step_per_s
from benchmarks.common import raw_rollout_physics_steps_per_s, time_steady
from benchmarks.plot import plot_throughput
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.errors import UsageError
from mjx_gr00t.machine import machine, machine_line

BENCH_ENGINES: tuple[str, ...] = ("mjx", "c", "warp")
FETCH_SCENES = "fetch_pick_place,fetch_push,fetch_reach"
Block = tuple[str, str, str]
"""(scenes, engines, num_envs), each comma-separated: every scene on every engine at every size."""
PRESETS: dict[str, tuple[Block, ...]] = {
    "cpu": (("paper_card", "c", "64,256,1024"), ("paper_card", "mjx", "256"),
            (FETCH_SCENES, "c", "256"), ("paper_card", "warp", "256")),
    "all": (("paper_square," + FETCH_SCENES, "mjx,c,warp", "256"),),
    "gpu": (("paper_card", "mjx,warp", "1024,2048,4096,8192,16384"),),
}


@dataclasses.dataclass(frozen=True)
class Args:
    """Env-steps/s and physics-steps/s of every scene, engine and batch size: env alone, env +
    policy inference, and full training (PPO; SAC on the Fetch-like scenes)."""

    preset: Literal["cpu", "all", "gpu"] = "cpu"
    """What to run when none of --scenes/--engines/--num-envs is given.
    cpu: paper_square on c at 64,256,1024 envs and on mjx and warp at 256; the Fetch-like scenes
    on c at 256 (about 10 min on 2 cores when warp was skipped; warp on a CPU steps 10-15x slower
    than c at 256 envs, and compiles its kernels once: 1-1.5 min with an empty Warp cache).
    all: every scene on mjx, c and warp at 256 envs (about 17 min on 2 cores without warp, whose
    Fetch-like scenes on a CPU add far more).
    gpu: paper_square on mjx and warp at 1024,2048,4096,8192,16384 envs."""
    scenes: str | None = None
    """Comma-separated scenes (registry.scenes()). Giving any of --scenes/--engines/--num-envs
    replaces the preset by their product; this one defaults to every scene."""
    engines: str | None = None
    """Comma-separated physics engines among mjx, c, warp (default with --scenes/--num-envs:
    all three)."""
    num_envs: str | None = None
    """Comma-separated batch sizes, e.g. 64,256,1024 (default with --scenes/--engines: 256; 4
    with --quick)."""
    figures: str = ",".join(figs.FIGURES)
    """Comma-separated figures: env, env_policy, train_ppo, train_sac (Fetch-like scenes only)."""
    steps: int = 16
    """Policy steps per timed call of the env and env_policy figures (a PPO iteration is
    the default PPO recipe's unroll length, 16)."""
    min_time: float = 1.0
    """Seconds each figure is timed for at least (after the warm-up call)."""
    min_calls: int = 1
    """Timed calls each figure makes at least."""
    dr: Literal["on", "off"] = "on"
    """Domain randomisation in the benchmarked envs."""
    json: str | None = None
    """JSON path; the PNG goes beside it. Default benchmarks/results/throughput_<machine tag>.json
    (throughput_<machine tag>_quick.json with --quick)."""
    append: bool = False
    """Keep the records already in the --json file and add to them (e.g. a GPU run split over
    several commands); the machine must be the same."""
    quick: bool = False
    """Tiny sizes for tests: 4 steps per call, one timed call, short references; unless
    --scenes/--engines/--num-envs say otherwise, paper_square on c at 4 envs."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """The validated choices of a run: (scene, engine, batch sizes) groups, in run order."""

    groups: tuple[tuple[str, str, tuple[int, ...]], ...]
    figures: tuple[str, ...]
    json_path: str
    png_path: str


def _names(flag: str, text: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in names if x not in valid]
    if not names or bad:
        raise UsageError(f"--{flag} {text!r}: unknown {', '.join(bad) or '(empty)'}; choose from {', '.join(valid)}")
    return names


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"--num-envs must be comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--num-envs needs batch sizes >= 1, got {text!r}")
    return sizes


def _blocks(args: Args) -> tuple[Block, ...]:
    if args.scenes is None and args.engines is None and args.num_envs is None:
        return (("paper_card", "c", "4"),) if args.quick else PRESETS[args.preset]
    return ((args.scenes or ",".join(registry.scenes()), args.engines or ",".join(BENCH_ENGINES),
             args.num_envs or ("4" if args.quick else "256")),)


def plan(args: Args) -> Plan:
    """Checks the flags (UsageError saying what to fix) and expands the preset or the flags."""
    if args.steps < 1 or args.min_calls < 1 or not args.min_time >= 0:
        raise UsageError(f"--steps and --min-calls must be >= 1 and --min-time >= 0, got "
                         f"{args.steps}, {args.min_calls}, {args.min_time}")
    groups = []
    for scenes, engines, num_envs in _blocks(args):
        sizes = _sizes(num_envs)
        for scene in _names("scenes", scenes, tuple(registry.scenes())):
            groups += [(scene, engine, sizes) for engine in _names("engines", engines, BENCH_ENGINES)]
    name = f"throughput_{machine_tag()}{'_quick' if args.quick else ''}.json"  # quick never overwrites
    json_path = args.json or os.path.join("benchmarks", "results", name)
    return Plan(groups=tuple(groups), figures=_names("figures", args.figures, figs.FIGURES),
                json_path=json_path, png_path=os.path.splitext(json_path)[0] + ".png")


def measure(figure: str, spec: figs.Spec, env: EpisodeEnv, args: Args) -> dict[str, Any]:
    """One record: builds `figure`'s workload on the scene's plain `env`, warms it up, times it."""
    start = time.perf_counter()
    work = figs.build(figure, spec, env)
    build_s = time.perf_counter() - start
    t = time_steady(work.step, work.carry, 0.0 if args.quick else args.min_time,
                    1 if args.quick else args.min_calls)
    rate = work.env_steps_per_call / t["per_call_s"]
    substeps = figs.physics_substeps(env.task)
    return {
        "scene": spec.scene, "engine": spec.engine, "num_envs": spec.num_envs, "figure": figure,
        "policy_steps_per_s": rate, "physics_steps_per_s": rate * substeps,
        # The warm-up call less one timed call; on a busy machine the difference can dip below 0.
        "compile_s": max(t["first_call_s"] - t["per_call_s"], 0.0), "first_call_s": t["first_call_s"],
        "build_s": build_s, "substeps": substeps,
        "env_steps_per_call": work.env_steps_per_call, "per_call_s": t["per_call_s"],
        "calls": t["calls"], "timed_s": t["timed_s"],
        "compiles_in_timed_region": t["compiles_in_timed_region"], "dr": spec.dr, **work.details,
    }


def _line(rec: dict[str, Any]) -> str:
    warn = f"  RECOMPILED {rec['compiles_in_timed_region']}x while timed" if rec["compiles_in_timed_region"] else ""
    return (f"{rec['policy_steps_per_s']:>11,.0f} env steps/s {rec['physics_steps_per_s']:>12,.0f} "
            f"physics steps/s, compile {rec['compile_s']:.1f} s{warn}")


class Report:
    """The run's JSON: machine, settings, references, records and skips; rewritten on each change."""

    def __init__(self, args: Args, p: Plan) -> None:
        self.path, self.info = p.json_path, machine()
        self.data: dict[str, Any] = {
            "machine": self.info, "machine_tag": machine_tag(), "settings": dataclasses.asdict(args),
            "references": {}, "records": [], "skipped": [],
        }
        if args.append and os.path.exists(self.path):
            with open(self.path) as f:
                old = json.load(f)
            if old.get("machine_tag") != self.data["machine_tag"]:
                raise UsageError(f"--append: {self.path} was measured on {old.get('machine_tag')!r}, "
                                 f"this is {self.data['machine_tag']!r}; pick another --json")
            for key in ("references", "records", "skipped"):
                self.data[key] = old[key]

    def add(self, key: str, item: dict[str, Any]) -> None:
        if key == "records":
            item = {**item, "machine": machine_line(self.info), "xla_flags": self.info["xla_flags"]}
        self.data[key].append(item)
        self.write()

    def write(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "w") as f:
            json.dump(self.data, f, indent=2)


def _references(report: Report, scene: str, task: Any, n: int, quick: bool) -> dict[str, float]:
    """Single-thread `mj_step` and raw `mujoco.rollout` rates on the scene's model (cached)."""
    refs = report.data["references"].setdefault(scene, {"raw_rollout_physics_steps_per_s": {}})
    if "mj_step_per_s" not in refs:
        refs["mj_step_per_s"] = mj_step_per_s(task.mj_model, 0.1 if quick else 1.0)
    raw = refs["raw_rollout_physics_steps_per_s"]
    if str(n) not in raw:
        raw[str(n)] = raw_rollout_physics_steps_per_s(task.mj_model, n, figs.physics_substeps(task),
                                                      2 if quick else 10)
    return {"reference_mj_step_per_s": refs["mj_step_per_s"], "raw_rollout_physics_steps_per_s": raw[str(n)]}


def _figures(p: Plan, scene: str) -> list[str]:
    return [f for f in p.figures if f in figs.figures_for(scene)]


def main(args: Args) -> dict[str, Any]:
    """Runs the plan; returns the JSON record (also written to disk with the PNG)."""
    p = plan(args)
    report = Report(args, p)
    runs = "; ".join(f"{scene} {engine} n={','.join(map(str, sizes))}" for scene, engine, sizes in p.groups)
    print(f"machine: {machine_line(report.info)}\nXLA_FLAGS: {report.info['xla_flags']}\n"
          f"runs: {runs}\nfigures {','.join(p.figures)}; writing {p.json_path}", flush=True)
    total = sum(len(sizes) * len(_figures(p, scene)) for scene, _, sizes in p.groups)
    done, start = 0, time.perf_counter()
    steps = 4 if args.quick else args.steps
    for scene, engine, sizes in p.groups:
        figures = _figures(p, scene)
        try:
            env = figs.plain_env(figs.Spec(scene, engine, sizes[0], args.dr == "on"))
        except (RuntimeError, ValueError, SystemExit) as err:
            reason = str(err)
            print(f"{scene} on {engine}: skipped, {reason}", flush=True)
            report.add("skipped", {"scene": scene, "engine": engine, "reason": reason})
            done += len(sizes) * len(figures)
            continue
        for n in sizes:
            spec = figs.Spec(scene, engine, n, args.dr == "on", steps)
            for figure in figures:
                done += 1
                print(f"[{done}/{total} {time.perf_counter() - start:5.0f} s] {scene} {engine} "
                      f"n={n} {figure}: ", end="", flush=True)
                try:
                    rec = measure(figure, spec, env, args)
                except Exception as err:  # e.g. out of device memory at a large batch
                    reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                    print(f"failed, {reason}", flush=True)
                    report.add("skipped", {"scene": scene, "engine": engine, "num_envs": n,
                                           "figure": figure, "reason": reason})
                    continue
                if figure == "env":
                    rec.update(_references(report, scene, env.task, n, args.quick))
                print(_line(rec), flush=True)
                report.add("records", rec)
    plot_throughput(report.data, p.png_path)
    print(f"done in {time.perf_counter() - start:.0f} s; wrote {p.json_path} and {p.png_path}", flush=True)
    return report.data


if __name__ == "__main__":
    main(cli_args.cli(Args))
