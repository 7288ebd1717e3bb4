"""The SO-101 goal tasks' configs and builders: Reach, Push, PickAndPlace (Fetch's three, on the arm)."""

import dataclasses
from typing import ClassVar

from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.so101_goal.config import So101GoalConfig
from mjx_gr00t.envs.so101_goal.task import make_env


@dataclasses.dataclass(frozen=True)
class So101ReachConfig(So101GoalConfig):
    """Reach: bring the grasp point to a goal in the air; the jaws are held shut. Obs (16,)."""

    has_object: ClassVar[bool] = False
    block_gripper: ClassVar[bool] = True
    target_in_the_air: ClassVar[bool] = False


@dataclasses.dataclass(frozen=True)
class So101PushConfig(So101GoalConfig):
    """Push: slide the cube to a goal on the table with shut jaws. Obs (31,)."""

    has_object: ClassVar[bool] = True
    block_gripper: ClassVar[bool] = True
    target_in_the_air: ClassVar[bool] = False
    start: tuple[float, float, float] = (0.20, 0.0, 0.06)


@dataclasses.dataclass(frozen=True)
class So101PickPlaceConfig(So101GoalConfig):
    """PickAndPlace: grasp the cube and bring it to a goal, raised off the table half the time. Obs (31,)."""

    has_object: ClassVar[bool] = True
    block_gripper: ClassVar[bool] = False
    target_in_the_air: ClassVar[bool] = True


def build(config: So101GoalConfig) -> EpisodeEnv:
    """The registered env of any of the three configs."""
    return make_env(config)
