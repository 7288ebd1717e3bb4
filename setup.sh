#!/usr/bin/env bash
# Creates .venv and installs mjx-gr00t with its pinned dependencies. Safe to run again:
# it reinstalls only when pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")"
extras="${MJX_GR00T_EXTRAS:-test}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.mjx_gr00t_installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing mjx-gr00t[$extras] into .venv (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
  echo "$want" > "$stamp"
fi

# Camera rendering (mjx_gr00t.render, train.record, --base groot) needs OpenGL; on a machine without a
# GPU that is OSMesa, software GL. Install it where we can (Debian/Ubuntu as root, or passwordless
# sudo); otherwise say once what is missing. Silent when it is already there. MJX_GR00T_NO_APT=1 skips.
has_osmesa() { python3 -c "import ctypes.util, sys; sys.exit(ctypes.util.find_library('OSMesa') is None)"; }
if [ "$(uname -s)" = Linux ] && [ -z "${MJX_GR00T_NO_APT:-}" ] && ! has_osmesa; then
  as_root=""
  if [ "$(id -u)" != 0 ]; then as_root="sudo -n"; fi
  if command -v apt-get >/dev/null && { [ -z "$as_root" ] || sudo -n true 2>/dev/null; }; then
    echo "setup: installing libosmesa6 (software OpenGL for camera rendering)" >&2
    $as_root apt-get install -y -qq libosmesa6 >/dev/null 2>&1 \
      || { $as_root apt-get update -qq >/dev/null 2>&1 && $as_root apt-get install -y -qq libosmesa6 >/dev/null 2>&1; } \
      || true
  fi
  if ! has_osmesa; then
    echo "setup: warning: no OSMesa (libOSMesa): rendering tests will be skipped and train.record needs a GPU (EGL); fix: sudo apt-get install libosmesa6 (or your system's OSMesa package)" >&2
  fi
fi
