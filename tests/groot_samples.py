"""GR00T-bridge test helpers (importable: pytest puts tests/ on sys.path): random inputs, unit
conversions written out by hand, and a server subprocess of the tiny model."""

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np

from bridge.groot.layout import SO101_JOINT_RANGES

RANGES = np.asarray(SO101_JOINT_RANGES)
"""(6, 2) sim joint ranges, rad."""
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARTUP_S = 240.0
"""The server imports torch and JAX; on a loaded 2-core machine that alone can take a minute."""


def random_obs(seed: int = 0, n: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(front, wrist) uint8 (n, 224, 224, 3) noise images and joint positions float32 (n, 6) rad,
    inside 70 % of each joint's range."""
    rng = np.random.default_rng(seed)
    front = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    wrist = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    q = rng.uniform(0.7 * RANGES[:, 0], 0.7 * RANGES[:, 1], (n, 6)).astype(np.float32)
    return front, wrist, q


def to_lerobot(q: np.ndarray) -> np.ndarray:
    """Sim rad (..., 6) -> degrees (arm) and 0..100 of the gripper range, written out independently of
    mjx_gr00t.export.units."""
    lo, hi = RANGES[-1]
    return np.concatenate([np.degrees(q[..., :5]), (q[..., 5:] - lo) / (hi - lo) * 100.0], axis=-1)


def to_sim(a: np.ndarray) -> np.ndarray:
    """Inverse of `to_lerobot`."""
    lo, hi = RANGES[-1]
    return np.concatenate([np.radians(a[..., :5]), lo + a[..., 5:] / 100.0 * (hi - lo)], axis=-1)


@contextlib.contextmanager
def serve_tiny(model_dir: str, api_token: str, extra: tuple[str, ...] = ()) -> Iterator[tuple[subprocess.Popen, str]]:
    """(process, address) of `python -m bridge.groot.server --model model_dir` on a free port, with
    `api_token`, one torch thread and the `extra` flags; stopped on exit. Fails the test if it does not start."""
    import pytest

    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.groot.server", "--model", model_dir, "--port", "0",
         "--api-token", api_token, "--torch-threads", "1", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # drains the pipe for the server's whole life; None marks its end
        for text in proc.stdout:
            lines.put(text)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        while True:
            try:
                line = lines.get(timeout=STARTUP_S)
            except queue.Empty:
                pytest.fail(f"the server did not start within {STARTUP_S:g} s; it printed {''.join(seen)}")
            if line is None:
                pytest.fail(f"the server exited with {proc.wait()} before listening: {''.join(seen)}")
            seen.append(line)
            if "listening on " in line:
                address = line.rsplit("listening on ", 1)[1].strip()
                break
        yield proc, address
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)
        proc.stdout.close()
