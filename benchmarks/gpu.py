"""One prepared GPU run: every GPU figure this project wants, in at most 8 minutes, into one JSON.

    bash benchmarks/gpu_check.sh                          # on one H100 or H200
    python -m benchmarks.gpu --smoke --out /tmp/gpu.json  # the same code paths on a CPU, < 1 min
    python -m benchmarks.gpu --sections bridge render     # only some sections

Sections, in this order, each under its own time cap and all under one deadline (`--deadline-s`):
- `bridge`: the GR00T bridge with the tiny model (`bridge.tiny`) on CUDA: DLPack device pointers
  checked equal both ways (JAX -> torch -> JAX), then timed (B, 16, 6) chunk queries at B envs;
- `render`: MJX's Warp batch renderer (`BatchRenderer(backend="warp")`), front + wrist 224 x 224,
  frames/s at 1,024 envs;
- `time_to_target`: residual PPO (IK base, DR on; the runner's builders and the default PPO recipe,
  `python -m train.residual_ppo`'s defaults) at 4,096 envs for at most 3 minutes of training clock;
  held-out success (512 episodes, fixed seeds) every 15 s of it, off the clock; the time at which
  success reaches the target (0.8) and then holds (`mjx_gr00t.time_to_target`), or null when it
  does not within the cap;
- `throughput`: engines mjx and warp at 4,096, 16,384 and 1,024 envs (in that order): the env alone
  and one jitted PPO iteration, env steps/s and physics steps/s after warm-up, counting XLA
  compiles in the timed region (`benchmarks.common.time_steady`).

Time (default: 455 s, then 15 s of grace; 8 minutes with the start): each section may take at most
its share of the deadline (`Plan.caps`); one that cannot start in the time left is recorded as
skipped for time, and inside a section, work that the time left cannot hold is skipped and listed.
At the deadline plus the grace a watchdog writes the JSON as it stands and ends the process (exit
status 3). Each section records `status` (ok, partial, skipped, error) with its reason; one failing
section does not stop the others. The JSON is rewritten after every measurement.

Without a GPU (and without `--smoke`) it says so in one line and exits with status 1.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Literal

import jax
from mjx_gr00t import cli_args

from benchmarks.common import machine_tag
from mjx_gr00t.errors import UsageError
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.machine import machine, machine_line

SectionName = Literal["bridge", "render", "time_to_target", "throughput"]
EngineName = Literal["mjx", "warp", "c"]
BackendName = Literal["warp", "auto", "osmesa", "egl", "glfw"]
SECTIONS: tuple[SectionName, ...] = ("bridge", "render", "time_to_target", "throughput")
ENGINES: tuple[str, ...] = ("mjx", "warp", "c")
EXIT_DEADLINE: int = 3
MIN_START_S: dict[str, float] = {"bridge": 5.0, "render": 10.0, "time_to_target": 60.0, "throughput": 20.0}
"""Seconds a section needs left to start at all (a tenth of this with --smoke)."""
PACKAGES: tuple[str, ...] = ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt", "mujoco", "mujoco-mjx",
                             "warp-lang", "torch", "brax", "flax", "optax", "numpy", "tyro")


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one run measures; `FULL` on a GPU, `SMOKE` on a CPU, flags override either."""

    engines: tuple[str, ...]
    num_envs: tuple[int, ...]
    steps: int
    """Policy steps per timed call of the env-alone figure."""
    min_time_s: float
    """Seconds each throughput figure is timed for at least, after its warm-up call."""
    ttt_engine: str
    ttt_envs: int
    ttt_cap_s: float
    """Training-clock cap of the time-to-target run."""
    ttt_total_steps: int
    """total_steps of that run (sets the linear learning-rate decay; the cap usually ends it first)."""
    ttt_eval_every_s: float
    ttt_eval_episodes: int
    ttt_target: float
    ttt_hold: int
    bridge_envs: int
    bridge_repeats: int
    render_envs: int
    render_backend: str
    deadline_s: float
    grace_s: float
    """Seconds past the deadline before the watchdog ends the run (work in flight cannot be cut)."""
    caps: tuple[tuple[str, float], ...]
    """(section, the most it may take of the deadline, as a fraction): no section starts work past
    min(its start + fraction x deadline, the deadline), so an early one cannot starve the rest."""
    sections: tuple[str, ...] = SECTIONS
    smoke: bool = False
    seed: int = 0


FULL = Plan(
    engines=("mjx", "warp"), num_envs=(4096, 16384, 1024), steps=16, min_time_s=2.0,
    ttt_engine="mjx", ttt_envs=4096, ttt_cap_s=180.0, ttt_total_steps=30_000_000, ttt_eval_every_s=15.0,
    ttt_eval_episodes=512, ttt_target=0.8, ttt_hold=3, bridge_envs=1024, bridge_repeats=5,
    render_envs=1024, render_backend="warp", deadline_s=455.0, grace_s=15.0,
    caps=(("bridge", 0.06), ("render", 0.09), ("time_to_target", 0.6), ("throughput", 1.0)),
)
SMOKE = Plan(
    engines=("c",), num_envs=(8,), steps=2, min_time_s=0.0,
    ttt_engine="c", ttt_envs=8, ttt_cap_s=3.0, ttt_total_steps=8 * 16 * 200, ttt_eval_every_s=1.0,
    ttt_eval_episodes=8, ttt_target=0.8, ttt_hold=3, bridge_envs=8, bridge_repeats=2,
    render_envs=8, render_backend="warp", deadline_s=55.0, grace_s=5.0,
    caps=(("bridge", 0.25), ("render", 0.3), ("time_to_target", 0.6), ("throughput", 1.0)),
    smoke=True,
)
SMOKE_NOTES: dict[str, str] = {
    "engines": "engine c stands in for mjx and warp (same code path, engine is a parameter): on a 2-core "
               "EPYC, MJX compiles paper_square for about 90 s of CPU time and Warp's cpu device needs about "
               "25 s for one env figure at 8 envs; --smoke --engines c warp adds warp",
    "sizes": "8 envs, a few steps, short caps: the figures are not GPU figures",
    "bridge": "torch on the CPU: the DLPack pointers are checked on the CPU",
    "render": "Warp's renderer on Warp's cpu device (slow; the first kernel build takes ~10-20 s)",
    "xla_flags": "the CLI adds --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
                 "(CPU compiles about 40 % faster; the smoke checks code paths, not speed)",
}


@dataclasses.dataclass(frozen=True)
class Args:
    """One prepared GPU run: env and PPO throughput (mjx, warp), PPO time to target, the GR00T
    bridge on CUDA and Warp batch rendering, into one JSON, in at most 8 minutes."""

    smoke: bool = False
    """Run the same code paths on the CPU with tiny sizes and short caps (under a minute); the
    JSON says what stands in for what."""
    out: str | None = None
    """JSON path. Default benchmarks/results/gpu_check_<machine tag>.json (_smoke.json with --smoke)."""
    sections: tuple[SectionName, ...] = SECTIONS
    """Sections to run, in the fixed order bridge, render, time_to_target, throughput."""
    engines: tuple[EngineName, ...] | None = None
    """Throughput engines (default mjx warp; --smoke: c)."""
    num_envs: tuple[int, ...] | None = None
    """Throughput batch sizes, measured in this order (default 4096 16384 1024: the time-to-target
    size first, whose mjx PPO step is compiled by then; --smoke: 8)."""
    deadline_s: float | None = None
    """Seconds from start after which no new work starts (default 455; --smoke 55); the watchdog
    ends the run 15 s later (--smoke: 5 s), so the default run ends within 8 minutes."""
    ttt_engine: EngineName | None = None
    """Engine of the time-to-target run (default mjx; --smoke c)."""
    ttt_envs: int | None = None
    """Envs of the time-to-target run (default 4096; --smoke 8)."""
    ttt_cap_s: float | None = None
    """Training-clock cap of the time-to-target run, seconds (default 180; --smoke 3)."""
    ttt_target: float | None = None
    """Held-out success rate to reach and hold (default 0.8: the default CPU run ends at 0.855, 95 %
    CI 0.807..0.893, so a policy at that level holds 0.8 despite evaluation noise)."""
    ttt_eval_every_s: float | None = None
    """Training-clock seconds between held-out evaluations (default 15; --smoke 1)."""
    ttt_eval_episodes: int | None = None
    """Held-out episodes per evaluation, always the same seeds (default 512; --smoke 8)."""
    bridge_envs: int | None = None
    """Envs per timed GR00T chunk query (default 1024; --smoke 8)."""
    render_envs: int | None = None
    """Envs per batch render call (default 1024; --smoke 8)."""
    render_backend: BackendName | None = None
    """BatchRenderer backend (default warp; auto: warp on a CUDA GPU, else OpenGL)."""
    seed: int = 0
    """Seeds env states, networks and the model's noise."""


def plan(args: Args) -> Plan:
    """The preset with the flags applied; UsageError (one line) for a value that cannot work."""
    base = SMOKE if args.smoke else FULL
    chosen = {f.name: getattr(args, f.name) for f in dataclasses.fields(Args)
              if f.name not in ("smoke", "out", "sections", "seed") and getattr(args, f.name) is not None}
    p = dataclasses.replace(base, **chosen, sections=tuple(s for s in SECTIONS if s in args.sections),
                            seed=args.seed)
    bad_engines = [e for e in (*p.engines, p.ttt_engine) if e not in ENGINES]
    from mjx_gr00t.render import BACKENDS

    for ok, message in (
        (not bad_engines, f"unknown engine {', '.join(bad_engines)}; choose from {', '.join(ENGINES)}"),
        (bool(p.engines) and bool(p.num_envs), "--engines and --num-envs need at least one value each"),
        (min((*p.num_envs, p.ttt_envs, p.bridge_envs, p.render_envs)) >= 1, "env counts must be >= 1"),
        (p.deadline_s > 0 and p.ttt_cap_s > 0 and p.ttt_eval_every_s > 0,
         "--deadline-s, --ttt-cap-s and --ttt-eval-every-s must be > 0"),
        (0.0 < p.ttt_target <= 1.0, f"--ttt-target must be in (0, 1], got {p.ttt_target}"),
        (p.ttt_eval_episodes >= 1, f"--ttt-eval-episodes must be >= 1, got {p.ttt_eval_episodes}"),
        (p.render_backend in BACKENDS, f"--render-backend {p.render_backend!r}: choose from {', '.join(BACKENDS)}"),
        (bool(p.sections), "--sections needs at least one section"),
    ):
        if not ok:
            raise UsageError(message)
    return p


def require_gpu(smoke: bool) -> None:
    """UsageError (one line, exit status 1) when JAX sees only CPUs and this is not a smoke run."""
    platforms = sorted({d.platform for d in jax.devices()})
    if platforms == ["cpu"] and not smoke:
        raise UsageError("gpu_check: no GPU visible to JAX (devices: cpu); run on a GPU machine, or pass "
                         "--smoke to exercise the code on the CPU")


def versions() -> dict[str, str | None]:
    """Installed versions of Python and the packages the figures depend on (None: not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def device_info() -> dict[str, Any]:
    """The accelerator, as JAX names it and (where present) as nvidia-smi does."""
    d = jax.devices()[0]
    info: dict[str, Any] = {"platform": d.platform, "device_kind": d.device_kind, "count": len(jax.devices()),
                            "jax_devices": [str(x) for x in jax.devices()], "nvidia_smi": None}
    try:
        info["platform_version"] = str(d.client.platform_version)
    except Exception:  # noqa: BLE001  (a detail; some backends do not say)
        info["platform_version"] = None
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
            info["nvidia_smi"] = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError) as err:
            info["nvidia_smi"] = f"failed: {err}"
    return info


class Report:
    """The run's JSON, rewritten atomically after every change (a lock keeps the watchdog out)."""

    def __init__(self, path: str, data: dict[str, Any], start: float) -> None:
        self.path, self.data, self.start, self.lock = path, data, start, threading.RLock()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self) -> None:
        with self.lock:
            self.data["wall_s"] = time.monotonic() - self.start
            self.data["process_cpu_s"] = time.process_time()  # against wall_s: how much CPU this run got
            write_json_atomic(self.path, self.data)


class Section:
    """One section's slice of the report and its clock: `left()` seconds it may still start work in."""

    def __init__(self, name: str, report: Report, plan: Plan, end: float) -> None:
        self.name, self.report, self.plan, self.end = name, report, plan, end
        self.data: dict[str, Any] = report.data["sections"][name]
        self.current = "starting"

    def left(self) -> float:
        return self.end - time.monotonic()

    def save(self) -> None:
        self.report.write()

    def skip(self, item: dict[str, Any], reason: str) -> None:
        """Lists `item` as not measured, with why."""
        self.data.setdefault("skipped", []).append({**item, "reason": reason})
        self.save()


def run_section(section: Section, fn: Callable[[Section], None]) -> None:
    """Runs one section; its exceptions are recorded (status error), never raised."""
    from benchmarks.gpu_sections import error_text

    start = time.monotonic()
    section.data.update(status="running", started_at_s=start - section.report.start)
    section.save()
    try:
        fn(section)
        status = section.data.get("status")
        if status == "running":
            section.data["status"] = "partial" if section.data.get("skipped") else "ok"
    except (Exception, SystemExit) as err:  # noqa: BLE001  (sections are independent: record, go on)
        section.data.update(status="error", reason=error_text(err),
                            traceback=traceback.format_exc().strip().splitlines()[-6:])
    section.data["wall_s"] = time.monotonic() - start
    section.save()


def stop_at_hard_deadline(report: Report, current: str) -> None:
    """Marks the report as cut at the hard deadline (the running section: partial if it measured
    something, else skipped, naming `current`, the work in flight; the pending ones: skipped for
    time) and writes it."""
    with report.lock:
        report.data["deadline"]["hit"] = True
        for sec in report.data["sections"].values():
            if sec["status"] == "running":
                measured = any(sec.get(key) for key in ("records", "curve", "dlpack", "first_call_s"))
                sec.update(status="partial" if measured else "skipped",
                           reason=f"stopped for time at the hard deadline while running {current}",
                           wall_s=time.monotonic() - report.start - sec["started_at_s"])
            elif sec["status"] == "pending":
                sec.update(status="skipped", reason="skipped for time: the hard deadline passed")
        for attempt in range(3):  # the main thread may be changing the report as it is written
            try:
                report.write()
                return
            except (RuntimeError, ValueError):
                if attempt == 2:
                    raise
                time.sleep(0.05)


def _watchdog(report: Report, current: Callable[[], str], hard_end: float) -> threading.Thread:
    """A daemon thread that, at `hard_end`, writes the report as it stands and ends the process
    (exit status EXIT_DEADLINE). `current()` names the work in flight."""

    def fire() -> None:
        time.sleep(max(0.0, hard_end - time.monotonic()))
        try:
            stop_at_hard_deadline(report, current())
            print(f"gpu_check: stopped at the hard deadline; wrote {report.path}", file=sys.stderr, flush=True)
        finally:
            os._exit(EXIT_DEADLINE)

    thread = threading.Thread(target=fire, name="gpu_check-watchdog", daemon=True)
    thread.start()
    return thread


def summary(name: str, d: dict[str, Any]) -> str:
    """One line of a finished section for the console."""
    if d["status"] not in ("ok", "partial"):
        return f"{d['status']}: {d.get('reason')}"
    if name == "throughput":
        return (f"{d['status']}: {len(d['records'])} measured, {len(d['skipped'])} skipped, "
                f"{len(d['failed'])} failed")
    if name == "time_to_target":
        r, held = d["result"], d["result"]["held_s"]
        reached = f"held >= {r['target']} from {held:.1f} s" if held is not None else f"did not hold {r['target']}"
        return (f"{d['status']}: held-out success {reached}; final {d['final_success']:.3f} after "
                f"{d['train_clock_s']:.1f} s of training ({d['iterations']} iterations), stopped by "
                f"{d['stopped_because']}")
    if name == "bridge":
        return (f"{d['status']}: DLPack pointers equal: {d['dlpack']['all_pointers_equal']}; chunk query "
                f"{1e3 * d['query']['median_s']:.1f} ms at {d['query']['num_envs']} envs on {d['device']}")
    return f"{d['status']}: {d['frames_per_s']:,.0f} frames/s at {d['num_envs']} envs ({d['backend']})"


def default_out(smoke: bool) -> str:
    return os.path.join("benchmarks", "results", f"gpu_check_{machine_tag()}{'_smoke' if smoke else ''}.json")


def run(args: Args, start: float | None = None, hard_exit: bool = True) -> dict[str, Any]:
    """Runs the plan and returns the report (also written to --out). start: the run clock's zero
    (time.monotonic(); default now). hard_exit: arm the watchdog that ends the process."""
    start = time.monotonic() if start is None else start
    p = plan(args)
    require_gpu(args.smoke)
    from benchmarks import gpu_sections

    info = machine()
    data: dict[str, Any] = {
        "what": "benchmarks.gpu (issue 13 item 6): one prepared GPU run", "smoke": p.smoke,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device_info(), "machine": info, "machine_line": machine_line(info),
        "machine_tag": machine_tag(), "versions": versions(), "plan": dataclasses.asdict(p),
        "smoke_notes": SMOKE_NOTES if p.smoke else None,
        "deadline": {"soft_s": p.deadline_s, "hard_s": p.deadline_s + p.grace_s, "hit": False,
                     "clock": "seconds since the run started (after Python and JAX loaded, ~2 s)"},
        "sections": {name: {"status": "pending" if name in p.sections else "skipped",
                            "reason": None if name in p.sections else "not asked for (--sections)"}
                     for name in SECTIONS},
    }
    report = Report(args.out or default_out(p.smoke), data, start)
    report.write()
    print(f"gpu_check: {data['machine_line']}; {data['device']['device_kind']}; writing {report.path}", flush=True)
    caps = {name: fraction * p.deadline_s for name, fraction in p.caps}
    current: list[Section] = []
    if hard_exit:
        _watchdog(report, lambda: current[-1].current if current else "the set-up", start + p.deadline_s + p.grace_s)
    deadline = start + p.deadline_s
    for name in p.sections:
        end = min(deadline, time.monotonic() + caps[name])
        section = Section(name, report, p, end)
        current.append(section)
        need = MIN_START_S[name] * (0.1 if p.smoke else 1.0)
        if section.left() < need:
            section.data.update(status="skipped", reason=f"skipped for time: {max(section.left(), 0):.1f} s "
                                f"left before the deadline, the section needs at least {need:.1f} s")
            section.save()
        else:
            run_section(section, getattr(gpu_sections, name))
        print(f"gpu_check: {name}: {summary(name, section.data)}", flush=True)
    data["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report.write()
    print(f"gpu_check: done in {data['wall_s']:.0f} s; wrote {report.path}", flush=True)
    return data


SMOKE_XLA_FLAGS: tuple[str, ...] = ("--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true")
"""Added with --smoke (CPU compiles about 40 % faster; the smoke checks code, not speed)."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m benchmarks.gpu` (and benchmarks/gpu_check.sh)."""
    start = time.monotonic()
    args = cli_args.cli(Args, args=argv)
    if args.smoke:  # XLA reads its flags when the backend starts, which has not happened yet
        os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *SMOKE_XLA_FLAGS]).strip()
    return run(args, start=start)


if __name__ == "__main__":
    main()
