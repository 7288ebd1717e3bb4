"""The one error type for bad user input (no JAX, no torch: every layer may raise it).

    raise UsageError("--num-envs must be >= 1, got 0")   # exits with "error: ..." and status 1
"""


class UsageError(SystemExit):
    """Bad user input (a flag value, a run directory, a checkpoint path): the process exits with
    "error: <message>" (status 1) and no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")
        self.message = message
