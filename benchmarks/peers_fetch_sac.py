"""benchmarks.peers, part `fetch_sac`: wall time to 90 % held-out success on pick-and-place, our SAC +
HER against Stable-Baselines3 SAC + HER, each on its own env.

    python -m benchmarks.peers_fetch_sac                 # 30 min of training per side at most
    python -m benchmarks.peers_fetch_sac --quick         # tiny sizes, for tests (seconds)
    python -m benchmarks.peers_fetch_sac --ours runs/sac-fetch_pick_place-zero-...   # reuse our run

- Ours: `python -m train.residual_sac --scene fetch_pick_place --base zero` (SAC + HER; DR on unless
  --no-ours-dr) in a child process, with `--eval-every`: held-out evaluation of the deterministic
  policy on `--eval-every-episodes` episodes from `--eval-seed` (the same episodes every time), off
  the training clock. Its curve is (time/wall_s, eval/success_rate) from DIR/metrics.jsonl;
  time/wall_s starts with the training loop (the train step's compile counts) and excludes the
  evaluations. Or `--ours DIR`: a run made so before (one clear line if it was resumed or has no
  held-out evaluations).
- SB3: `SAC("MultiInputPolicy")` with `HerReplayBuffer` on Gymnasium-Robotics `FetchPickAndPlace-v4`
  (the whole arm, mocap weld; no DR), SB3's defaults plus the rl-baselines3-zoo hyperparameters for
  FetchPickAndPlace (`peers_fetch_sac_sb3`, which cites them), in a child `python -O` process
  (`python -O -m benchmarks.peers_fetch_sac_sb3`; see `benchmarks.peers_fetch` for why -O). A
  callback pauses the training clock every `sb3_eval_every_s` seconds of training and evaluates the
  deterministic policy on `eval_episodes` episodes of a separate eval env reset with seeds
  eval_seed + i (the same episodes every time). The clock starts just before `learn()` (its first
  reset counts) and excludes the evaluations.
Success, on both sides: the task's success (object within 5 cm of the goal) at the episode's last
(50th) step.

Time to target: `mjx_gr00t.time_to_target` on each curve (held to the end, held for `hold`
evaluations, and the first crossing, labelled); the headline is the `hold`-evaluation figure, and
with `stop_when_held` each side stops once its target has held for `hold` evaluations in a row.
ratio = SB3's time / ours. Budgets per side: `minutes` of training clock and a max env-steps cap;
a side that stops short reports null (not reached) with its final success (its last evaluation).
A side may overrun its time cap by one iteration plus POLL_S (ours) or one env step (SB3).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Literal

from mjx_gr00t import cli_args

from benchmarks.peers_fetch import PEER_ID, REPO, child_env
from mjx_gr00t.errors import UsageError
from mjx_gr00t.time_to_target import DEFINITION, held_time, ratio, time_to_target

SCENE: str = "fetch_pick_place"
POLL_S: float = 1.0
"""How often our run's metrics.jsonl is read to apply its budget."""


@dataclasses.dataclass(frozen=True)
class FetchSacSettings:
    """Wall time to a held-out success target on pick-and-place: our SAC + HER vs SB3 SAC + HER."""

    quick: bool = False
    """Tiny sizes for tests (seconds): changes the defaults of every size flag; flags given still win."""
    minutes: float = 30.0
    """Training-clock budget of each side, minutes (evaluations excluded)."""
    target: float = 0.9
    """Held-out success rate to reach."""
    hold: int = 3
    """Evaluations in a row at or above the target that count as reaching it (the headline figure)."""
    stop_when_held: bool = True
    """Stop a side once its target has held for --hold evaluations (--no-stop-when-held: run to the caps)."""
    eval_episodes: int = 128
    """Held-out episodes of each evaluation, on both sides."""
    eval_seed: int = 1_000_000
    """Seed of the held-out episodes (SB3: reset seeds eval_seed + i; ours: --eval-seed)."""
    seed: int = 0
    """Seed of both learners and their training envs."""
    ours: str | None = None
    """A finished `train.residual_sac` run on fetch_pick_place, trained with --eval-every, to read
    instead of training ours here."""
    ours_out: str | None = None
    """Run directory of our run made here (default: a new runs/sac-fetch_pick_place-zero-<time>)."""
    ours_max_steps: int = 2_000_000
    """Our --total-steps (the env-steps cap); the from-scratch run of train.residual_sac's docstring."""
    ours_eval_every: int = 60
    """Our --eval-every: iterations between held-out evaluations."""
    ours_engine: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Our physics engine ('auto': c on a CPU, mjx on a GPU)."""
    ours_dr: bool = True
    """Domain randomisation of our env (--no-ours-dr: nominal physics; the peer has none)."""
    ours_flags: str = "--buffer-capacity 1000000"
    """More train.residual_sac flags, as one string (default: the from-scratch run's buffer)."""
    sb3_max_steps: int = 1_000_000
    """SB3's env-steps cap (the zoo's n_timesteps for FetchPickAndPlace)."""
    sb3_eval_every_s: float = 60.0
    """Seconds of SB3 training between held-out evaluations."""
    sb3_torch_threads: int = 0
    """torch CPU threads of SB3 (0: torch's default, one per core)."""
    sb3_num_envs: int = 1
    """SB3 training envs (the zoo's default 1; more run in SubprocVecEnv worker processes)."""
    sb3_batch_size: int = 2048
    """SB3 minibatch size (zoo)."""
    sb3_learning_rate: float = 1e-3
    """SB3 learning rate (zoo)."""
    sb3_gamma: float = 0.95
    """SB3 discount (zoo)."""
    sb3_tau: float = 0.05
    """SB3 target-network Polyak rate (zoo)."""
    sb3_buffer_size: int = 1_000_000
    """SB3 replay buffer size (zoo)."""
    sb3_net_arch: tuple[int, ...] = (512, 512, 512)
    """SB3 hidden widths of actor and critics (zoo; 2 critics, SB3's default)."""
    sb3_learning_starts: int = 100
    """SB3 env steps before learning starts (SB3's default; the zoo entry sets none)."""
    sb3_n_sampled_goal: int = 4
    """HER relabelled goals per real one, strategy 'future' (zoo)."""


QUICK = FetchSacSettings(
    quick=True, minutes=5.0, eval_episodes=2, ours_max_steps=64, ours_eval_every=2,
    ours_flags=("--num-envs 4 --steps-per-iteration 2 --utd-ratio 0.25 --batch-size 8 --buffer-capacity 256 "
                "--warmup-steps 8 --actor-hidden 16 16 --critic-hidden 16 16 --checkpoint-every 1000"),
    sb3_max_steps=300, sb3_eval_every_s=1.0, sb3_torch_threads=1, sb3_batch_size=32, sb3_buffer_size=10_000,
    sb3_net_arch=(32, 32),
)


def validate(s: FetchSacSettings) -> None:
    """UsageError for settings that cannot work, saying what to change."""
    checks = [
        (s.minutes > 0, f"--minutes must be > 0, got {s.minutes}"),
        (0 < s.target <= 1, f"--target must be in (0, 1], got {s.target}"),
        (s.sb3_eval_every_s > 0, f"--sb3-eval-every-s must be > 0, got {s.sb3_eval_every_s}"),
        (s.sb3_torch_threads >= 0, f"--sb3-torch-threads must be >= 0, got {s.sb3_torch_threads}"),
        (s.sb3_learning_starts >= 0, f"--sb3-learning-starts must be >= 0, got {s.sb3_learning_starts}"),
        (bool(s.sb3_net_arch) and min(s.sb3_net_arch) >= 1, f"--sb3-net-arch needs widths >= 1, got {s.sb3_net_arch}"),
    ]
    for name in ("hold", "eval_episodes", "ours_max_steps", "ours_eval_every", "sb3_max_steps", "sb3_num_envs",
                 "sb3_batch_size", "sb3_buffer_size", "sb3_n_sampled_goal"):
        checks.append((getattr(s, name) >= 1, f"--{name.replace('_', '-')} must be >= 1, got {getattr(s, name)}"))
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    for module in ("gymnasium_robotics", "stable_baselines3"):
        if importlib.util.find_spec(module) is None:
            raise UsageError(f"part 'fetch_sac' needs {module}, which is not installed: install the peers extra "
                             "(pip install -e '.[peers]')")


# ----- child processes -----

def _start(cmd: list[str], keep_stdout: bool) -> tuple[subprocess.Popen, list[bytes], threading.Thread]:
    """Starts `cmd` in REPO; a thread copies its stderr (and its stdout unless `keep_stdout`: then a
    pipe) to our stderr as it comes (our stdout is the record's), keeping the last chunks for errors."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE if keep_stdout else subprocess.STDOUT)
    stream = proc.stderr if keep_stdout else proc.stdout
    tail: list[bytes] = []

    def pump() -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):  # type: ignore[union-attr]
            sys.stderr.write(chunk.decode(errors="replace"))
            sys.stderr.flush()
            tail.append(chunk)
            del tail[:-32]

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return proc, tail, thread


def _failure(what: str, cmd: list[str], rc: int, tail: list[bytes]) -> Exception:
    """UsageError with the child's own `error: ...` line if it printed one, else RuntimeError."""
    text = b"".join(tail).decode(errors="replace")
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    if errors:
        return UsageError(f"{what}: {errors[-1][len('error: '):]}")
    return RuntimeError(f"{what} failed (exit {rc}): {shlex.join(cmd)}\n{text[-3000:]}")


def run_sb3_process(s: FetchSacSettings) -> dict[str, Any]:
    """`peers_fetch_sac_sb3.sb3_side` in a child `python -O` process; its record."""
    cmd = [sys.executable, "-O", "-m", "benchmarks.peers_fetch_sac_sb3", json.dumps(dataclasses.asdict(s))]
    proc, tail, pump = _start(cmd, keep_stdout=True)
    out = proc.stdout.read().decode() if proc.stdout else ""
    rc = proc.wait()
    pump.join()
    if rc != 0:
        raise _failure("the SB3 side", cmd, rc, tail)
    return json.loads(out.strip().splitlines()[-1])


def ours_argv(s: FetchSacSettings, out: str) -> list[str]:
    """The train.residual_sac flags of our run made here."""
    return ["--scene", SCENE, "--base", "zero", "--dr" if s.ours_dr else "--no-dr", "--engine", s.ours_engine,
            "--total-steps", str(s.ours_max_steps), "--seed", str(s.seed), "--wandb", "disabled",
            "--eval-episodes", "0", "--eval-every", str(s.ours_eval_every),
            "--eval-every-episodes", str(s.eval_episodes), "--eval-seed", str(s.eval_seed), "--out", out,
            *shlex.split(s.ours_flags)]


def train_ours(s: FetchSacSettings) -> tuple[str, str, list[str]]:
    """Runs train.residual_sac in a child process, stopping it (SIGINT: it checkpoints and exits) at
    the time budget or once the target held; (run dir, stopped_by, command). Runner modules are
    imported here: the SB3 child process, which imports this module, loads none of our JAX stack."""
    from mjx_gr00t.rl import algos
    from mjx_gr00t.runner import cli, run, run_dir
    from mjx_gr00t.runner.metrics_log import METRICS_FILE, read_metrics
    from mjx_gr00t.runner.recipes import resolve

    out = s.ours_out or run_dir.default_out("sac", SCENE, "zero")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise UsageError(f"--ours-out {out!r} already exists; choose a new directory (or pass a finished run "
                         "as --ours)")
    argv = ours_argv(s, out)
    try:  # bad --ours-flags: one line, before any training
        run.validate(resolve(cli.parse("sac", argv), "sac"), algos.get("sac"))
    except UsageError as e:
        raise UsageError(f"--ours-flags {s.ours_flags!r}: {e.message}") from e
    except SystemExit as e:  # tyro printed what is wrong
        raise UsageError(f"--ours-flags {s.ours_flags!r}: not valid train.residual_sac flags (see above)") from e
    cmd = [sys.executable, "-m", "train.residual_sac", *argv]
    print(f"fetch_sac part: ours, {shlex.join(cmd[1:])}", file=sys.stderr, flush=True)
    proc, tail, pump = _start(cmd, keep_stdout=False)
    path, stopped_by = os.path.join(out, METRICS_FILE), None
    while proc.poll() is None and stopped_by is None:
        time.sleep(POLL_S)
        records = read_metrics(path) if os.path.exists(path) else []
        if not records:
            continue
        if float(records[-1]["time/wall_s"]) >= s.minutes * 60:
            stopped_by = "time"
        elif s.stop_when_held and held_time(eval_curve(records), s.target, s.hold) is not None:
            stopped_by = "held"
        if stopped_by:
            proc.send_signal(signal.SIGINT)
    rc = proc.wait()
    pump.join()
    if stopped_by is None and rc != 0:
        raise _failure("our train.residual_sac run", cmd, rc, tail)
    return out, stopped_by or "steps", cmd


def eval_curve(records: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(time/wall_s, eval/success_rate) of the metrics records with a held-out evaluation."""
    return [(float(r["time/wall_s"]), float(r["eval/success_rate"])) for r in records
            if r.get("eval/success_rate") is not None]


def read_ours(path: str) -> dict[str, Any]:
    """Our side's record from a train.residual_sac run directory; UsageError (one line) for a run that
    is not SAC on fetch_pick_place, was resumed, has no metrics or no held-out evaluations."""
    from benchmarks.runs import flat_settings, read_config
    from mjx_gr00t.runner.metrics_log import METRICS_FILE, read_metrics

    record, config = read_config(path)
    saved = flat_settings(config)
    if record["algo"] != "sac" or saved["scene"] != SCENE:
        raise UsageError(f"--ours {path!r} is a {record['algo']} run on {saved['scene']!r}; pass a "
                         f"train.residual_sac run on {SCENE}")
    resumed = "run with --resume: its clock is not one training run's; pass a run trained in one go"
    if record.get("resumes") or record.get("changed_on_resume"):
        raise UsageError(f"--ours {path!r} was {resumed}")
    metrics = os.path.join(path, METRICS_FILE)
    records = read_metrics(metrics) if os.path.isfile(metrics) else []
    if not records:
        raise UsageError(f"--ours {path!r} has no training metrics ({METRICS_FILE}); pass a run that trained")
    for a, b in zip(records, records[1:]):
        if b["env_steps"] <= a["env_steps"] or b["time/wall_s"] < a["time/wall_s"]:
            raise UsageError(f"--ours {path!r} was {resumed}")
    curve = eval_curve(records)
    if not curve:
        raise UsageError(f"--ours {path!r} has no held-out evaluations during training (eval/success_rate); "
                         "train it with --eval-every N")
    last = records[-1]
    wall, steps = float(last["time/wall_s"]), int(last["env_steps"])
    return {
        "scene": SCENE, "algo": "train.residual_sac, SAC + HER, base zero", "run_dir": path, "args": saved,
        "dr": saved["dr"], "curve": [list(p) for p in curve], "env_steps": steps, "wall_s": wall,
        "eval_wall_s": sum(float(r.get("eval/wall_s") or 0.0) for r in records),
        "env_steps_per_s": steps / max(wall, 1e-9),
    }


def _side(record: dict[str, Any], s: FetchSacSettings) -> dict[str, Any]:
    curve = [tuple(p) for p in record["curve"]]
    return {**record, "time_to_target": time_to_target(curve, s.target, s.hold),
            "final_success": curve[-1][1] if curve else None}


def compare(s: FetchSacSettings, ours: dict[str, Any], sb3: dict[str, Any]) -> dict[str, Any]:
    """The part's record: each side with its time to target, and ratio = SB3's time / ours."""
    ours, sb3 = _side(ours, s), _side(sb3, s)
    key = f"held_{s.hold}_evals_s"
    t_ours, t_sb3 = ours["time_to_target"][key], sb3["time_to_target"][key]
    bound = None
    # A side that never held the target for `hold` evaluations could at the earliest have done so from
    # the start of its final run of evaluations at or above it (its held-to-the-end time), else after its run.
    if t_ours is not None and t_sb3 is None:
        earliest = sb3["time_to_target"]["held_s"] or sb3["wall_s"]
        bound = {"ratio_at_least": earliest / t_ours, "why": "SB3 did not hold the target in its whole run"}
    elif t_sb3 is not None and t_ours is None:
        earliest = ours["time_to_target"]["held_s"] or ours["wall_s"]
        bound = {"ratio_at_most": t_sb3 / earliest, "why": "ours did not hold the target in its whole run"}
    return {
        "target_success": s.target, "hold": s.hold, "headline": key, "definition": DEFINITION,
        "success_measure": "task success at the episode's last (50th) step, deterministic policy, held-out episodes "
                           f"({s.eval_episodes} per evaluation, fixed seeds from {s.eval_seed})",
        "budget_s_per_side": s.minutes * 60, "ours": ours, "sb3": sb3,
        "time_to_target_ratio_sb3_vs_ours": ratio(t_sb3, t_ours), "ratio_bound": bound,
        "env_steps_per_s_ratio": ours["env_steps_per_s"] / max(sb3["env_steps_per_s"], 1e-9),
    }


def run_fetch_sac(settings: FetchSacSettings | None = None, **changes: Any) -> dict[str, Any]:
    """The `fetch_sac` record; `changes` replace fields of `settings` (default FetchSacSettings())."""
    s = dataclasses.replace(settings or FetchSacSettings(), **changes)
    validate(s)
    if s.ours:
        ours = {**read_ours(s.ours), "made_here": False}
    else:
        out, stopped_by, cmd = train_ours(s)
        ours = {**read_ours(out), "made_here": True, "stopped_by": stopped_by, "command": shlex.join(cmd[1:])}
    print(f"fetch_sac part: SB3 SAC + HER on {PEER_ID}, budget {s.minutes} min", file=sys.stderr, flush=True)
    return compare(s, ours, run_sb3_process(s))


def parse(argv: list[str]) -> FetchSacSettings:
    """The typed CLI; with --quick the QUICK sizes are the defaults."""
    return cli_args.cli(FetchSacSettings, args=argv, default=QUICK if "--quick" in argv else FetchSacSettings())


def main(argv: list[str] | None = None) -> None:
    """`python -m benchmarks.peers_fetch_sac`: prints the record as JSON (progress goes to stderr)."""
    print(json.dumps(run_fetch_sac(parse(list(sys.argv[1:] if argv is None else argv))), indent=2))


if __name__ == "__main__":
    main()
