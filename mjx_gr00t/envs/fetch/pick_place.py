"""FetchPickAndPlace-like: grasp the cube and bring it to a goal, raised off the table half the time.

Observation (31,) = [observation (25), achieved_goal = object_pos (3), desired_goal (3)]. See
the package docstring.
"""

import dataclasses
from typing import ClassVar

from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.fetch.config import FetchConfig
from mjx_gr00t.envs.fetch.task import make_env


@dataclasses.dataclass(frozen=True)
class FetchPickPlaceConfig(FetchConfig):
    """FetchPickAndPlace defaults (gripper_extra_height 0.2; 50 % of goals raised by U(0, 0.45))."""

    has_object: ClassVar[bool] = True
    block_gripper: ClassVar[bool] = False
    target_in_the_air: ClassVar[bool] = True


def build(config: FetchPickPlaceConfig) -> EpisodeEnv:
    """The registered `fetch_pick_place` env."""
    return make_env(config)
