"""Base policies by name: `make_base(name, scene, task)` for the residual to build on.

- `zero`: no base action (plain RL).
- `ik`: the scripted Jacobian-IK push (paper task).
- `script`: the scripted Cartesian controller of the Fetch-like tasks (approach, grasp, lift,
  carry; push; reach), and its SO-101 form on the SO-101 goal tasks (`so101_script`).
- `groot`: GR00T N1.5 action chunks (paper task), a `chunked.ChunkedJointBase` around a host chunk
  planner. The planner is torch code, so it comes from the caller (`bridge.groot.planner`): this
  package never imports torch.

Which base suits which scene is the scene registry's data (`registry.bases(scene)`); the builders
below are only called for a scene that lists their base.
"""

from collections.abc import Callable
from typing import Any

from mjx_gr00t.bases.chunked import ChunkedJointBase, ChunkPlanner
from mjx_gr00t.bases.fetch_script import FetchScriptBase
from mjx_gr00t.bases.ik import IKPushBase
from mjx_gr00t.bases.rig_drag import RigDragBase
from mjx_gr00t.bases.so101_script import So101ScriptBase
from mjx_gr00t.bases.zero import ZeroBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_rig import PaperRigTask
from mjx_gr00t.envs.so101_goal.task import So101GoalTask
from mjx_gr00t.residual import Base, CarryBase

PlannerFactory = Callable[[Any], ChunkPlanner]


def _groot(task: Any, planner: PlannerFactory | None) -> CarryBase:
    if planner is None:
        raise ValueError(
            "--base groot needs the GR00T torch bridge: pass --groot.model with a checkpoint "
            "directory or Hugging Face id (a tiny one for tests: python -m bridge.tiny --out DIR)")
    return ChunkedJointBase(task, planner(task))


BUILDERS: dict[str, Callable[[Any, PlannerFactory | None], Base | CarryBase]] = {
    "zero": lambda task, planner: ZeroBase(task.action_size),
    "ik": lambda task, planner: RigDragBase(task) if isinstance(task, PaperRigTask) else IKPushBase(task),
    "script": lambda task, planner: So101ScriptBase(task) if isinstance(task, So101GoalTask) else FetchScriptBase(task),
    "groot": _groot,
}
WHAT: dict[str, str] = {
    "zero": "no base (plain RL)",
    "ik": "the paper task's scripted push (on the rig: a fingertip drag)",
    "script": "the Fetch-like and SO-101 goal scenes' scripted controller",
    "groot": "GR00T driving the SO-101 arm's joint targets",
}
BASES: tuple[str, ...] = tuple(BUILDERS)


def make_base(name: str, scene: str, task: Any, groot_planner: PlannerFactory | None = None) -> Base | CarryBase:
    """The base policy `name` for `task` of scene `scene`: one env's State -> (A,) normalised action,
    or for 'groot' a `CarryBase`. ValueError for an unknown base or one the scene does not list.
    groot_planner(task) builds the host chunk planner; it is called only once the scene is known to
    suit GR00T, so a bad scene fails before any model loads."""
    if name not in BUILDERS:
        raise ValueError(f"unknown base {name!r}; choose one of {', '.join(BASES)}")
    suits = registry.bases(scene)
    if name not in suits:
        others = ", ".join(f"--base {b} ({WHAT[b]})" for b in suits)
        raise ValueError(f"--base {name} is {WHAT[name]}; scene {scene!r} has {others}")
    return BUILDERS[name](task, groot_planner)
