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
from typing import Any

RUN_FILE: str = "run.json"


class UsageError(SystemExit):
    """Bad command-line input (a flag value, an --out/--run/--resume directory); exits with the
    message (exit status 1), no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")
        self.message = message


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
    Raises UsageError with what to do instead.
    """
    run_file = os.path.join(out, RUN_FILE)
    if resume:
        saved = read_run(out)
        if saved["algo"] != algo:
            raise UsageError(f"{out!r} holds a {saved['algo']} run; resume it with train.residual_{saved['algo']}")
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
