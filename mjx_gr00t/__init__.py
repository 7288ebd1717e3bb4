"""mjx-gr00t: vectorised MuJoCo scenes and residual RL for robot manipulation (JAX side, no torch)."""

from mjx_gr00t import _xla_flags

XLA_FLAGS = _xla_flags.apply()

__version__ = "0.1.0"
