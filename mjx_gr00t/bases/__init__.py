"""Base policies by name: `make_base(name, task)` for the residual to build on.

- `zero`: no base action (plain RL).
- `ik`: the scripted Jacobian-IK push (paper task only).
- `script`: the scripted Cartesian controller of the Fetch-like tasks (approach, grasp, lift,
  carry; push; reach).
- `groot`: GR00T N1.5 through the torch bridge; it is not a JAX function, so the JAX trainers
  refuse it with an error that says what to use instead.
"""

from mjx_gr00t.bases.fetch_script import FetchScriptBase
from mjx_gr00t.bases.ik import IKPushBase
from mjx_gr00t.envs.fetch import FetchTask
from mjx_gr00t.bases.zero import ZeroBase
from mjx_gr00t.envs.paper_square import PaperSquareTask
from mjx_gr00t.residual import Base

BASES: tuple[str, ...] = ("ik", "script", "zero", "groot")


def make_base(name: str, task: object) -> Base:
    """The JAX base policy `name` for `task` (one env's State -> (A,) normalised action)."""
    if name == "zero":
        return ZeroBase(task.action_size)
    if name == "ik":
        if not isinstance(task, PaperSquareTask):
            raise ValueError(
                f"--base ik is the paper task's scripted push; scene task {type(task).__name__} "
                "has no IK base (use --base script on the Fetch-like scenes, or --base zero)"
            )
        return IKPushBase(task)
    if name == "script":
        if not isinstance(task, FetchTask):
            raise ValueError(
                f"--base script is the Fetch-like scenes' scripted controller; scene task "
                f"{type(task).__name__} has none (use --base ik on paper_square, or --base zero)"
            )
        return FetchScriptBase(task)
    if name == "groot":
        raise ValueError(
            "--base groot needs the GR00T torch bridge, which is not a JAX base and is not wired "
            "into this trainer yet; use --base ik or --base zero"
        )
    raise ValueError(f"unknown base {name!r}; choose one of {', '.join(BASES)}")
