"""The Python loop around a jitted `train_step`, shared by the PPO and SAC entry points.

It restores a checkpoint for --resume (after checking the config), runs iterations with a
progress bar and metrics log, checkpoints every `checkpoint_every` iterations, at the end and on
Ctrl-C, and honours --stop-after. Everything inside an iteration is the trainer's jitted call.
"""

import contextlib
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax

from mjx_gr00t.checkpoint import Checkpointer, ConfigMismatchError
from train import run_dir
from train.metrics_log import METRICS_FILE, MetricsLog, wall_time_at

# Flags that may differ on --resume without changing what is being trained (where the GR00T base
# runs, its server's address, and on how many torch threads, is a machine matter: a run may move).
RESUME_MAY_CHANGE: tuple[str, ...] = (
    "resume", "out", "overwrite", "wandb", "eval_episodes", "eval_seed", "eval_every", "eval_every_episodes",
    "checkpoint_every",
    "stop_after", "keep_checkpoints", "groot_device", "groot_torch_threads", "groot_server", "groot_timeout",
)


@dataclasses.dataclass(frozen=True)
class LoopResult:
    """state: the final TrainState. finished: all iterations done (not stopped early).
    wall_time_s: training time of the whole run, summed over its resumes (as time/wall_s in
    metrics.jsonl). run_wall_time_s, steps_this_run: time spent and env steps taken in this invocation."""

    state: Any
    finished: bool
    wall_time_s: float
    run_wall_time_s: float
    steps_this_run: int

    @property
    def env_steps_per_s(self) -> float:
        """Env steps per second of this invocation."""
        return self.steps_this_run / max(self.run_wall_time_s, 1e-9)


def open_checkpoints(
    out: str, algo: str, args: Any, saved_args: dict[str, Any], state: Any, total_iterations: int,
    may_extend: tuple[str, ...] = (),
) -> tuple[Checkpointer, Any]:
    """The run's Checkpointer, and `state` restored from its latest step when args.resume.

    may_extend: further flags this trainer lets differ on --resume (SAC: "total_steps", which sets
    nothing but the iteration count). A changed one is written back to run.json, so that a later
    plain --resume keeps it, and the change is recorded there under "changed_on_resume".
    UsageError, with run.json untouched, if the restored state is already past `total_iterations`."""
    ckpt = Checkpointer(f"{out}/checkpoints", max_to_keep=args.keep_checkpoints, config={"algo": algo, **saved_args})
    if args.resume:
        if ckpt.latest_step() is None:
            raise run_dir.UsageError(f"--resume {out!r} has no complete checkpoint to resume from")
        try:
            ckpt.check_config({"algo": algo, **saved_args}, ignore=RESUME_MAY_CHANGE + may_extend,
                              defaults=_flag_defaults(args))
        except ConfigMismatchError as e:
            raise run_dir.UsageError(str(e)) from e
        try:
            state = ckpt.restore(state)
        except ValueError as e:
            raise run_dir.UsageError(str(e)) from e
        if int(state.iteration) > total_iterations:
            done = int(state.env_steps)
            raise run_dir.UsageError(
                f"--total-steps {args.total_steps:,} is below the {done:,} env steps this run has already "
                f"taken; pass at least {done:,}")
        print(f"resumed {out} at iteration {int(state.iteration)}, {int(state.env_steps):,} env steps")
        run_dir.record_resume_changes(out, {k: saved_args[k] for k in may_extend})
        run_dir.record_resume(out, int(state.env_steps))
    return ckpt, state


def _flag_defaults(args: Any) -> dict[str, Any]:
    """The default of every flag of `args` (a dataclass): a flag added after a checkpoint was
    written matches it when left at its default."""
    if not dataclasses.is_dataclass(args):
        return {}
    out = {}
    for f in dataclasses.fields(args):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


@contextlib.contextmanager
def ctrl_c_requests() -> Iterator[threading.Event]:
    """An Event set by Ctrl-C (SIGINT) while the block runs, so the loop stops between iterations.

    A KeyboardInterrupt raised at an arbitrary point (inside a host callback, or in the middle of an
    orbax save) can leave a lock held and hang the save that follows; a flag cannot. A second
    Ctrl-C raises KeyboardInterrupt at once. Outside the main thread signals cannot be caught, and
    the Event is never set."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        print("\nCtrl-C: stopping after this iteration, with a checkpoint (again to abort at once)",
              file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


def run_loop(
    algo: str, args: Any, ckpt: Checkpointer, state: Any,
    train_step: Callable[[Any], tuple[Any, dict[str, jax.Array]]], steps_per_iteration: int,
    total_iterations: int, evaluate: Callable[[Any], dict[str, float]] | None = None,
) -> LoopResult:
    """Runs iterations up to `total_iterations` (or --stop-after); SystemExit(130) after Ctrl-C.
    The run directory is args.out; wandb's config is the run's args as run.json holds them.

    evaluate(state) -> metrics runs every --eval-every iterations (if > 0), before the first iteration
    of a new run and after the last one, off the training clock: its time is logged as eval/wall_s
    and left out of time/wall_s and of the returned wall times."""
    out, saved_args = args.out, run_dir.args_dict(args)
    start = time.perf_counter()
    first_steps = int(state.env_steps)
    wall_before = wall_time_at(f"{out}/{METRICS_FILE}", first_steps) if args.resume else 0.0
    stop_at = total_iterations
    if args.stop_after is not None:
        stop_at = min(stop_at, int(state.iteration) + args.stop_after)
    resume_hint = f"python -m train.residual_{algo} --resume {out}"
    with MetricsLog(out, args.wandb, "mjx-gr00t", saved_args, total_steps=total_iterations * steps_per_iteration,
                    initial_steps=first_steps, name=f"{algo}-{args.scene}-{args.base}",
                    initial_wall_s=wall_before) as log, \
            ctrl_c_requests() as ctrl_c:
        evaluating = evaluate is not None and args.eval_every > 0
        if evaluating and int(state.iteration) == 0:   # where the curve starts: the initial policy
            log.write(0, log.off_the_clock(lambda: evaluate(state)))
        while int(state.iteration) < stop_at and not ctrl_c.is_set():
            state, metrics = train_step(state)
            iteration = int(state.iteration)
            metrics = jax.device_get(metrics)
            if evaluating and (iteration % args.eval_every == 0 or iteration == total_iterations):
                metrics = {**metrics, **log.off_the_clock(lambda: evaluate(state))}
            log.write(int(state.env_steps), metrics)
            if iteration % args.checkpoint_every == 0 or iteration == stop_at:
                ckpt.save(iteration, state)
        interrupted = ctrl_c.is_set()
        if interrupted:
            if ckpt.latest_step() != int(state.iteration):
                ckpt.save(int(state.iteration), state)
            log.close()
            print(f"\ninterrupted: saved iteration {int(state.iteration)}; continue with {resume_hint}",
                  file=sys.stderr)
    ckpt.close()
    if interrupted:
        raise SystemExit(130)
    finished = int(state.iteration) >= total_iterations
    if not finished:
        print(f"stopped at iteration {int(state.iteration)} of {total_iterations}; continue with {resume_hint}")
    run_wall = time.perf_counter() - start - log.excluded_s   # held-out evaluation is not training time
    return LoopResult(state=state, finished=finished, wall_time_s=wall_before + run_wall, run_wall_time_s=run_wall,
                      steps_this_run=int(state.env_steps) - first_steps)
