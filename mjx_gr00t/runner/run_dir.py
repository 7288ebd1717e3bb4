"""A training run's directory: what it holds, and the checks that keep one run from clobbering another.

    DIR/run.json          what was run: {"algo", "args", "created"}; the source of truth for resume,
                          evaluate and export
    DIR/checkpoints/      orbax steps (see mjx_gr00t.checkpoint)
    DIR/metrics.jsonl     one JSON record per iteration
    DIR/summary.json      the end-of-run evaluation
    DIR/export/           residual.safetensors + residual.json
    DIR/wandb/            wandb's own files (offline by default)
"""

import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from typing import Any, Literal

from mjx_gr00t.distributed import is_main_process
from mjx_gr00t.errors import UsageError

RUN_FILE: str = "run.json"


@dataclasses.dataclass(frozen=True)
class RunFlags:
    """Flags every trainer shares: seeds, the run directory, logging, evaluation, checkpoints."""

    seed: int = 0
    """Seed of networks, envs and sampling."""
    out: str | None = None
    """Run directory: checkpoints, metrics.jsonl, summary.json, export/, wandb/.
    Default: runs/<algo>-<scene>-<base>-<date>-<time>, a new one each time."""
    resume: str | None = None
    """Continue the run in this directory (its saved flags become the defaults)."""
    overwrite: bool = False
    """Replace an existing run in --out."""
    wandb: Literal["offline", "online", "disabled"] = "offline"
    """wandb mode; offline runs can be uploaded later with `wandb sync DIR/wandb/offline-run-*`."""
    eval_episodes: int = 256
    """Held-out episodes for the end-of-run evaluation (0: skip it)."""
    eval_seed: int = 1_000_000
    """Seed of the held-out evaluation episodes (keep it apart from --seed)."""
    eval_every: int = 0
    """Iterations between held-out evaluations during training (0: none). Each runs
    --eval-every-episodes episodes from --eval-seed, off the training clock (time/wall_s excludes it),
    and logs eval/success_rate: the curve a time to target is read from (mjx_gr00t.time_to_target)."""
    eval_every_episodes: int = 128
    """Held-out episodes of each evaluation during training (see --eval-every)."""
    checkpoint_every: int = 20
    """Iterations between checkpoints."""
    keep_checkpoints: int = 3
    """Newest checkpoints kept."""
    stop_after: int | None = None
    """Stop after this many iterations in this invocation (with a checkpoint); --resume goes on."""
    groot_model: str | None = None
    """--base groot: the GR00T N1.5 checkpoint, a local directory or a Hugging Face id (a real one
    needs the optional `gr00t` package; a tiny one for tests: python -m bridge.tiny --out DIR)."""
    groot_data_config: Literal["so100_dualcam", "so100"] = "so100_dualcam"
    """--base groot: GR00T data config (bridge.groot.DATA_CONFIGS): cameras, state and action keys."""
    groot_key_map: Literal["cam01_arm0"] | None = None
    """--base groot: key map for fine-tunes with other keys (bridge.groot.KEY_MAPS), e.g. cam01_arm0
    for video.image_cam_0/1, state.arm_0, action.arm_0."""
    groot_embodiment_tag: str = "new_embodiment"
    """--base groot: embodiment tag in the checkpoint's experiment_cfg/metadata.json."""
    groot_n_action_steps: int = 8
    """--base groot: steps of each 16-step chunk executed before GR00T plans again (1..16)."""
    groot_max_batch: int = 64
    """--base groot: largest sub-batch of envs given to GR00T at once (memory)."""
    groot_task: str = "Slide the paper into the red square."
    """--base groot: the language instruction given to GR00T."""
    groot_device: str = "cpu"
    """--base groot: torch device of the model: cpu, cuda or cuda:N."""
    groot_torch_threads: int = 1
    """--base groot: torch CPU threads (torch shares the CPU with JAX; 0 keeps torch's default)."""
    groot_server: str | None = None
    """--base groot: query a running GR00T inference server at tcp://HOST:PORT (`python -m bridge.groot_zmq
    serve --model DIR`, or Isaac-GR00T's own) instead of loading the model here; --groot-model is then
    optional: a local checkpoint directory read only for its metadata.json (needed with Isaac-GR00T's
    server). An API token, if the server wants one, comes from $GROOT_API_TOKEN (flags go into run.json)."""
    groot_timeout: float = 60.0
    """--base groot with --groot-server: seconds to wait for each reply."""


def validate_run_flags(args: RunFlags) -> None:
    """UsageError for shared flags that cannot work."""
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




def args_dict(args: Any) -> dict[str, Any]:
    """A frozen args dataclass as a JSON-ready dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(args)))


def args_from_record(args_type: type, record: dict[str, Any]) -> Any:
    """The `args_type` dataclass saved in a run.json record (lists back to tuples; unknown keys,
    from other versions, dropped; missing ones take their defaults)."""
    known = {f.name for f in dataclasses.fields(args_type)}
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in record["args"].items() if k in known}
    return args_type(**saved)


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
    if not isinstance(record, dict) or "algo" not in record or "args" not in record:
        raise UsageError(f"{path} lacks 'algo'/'args'; it was not written by this project")
    return record


def write_json_atomic(path: str, record: Any) -> None:
    """Writes JSON to `path` via a temporary file and rename, so readers never see half a file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def prepare_out(out: str, algo: str, args: dict[str, Any], resume: bool, overwrite: bool) -> None:
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
        write_json_atomic(run_file, {"algo": algo, "args": args, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                     "command": " ".join(sys.argv)})
    except OSError as e:
        raise UsageError(f"cannot write to --out {out!r}: {e.strerror or e}; choose a writable directory") from e


def record_resume_changes(out: str, now: dict[str, Any]) -> None:
    """Writes flags that changed on --resume (`now`: flag -> new value) into `out`/run.json's args,
    each change listed under "changed_on_resume" with the time. Only process 0 writes."""
    record = read_run(out)
    changed = {k: [record["args"].get(k), v] for k, v in now.items() if record["args"].get(k) != v}
    if not changed or not is_main_process():
        return
    record["args"].update({k: v for k, (_, v) in changed.items()})
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


def resume_dir(argv: Sequence[str]) -> str | None:
    """The value of `--resume DIR` / `--resume=DIR` in argv, if any (read before full parsing)."""
    for i, arg in enumerate(argv):
        if arg == "--resume" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--resume="):
            return arg.split("=", 1)[1]
    return None


def parse_args(args_type: type, argv: Sequence[str] | None = None) -> Any:
    """A trainer's typed CLI (tyro). With --resume DIR the saved run's flags become the defaults,
    except those about one invocation (--stop-after, --overwrite, --resume)."""
    import tyro

    argv = list(sys.argv[1:] if argv is None else argv)
    default = args_type()
    resume = resume_dir(argv)
    if resume is not None:
        saved = args_from_record(args_type, read_run(resume))
        default = dataclasses.replace(saved, stop_after=None, overwrite=False, resume=None)
    return tyro.cli(args_type, args=argv, default=default)
