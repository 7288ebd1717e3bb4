"""Base policies by name: `make_base(name, task)` for the residual to build on.

- `zero`: no base action (plain RL).
- `ik`: the scripted Jacobian-IK push (paper task only).
- `script`: the scripted Cartesian controller of the Fetch-like tasks (approach, grasp, lift,
  carry; push; reach).
- `groot`: GR00T N1.5 action chunks (paper task only), a `chunked.ChunkedJointBase` around a host
  chunk planner. The planner is torch code, so it comes from the caller (`train.groot_base`): this
  package never imports torch.
"""

from collections.abc import Callable

from mjx_gr00t.bases.chunked import ChunkedJointBase, ChunkPlanner
from mjx_gr00t.bases.fetch_script import FetchScriptBase
from mjx_gr00t.bases.ik import IKPushBase
from mjx_gr00t.envs.fetch import FetchTask
from mjx_gr00t.bases.zero import ZeroBase
from mjx_gr00t.envs.paper_square import PaperSquareTask
from mjx_gr00t.residual import Base, CarryBase

BASES: tuple[str, ...] = ("ik", "script", "zero", "groot")


def make_base(name: str, task: object,
              groot_planner: Callable[[PaperSquareTask], ChunkPlanner] | None = None) -> Base | CarryBase:
    """The base policy `name` for `task`: one env's State -> (A,) normalised action, or for
    'groot' a `CarryBase`. groot_planner(task) builds the host chunk planner; it is called only
    once the scene is known to suit GR00T, so a bad scene fails before any model loads."""
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
        if not isinstance(task, PaperSquareTask):
            raise ValueError(
                f"--base groot drives the SO-101 arm's joint targets (scene paper_square); scene task "
                f"{type(task).__name__} has a different action space that GR00T cannot drive "
                "(use --base script or --base zero there)")
        if groot_planner is None:
            raise ValueError(
                "--base groot needs the GR00T torch bridge: pass --groot-model with a checkpoint "
                "directory or Hugging Face id (a tiny one for tests: python -m bridge.tiny --out DIR)")
        return ChunkedJointBase(task, groot_planner(task))
    raise ValueError(f"unknown base {name!r}; choose one of {', '.join(BASES)}")
