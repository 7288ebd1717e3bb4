"""Base policies by name: `make_base(name, task)` for the residual to build on.

- `zero`: no base action (plain RL).
- `ik`: the scripted Jacobian-IK push (paper task only).
- `groot`: GR00T N1.5 through the torch bridge; it is not a JAX function, so the JAX trainers
  refuse it with an error that says what to use instead.
"""

from mjx_gr00t.bases.ik import IKPushBase
from mjx_gr00t.bases.zero import ZeroBase
from mjx_gr00t.envs.paper_square import PaperSquareTask
from mjx_gr00t.residual import Base

BASES: tuple[str, ...] = ("ik", "zero", "groot")


def make_base(name: str, task: object) -> Base:
    """The JAX base policy `name` for `task` (one env's State -> (A,) normalised action)."""
    if name == "zero":
        return ZeroBase(task.action_size)
    if name == "ik":
        if not isinstance(task, PaperSquareTask):
            raise ValueError(
                f"--base ik is the paper task's scripted push; scene task {type(task).__name__} "
                "has no IK base (use --base zero)"
            )
        return IKPushBase(task)
    if name == "groot":
        raise ValueError(
            "--base groot needs the GR00T torch bridge, which is not a JAX base and is not wired "
            "into this trainer yet; use --base ik or --base zero"
        )
    raise ValueError(f"unknown base {name!r}; choose one of {', '.join(BASES)}")
