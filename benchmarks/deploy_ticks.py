"""Deploy-loop tick times on this CPU: the IK base at 30 Hz in real time, the camera estimator, and the
tiny GR00T served over ZMQ.

    python -m benchmarks.deploy_ticks --export runs/x/export --json benchmarks/results/deploy_ticks_cpu2.json

1. `ik`: `train.deploy --robot sim --perception model --realtime` at 30 Hz (the stand-in steps its
   physics inside `send`);
2. `ik_camera`: the same with the top camera and the estimator, unpaced (the stand-in renders the
   frame inside `read`, which a real camera would not cost; the estimator runs in `compute`);
3. `groot_zmq`: the export's residual on the tiny GR00T (`bridge.tiny`) served by
   `python -m bridge.groot.server` in a second process, unpaced; GR00T's chunks are planned in the
   background (`bridge.groot.async_chunks`), so the tick's compute holds only the chunk lookup, and
   the query latency is reported beside it. The residual's weights are the export's, trained on the
   IK base: only the timing means anything here.
Each row: tick, read, compute and send times (median, p99, max, ms) and faults.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from mjx_gr00t import cli_args

from benchmarks.common import machine_tag, write_record
from bridge import deploy_side
from mjx_gr00t.deploy import cli
from mjx_gr00t.errors import UsageError
from mjx_gr00t.machine import machine, machine_line

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Args:
    """Deploy-loop tick times: IK base in real time, camera estimator, tiny GR00T over ZMQ."""

    export: str
    """An export of a paper_square run on the IK base (python -m train.export)."""
    episodes: int = 2
    """Episodes per row."""
    json: str | None = None
    """Also write the record to this JSON file."""


@contextlib.contextmanager
def tiny_server(model_dir: str, startup_s: float = 120.0) -> Iterator[str]:
    """The address of `python -m bridge.groot.server` serving `model_dir` on a free port (one torch thread)."""
    proc = subprocess.Popen([sys.executable, "-m", "bridge.groot.server", "--model", model_dir, "--port", "0",
                             "--torch-threads", "1"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + startup_s
        for line in proc.stdout:
            if "listening on " in line:
                yield line.rsplit("listening on ", 1)[1].strip()
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the tiny GR00T server did not start in time")
        else:
            raise RuntimeError(f"the tiny GR00T server exited with {proc.wait()} before listening")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def groot_export(export: str, out: str, tiny_dir: str) -> str:
    """A copy of `export` recorded as a residual on the tiny GR00T (timing only)."""
    from bridge.groot.planner import export_record
    from mjx_gr00t.export.groot import add_groot_export
    from mjx_gr00t.groot_settings import GrootSettings

    shutil.copytree(export, out)
    path = os.path.join(out, "residual.json")
    with open(path) as f:
        meta = json.load(f)
    meta.pop("base_config", None)
    meta["base"] = "groot"
    with open(path, "w") as f:
        json.dump(meta, f, indent=1)
    add_groot_export(out, export_record(GrootSettings(model=tiny_dir)))
    return out


def _row(**kw: Any) -> dict[str, Any]:
    record = cli.deploy(cli.Args(robot="sim", **kw), deploy_side)
    return {k: record[k] for k in ("episodes", "tick_ms", "faults", "groot_query_ms", "args") if k in record}


def main(args: Args) -> dict[str, Any]:
    if not os.path.isdir(args.export):
        raise UsageError(f"--export {args.export!r} is not a directory")
    from bridge import tiny_checkpoint

    rows: dict[str, Any] = {}
    rows["ik"] = _row(export=args.export, episodes=args.episodes, perception="model", realtime=True)
    rows["ik_camera"] = _row(export=args.export, episodes=args.episodes, perception="camera", realtime=False)
    with tempfile.TemporaryDirectory() as tmp:
        tiny_dir = tiny_checkpoint.write_checkpoint(os.path.join(tmp, "tiny"), seed=0)
        export = groot_export(args.export, os.path.join(tmp, "groot_export"), tiny_dir)
        with tiny_server(tiny_dir) as address:
            rows["groot_zmq"] = _row(export=export, episodes=args.episodes, perception="model", realtime=False,
                                     groot_server=address, groot_model=tiny_dir)
    info = machine()
    record = {"command": f"python -m benchmarks.deploy_ticks --export {args.export} --episodes {args.episodes}",
              "rows": rows, "machine": machine_line(info), "machine_tag": machine_tag(), "machine_info": info}
    for name, row in rows.items():
        t = row["tick_ms"]
        extra = f", GR00T query median {row['groot_query_ms']['median']:.1f} ms" if "groot_query_ms" in row else ""
        print(f"{name}: tick median {t['median_ms']:.1f} ms p99 {t['p99_ms']:.1f} ms (compute median "
              f"{t['compute_median_ms']:.1f}, read {t['read_median_ms']:.1f}, send {t['send_median_ms']:.1f}){extra}")
    write_record(args.json, record)
    return record


if __name__ == "__main__":
    main(cli_args.cli(Args))
