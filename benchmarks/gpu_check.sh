#!/usr/bin/env bash
# One prepared GPU run (issue 13): env and PPO throughput (mjx, warp), PPO time to target, the GR00T
# bridge on CUDA and Warp batch rendering, into benchmarks/results/gpu_check_<machine tag>.json,
# in at most 8 minutes on one H100 or H200. Flags go to `python -m benchmarks.gpu` (-h lists them);
# --smoke runs the same code on a CPU in about a minute. PYTHON picks the interpreter (default:
# the repository's .venv). `timeout` (GPU_CHECK_TIMEOUT_S, default 480) is only a backstop: the
# module stops itself at its deadline (455 s + 15 s of grace) and writes the JSON; raise both
# together (--deadline-s and GPU_CHECK_TIMEOUT_S) for a longer run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
if ! command -v "$PYTHON" >/dev/null; then
    PYTHON=python3
fi
exec timeout --kill-after=10 "${GPU_CHECK_TIMEOUT_S:-480}" "$PYTHON" -m benchmarks.gpu "$@"
