"""The scripted Cartesian controller of the SO-101 goal tasks (`envs.so101_goal`): the Fetch-like
tasks' script (`bases.fetch_script`: the same way-points and gripper rule, steering the grasp point's
target), with tolerances that fit the SO-101.

The SO-101's servos are soft (the twin's kp 17.8 N m / rad): under the arm's weight the grasp point
sits about 6 mm below and behind its target. Steering by where the point *is* (integral action
through the env's target) sets the soft arm swinging at 25 Hz, so the script keeps Fetch's target
steering and closes the jaws within `grasp_height` (1 cm) of the cube's centre: the grasp then
takes the cube a little below its middle. The moving jaw pushes the cube against the fixed one, off
the grasp point, so a held cube may sit `hold_margin` farther out.
"""

import dataclasses

from mjx_gr00t.bases.fetch_script import FetchScriptBase, FetchScriptConfig
from mjx_gr00t.envs.so101_goal.task import So101GoalTask


@dataclasses.dataclass(frozen=True)
class So101ScriptConfig(FetchScriptConfig):
    """The Fetch script's parameters, with the SO-101's tolerances."""

    align_radius: float = 0.016
    """Horizontal distance below which the jaws descend, m."""
    grasp_height: float = 0.01
    """Height error of the grasp point at which the jaws close, m (the arm's sag, with margin)."""
    hold_margin: float = 0.015
    """Closing the moving jaw pushes the cube against the fixed one, off the grasp point: the cube
    counts as held this much farther out than its half-edge, m."""
    finger_half_extents: tuple[float, float] = (0.012, 0.012)
    """Half-extents (x, y) of the shut jaws' footprint, m (the pushing face)."""


class So101ScriptBase(FetchScriptBase):
    """The scripted controller for a `So101GoalTask`; call it on one env's state."""

    name = "so101_script"

    def __init__(self, task: So101GoalTask, config: So101ScriptConfig = So101ScriptConfig()) -> None:
        if not isinstance(task, So101GoalTask):
            raise ValueError(f"the so101 script drives the SO-101 goal tasks; got {type(task).__name__} "
                             "(use --base zero)")
        super().__init__(task, config)

