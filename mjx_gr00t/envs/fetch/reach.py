"""FetchReach-like: move the grip site to a goal in the air within 0.15 m of its start.

No object; the fingers are held closed and the gripper action is ignored. Observation (16,) =
[observation (10), achieved_goal = grip_pos (3), desired_goal (3)]. See the package docstring.
"""

import dataclasses
from typing import ClassVar

from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.fetch.config import FetchConfig
from mjx_gr00t.envs.fetch.task import make_env


@dataclasses.dataclass(frozen=True)
class FetchReachConfig(FetchConfig):
    """FetchReach defaults (gripper_extra_height 0.2)."""

    has_object: ClassVar[bool] = False
    block_gripper: ClassVar[bool] = True
    target_in_the_air: ClassVar[bool] = False


def build(config: FetchReachConfig) -> EpisodeEnv:
    """The registered `fetch_reach` env."""
    return make_env(config)
