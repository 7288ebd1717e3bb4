"""The machine a figure was measured on, in words and as a record."""

import os
import platform
from typing import Any

import jax


def machine() -> dict[str, Any]:
    """The machine the numbers were measured on: CPU model, cores, JAX backend and devices, flags."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "platform": platform.platform(),
    }


def machine_line(info: dict[str, Any]) -> str:
    """One line naming the machine."""
    return f"{info['cpu']}, {info['cores']} cores, JAX {info['jax_backend']} ({', '.join(info['devices'])})"
