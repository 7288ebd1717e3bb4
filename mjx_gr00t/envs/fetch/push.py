"""FetchPush-like: push the cube over the table to a goal on the table.

The fingers are held closed and the gripper action is ignored; the gripper starts low
(gripper_extra_height 0). Observation (31,) = [observation (25), achieved_goal = object_pos (3),
desired_goal (3)]. See the package docstring.
"""

import dataclasses
from typing import ClassVar

from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.fetch.config import FetchConfig
from mjx_gr00t.envs.fetch.task import make_env


@dataclasses.dataclass(frozen=True)
class FetchPushConfig(FetchConfig):
    """FetchPush defaults (gripper_extra_height 0, goals on the table)."""

    has_object: ClassVar[bool] = True
    block_gripper: ClassVar[bool] = True
    target_in_the_air: ClassVar[bool] = False

    gripper_extra_height: float = 0.0
    """Added to the initial height (Fetch: 0 for Push)."""


def build(config: FetchPushConfig) -> EpisodeEnv:
    """The registered `fetch_push` env."""
    return make_env(config)
