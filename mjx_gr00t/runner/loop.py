"""The Python loop around a jitted `train_step`, whichever algorithm made it.

It restores a checkpoint for --resume (after checking the config), runs iterations with a
progress bar and metrics log, checkpoints every `checkpoint_every` iterations, at the end and on
Ctrl-C, and honours --stop-after. Everything inside an iteration is the trainer's jitted call.
"""

import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax

from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.errors import UsageError
from mjx_gr00t.runner import legacy, run_dir
from mjx_gr00t.runner.config import SCENE_REVISION, RunConfig, as_json
from mjx_gr00t.runner.metrics_log import METRICS_FILE, MetricsLog, wall_time_at

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


def open_checkpoints(out: str, algo: str, config: RunConfig, state: Any, total_iterations: int) -> tuple[Checkpointer, Any]:
    """The run's Checkpointer, and `state` restored from its latest step when config.run.resume.

    Each checkpoint holds {"algo", "identity": config.identity(), "config": the resolved config as
    run.json has it}. Resume compares the identity whole with the current config's, a field the
    checkpoint lacks (added since) at its default (`legacy.identity_of_checkpoint`, which also reads
    checkpoints written before RunConfig). UsageError, with run.json untouched, if the restored
    state is already past `total_iterations`."""
    identity = {"algo": algo, "identity": config.identity()}
    ckpt = Checkpointer(f"{out}/checkpoints", max_to_keep=config.run.keep_checkpoints,
                        config={**identity, "config": as_json(saved_form(config)), "scene_revision": SCENE_REVISION})
    if config.run.resume:
        check_resume(out, algo, config)
        try:
            state = ckpt.restore(state)
        except ValueError as e:
            raise UsageError(str(e)) from e
        if int(state.iteration) > total_iterations:
            done = int(state.env_steps)
            raise UsageError(
                f"--total-steps {config.run.total_steps:,} is below the {done:,} env steps this run has already "
                f"taken; pass at least {done:,}")
        print(f"resumed {out} at iteration {int(state.iteration)}, {int(state.env_steps):,} env steps")
        run_dir.record_resume_changes(out, as_json(saved_form(config)))
        run_dir.record_resume(out, int(state.env_steps))
    return ckpt, state


def check_resume(out: str, algo: str, config: RunConfig) -> None:
    """UsageError unless `out`/checkpoints has a complete step written with `config`'s identity (see
    open_checkpoints). Cheap: it reads JSON only, so train() calls it before building anything."""
    with Checkpointer(f"{out}/checkpoints", read_only=True) as ckpt:
        step = ckpt.latest_step()
        saved_config = None if step is None else ckpt.saved_config(step)
    if saved_config is None:
        raise UsageError(f"--resume {out!r} has no complete checkpoint to resume from")
    saved = {"algo": algo, "identity": legacy.identity_of_checkpoint(algo, saved_config)}
    diffs = config_diffs(saved, {"algo": algo, "identity": config.identity()})
    if diffs:
        raise UsageError(f"the config differs from the checkpoint in {out}/checkpoints ({'; '.join(diffs)}); "
                         "resume with the saved settings, or start a new run with --out")


def saved_form(config: RunConfig) -> RunConfig:
    """`config` as run.json keeps it: without the fields about one invocation (resume, stop_after,
    stop_after_minutes, overwrite)."""
    return dataclasses.replace(config, run=dataclasses.replace(
        config.run, resume=None, stop_after=None, stop_after_minutes=None, overwrite=False))


def config_diffs(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """'field: saved -> now' for every leaf that differs between two nested JSON records."""
    a, b = flatten(saved), flatten(json.loads(json.dumps(now)))
    return [f"{k}: {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}" for k in sorted(set(a) | set(b))
            if a.get(k, "(absent)") != b.get(k, "(absent)")]


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out.update(flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
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
    algo: str, config: RunConfig, ckpt: Checkpointer, state: Any,
    train_step: Callable[[Any], tuple[Any, dict[str, jax.Array]]], steps_per_iteration: int,
    total_iterations: int, evaluate: Callable[[Any], dict[str, float]] | None = None,
) -> LoopResult:
    """Runs iterations up to `total_iterations` (or --stop-after, --stop-after-minutes); SystemExit(130)
    after Ctrl-C.
    The run directory is config.run.out; wandb's config is the resolved config as run.json holds it.

    evaluate(state) -> metrics runs every --eval-every iterations (if > 0), before the first iteration
    of a new run and after the last one, off the training clock: its time is logged as eval/wall_s
    and left out of time/wall_s and of the returned wall times."""
    args = config.run
    out, saved = args.out, as_json(saved_form(config))
    start = time.perf_counter()
    first_steps = int(state.env_steps)
    wall_before = wall_time_at(f"{out}/{METRICS_FILE}", first_steps) if args.resume else 0.0
    stop_at = total_iterations
    if args.stop_after is not None:
        stop_at = min(stop_at, int(state.iteration) + args.stop_after)
    resume_hint = f"python -m train.residual_{algo} --resume {out}"
    with MetricsLog(out, args.wandb, "mjx-gr00t", saved, total_steps=total_iterations * steps_per_iteration,
                    initial_steps=first_steps, name=f"{algo}-{config.scene.scene}-{config.scene.base}",
                    initial_wall_s=wall_before) as log, \
            ctrl_c_requests() as ctrl_c:
        evaluating = evaluate is not None and args.eval_every > 0
        if evaluating and int(state.iteration) == 0:   # where the curve starts: the initial policy
            log.write(0, log.off_the_clock(lambda: evaluate(state)))
        deadline = None if args.stop_after_minutes is None else 60.0 * args.stop_after_minutes
        while int(state.iteration) < stop_at and not ctrl_c.is_set():
            state, metrics = train_step(state)
            iteration = int(state.iteration)
            metrics = jax.device_get(metrics)
            if evaluating and (iteration % args.eval_every == 0 or iteration == total_iterations):
                metrics = {**metrics, **log.off_the_clock(lambda: evaluate(state))}
            log.write(int(state.env_steps), metrics)
            out_of_time = deadline is not None and time.perf_counter() - start - log.excluded_s >= deadline
            if iteration % args.checkpoint_every == 0 or iteration == stop_at or out_of_time:
                ckpt.save(iteration, state)
            if out_of_time:
                break
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
