"""XLA flags for the CPU backend, set before JAX is imported.

On the CPU, XLA's fusion emitters make MJX about 15x slower, and the concurrency-optimised
scheduler can hang a vmapped `mjx.step` at batch >= 512. Neither flag affects GPUs or TPUs, so
they are always appended; a flag the user already set is left as it is.
"""

import os
import sys

CPU_FLAGS: tuple[str, ...] = (
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_cpu_enable_concurrency_optimized_scheduler=false",
)


def apply() -> str:
    """Adds the CPU flags to `XLA_FLAGS` (unless already there) and returns the resulting value.

    Warns on stderr when JAX was imported first, since XLA then reads the flags too late.
    """
    current = os.environ.get("XLA_FLAGS", "")
    names = {flag.split("=")[0] for flag in current.split()}
    added = [flag for flag in CPU_FLAGS if flag.split("=")[0] not in names]
    if added:
        if "jax" in sys.modules:
            print(
                "mjx_gr00t: warning: JAX was imported before mjx_gr00t, so the CPU XLA flags "
                f"{added} come too late and MJX will run slowly on the CPU; import mjx_gr00t first.",
                file=sys.stderr,
            )
        os.environ["XLA_FLAGS"] = " ".join([current, *added]).strip()
    return os.environ["XLA_FLAGS"]
