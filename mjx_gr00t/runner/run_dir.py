"""A training run's directory: what it holds, and the checks that keep one run from clobbering another.

    DIR/run.json          what was run: {"algo", "config" (the resolved RunConfig), "created", "command"};
                          the source of truth for resume, evaluate and export
    DIR/checkpoints/      orbax steps (see mjx_gr00t.checkpoint)
    DIR/metrics.jsonl     one JSON record per iteration
    DIR/summary.json      the end-of-run evaluation
    DIR/export/           residual.safetensors + residual.json
    DIR/wandb/            wandb's own files (offline by default)
"""

import json
import os
import shutil
import sys
import time
from typing import Any

from mjx_gr00t.distributed import is_main_process
from mjx_gr00t.errors import UsageError
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.runner.config import SCENE_REVISION, RunSettings

RUN_FILE: str = "run.json"


def validate_run_settings(args: RunSettings) -> None:
    """UsageError for run settings that cannot work."""
    if args.eval_episodes < 0:
        raise UsageError(f"--eval-episodes must be >= 0, got {args.eval_episodes}")
    if args.eval_every < 0:
        raise UsageError(f"--eval-every must be >= 0 (0: no evaluation during training), got {args.eval_every}")
    if args.eval_every_episodes < 1:
        raise UsageError(f"--eval-every-episodes must be >= 1, got {args.eval_every_episodes}")
    for name in ("checkpoint_every", "keep_checkpoints"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.stop_after is not None and args.stop_after < 1:
        raise UsageError(f"--stop-after must be >= 1, got {args.stop_after}")
    if args.stop_after_minutes is not None and not args.stop_after_minutes > 0:
        raise UsageError(f"--stop-after-minutes must be > 0, got {args.stop_after_minutes}")




def read_run(run_dir: str) -> dict[str, Any]:
    """The run.json of `run_dir`; UsageError if the directory or the file is missing or broken."""
    if not os.path.isdir(run_dir):
        raise UsageError(f"run directory {run_dir!r} does not exist")
    path = os.path.join(run_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise UsageError(f"{run_dir!r} is not a training run (no {RUN_FILE}); pass the --out of a run")
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise UsageError(f"cannot read {path}: {e}") from e
    if not isinstance(record, dict) or "algo" not in record or not ("config" in record or "args" in record):
        raise UsageError(f"{path} lacks 'algo'/'config'; it was not written by this project")
    return record


def prepare_out(out: str, algo: str, config: dict[str, Any], resume: bool, overwrite: bool) -> None:
    """Makes `out` ready for a new run, or checks it holds the run being resumed.

    Refuses an `out` that holds another run unless `overwrite`; refuses an unwritable one.
    Raises UsageError with what to do instead. In a several-host run only process 0 writes.
    """
    run_file = os.path.join(out, RUN_FILE)
    if resume:
        saved = read_run(out)
        if saved["algo"] != algo:
            raise UsageError(f"{out!r} holds a {saved['algo']} run; resume it with train.residual_{saved['algo']}")
        return
    if not is_main_process():
        return
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r} exists and is not a directory")
    if os.path.isdir(out) and os.listdir(out):
        if not overwrite:
            what = "a training run" if os.path.exists(run_file) else "other files"
            raise UsageError(
                f"--out {out!r} already holds {what}; pass --resume {out} to continue it, "
                "--overwrite to replace it, or choose another --out"
            )
        if not os.path.exists(run_file):
            raise UsageError(f"--overwrite refuses to delete {out!r}: it is not a training run")
        shutil.rmtree(out)
    try:
        os.makedirs(out, exist_ok=True)
        write_json_atomic(run_file, {"algo": algo, "config": config, "scene_revision": SCENE_REVISION,
                                     "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                     "command": " ".join(sys.argv)})
    except OSError as e:
        raise UsageError(f"cannot write to --out {out!r}: {e.strerror or e}; choose a writable directory") from e


def record_resume_changes(out: str, config: dict[str, Any]) -> None:
    """Writes the resumed run's resolved `config` into `out`/run.json, each run setting that changed
    (--total-steps, --eval-every, ...) listed under "changed_on_resume" with the time; a run.json
    written before RunConfig, or before the paper rig's twin (`config.SCENE_REVISION`), is rewritten
    in the new form. Only process 0 writes."""
    record = read_run(out)
    before = record.get("config", {}).get("run", {})
    changed = {k: [before.get(k), v] for k, v in config["run"].items()
               if k in before and before.get(k) != v}
    stale = record.get("scene_revision", 1) < SCENE_REVISION
    if (not changed and "config" in record and not stale) or not is_main_process():
        return
    record.pop("args", None)
    record["config"] = config
    record["scene_revision"] = SCENE_REVISION
    if changed:
        record.setdefault("changed_on_resume", []).append(
            {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **{k: {"from": a, "to": b} for k, (a, b) in changed.items()}})
    write_json_atomic(os.path.join(out, RUN_FILE), record)


def record_resume(out: str, env_steps: int) -> None:
    """Appends {time, env_steps} to `out`/run.json's "resumes": a resumed run's clock has a gap that
    a time to target must know of (benchmarks.peers refuses such runs). Only process 0 writes."""
    if not is_main_process():
        return
    record = read_run(out)
    record.setdefault("resumes", []).append({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "env_steps": env_steps})
    write_json_atomic(os.path.join(out, RUN_FILE), record)


def default_out(algo: str, scene: str, base: str) -> str:
    """A fresh run directory name, runs/<algo>-<scene>-<base>-<YYYYmmdd-HHMMSS>."""
    return os.path.join("runs", f"{algo}-{scene}-{base}-{time.strftime('%Y%m%d-%H%M%S')}")
