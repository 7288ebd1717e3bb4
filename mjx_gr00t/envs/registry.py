"""The scene registry: `make(name, config)` builds an env from a typed config.

    env = registry.make("paper_square", PaperRigConfig(num_envs=512, engine="c"))
    state = jax.vmap(env.reset)(jax.random.split(key, 512))

Registration is data: `register(name, build, default_config, bases=..., recipes=...)`: which base
policies suit the scene (`bases(name)`), and its named recipes (`recipes()`, see envs/recipes.py). Bad input (an unknown scene, a
config of the wrong type, num_envs < 1, an inverted DR range, a missing XML) raises an error that
names the problem and the valid choices.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from mjx_gr00t.envs import recipes as recipe_data
from mjx_gr00t.envs.recipes import Recipe
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.paper_rig import PaperRigTask
from mjx_gr00t.envs.paper_rig_config import PaperRigConfig
from mjx_gr00t.envs.paper_card import PaperCardConfig, PaperCardTask


@dataclasses.dataclass(frozen=True)
class SceneEntry:
    """A registered scene: how to build it and its default config."""

    build: Callable[[Any], EpisodeEnv]
    default_config: Any
    bases: tuple[str, ...]
    recipes: Mapping[str, Recipe]


_REGISTRY: dict[str, SceneEntry] = {}


def register(name: str, build: Callable[[Any], EpisodeEnv], default_config: Any, bases: tuple[str, ...] = ("zero",),
             recipes: Mapping[str, Recipe] | None = None) -> None:
    """Registers a scene: its builder, default config, the base policies that suit it and its recipes
    ('<base>/<algo>[/<variant>]' -> Recipe). Raises ValueError if the name is taken or a recipe's base is not one
    of `bases`."""
    if name in _REGISTRY:
        raise ValueError(f"scene {name!r} is already registered")
    for key, recipe in (recipes or {}).items():
        if recipe.base not in bases or key.split("/")[:2] != [recipe.base, recipe.algo]:
            raise ValueError(f"scene {name!r}: recipe {key!r} must be named <base>/<algo>[/<variant>] with a "
                             f"base in {bases}")
    _REGISTRY[name] = SceneEntry(build=build, default_config=default_config, bases=tuple(bases),
                                 recipes=dict(recipes or {}))


def bases(name: str) -> tuple[str, ...]:
    """The base policies that suit scene `name`."""
    return _entry(name).bases


def recipes() -> dict[str, Recipe]:
    """Every scene's recipes by full name, '<scene>/<base>/<algo>'."""
    return {f"{scene}/{key}": r for scene, entry in sorted(_REGISTRY.items()) for key, r in entry.recipes.items()}


def scenes() -> list[str]:
    """Registered scene names, sorted."""
    return sorted(_REGISTRY)


def default_config(name: str) -> Any:
    """The default config of a scene."""
    return _entry(name).default_config


def make(name: str, config: Any = None) -> EpisodeEnv:
    """Builds scene `name` (per-env `reset`/`step`; vmap them for `config.num_envs` envs)."""
    entry = _entry(name)
    if config is None:
        config = entry.default_config
    expected = type(entry.default_config)
    if not isinstance(config, expected):
        raise TypeError(
            f"scene {name!r} takes a {expected.__name__}, got a {type(config).__name__}"
        )
    # Configs validate themselves at construction; re-run it for configs built with replace().
    config = dataclasses.replace(config)
    return entry.build(config)


def _entry(name: str) -> SceneEntry:
    if name not in _REGISTRY:
        raise ValueError(f"unknown scene {name!r}; valid scenes: {', '.join(scenes())}")
    return _REGISTRY[name]


def _build_paper_square(config: PaperRigConfig) -> EpisodeEnv:
    return EpisodeEnv(PaperRigTask(config), config.episode_length)


# The paper-return rig's twin (envs/paper_rig.py): the paper task.
register("paper_square", _build_paper_square, PaperRigConfig(), bases=("ik", "zero", "groot"),
         recipes=recipe_data.PAPER_SQUARE)


def _build_paper_card(config: PaperCardConfig) -> EpisodeEnv:
    return EpisodeEnv(PaperCardTask(config), config.episode_length)


# The paper task before the twin (envs/paper_card.py: a 3 mm card pushed by a tool-tip pad no SO-101
# has), kept for the yardsticks and runs measured on it; not a target for new work.
register("paper_card", _build_paper_card, PaperCardConfig(), bases=("ik", "zero", "groot"),
         recipes=recipe_data.PAPER_CARD)


# Fetch-like goal-conditioned tasks.
from mjx_gr00t.envs.fetch import pick_place as fetch_pick_place  # noqa: E402
from mjx_gr00t.envs.fetch import push as fetch_push  # noqa: E402
from mjx_gr00t.envs.fetch import reach as fetch_reach  # noqa: E402

FETCH_BASES: tuple[str, ...] = ("script", "zero")
register("fetch_reach", fetch_reach.build, fetch_reach.FetchReachConfig(), bases=FETCH_BASES)
register("fetch_push", fetch_push.build, fetch_push.FetchPushConfig(), bases=FETCH_BASES,
         recipes=recipe_data.FETCH_PUSH)
register("fetch_pick_place", fetch_pick_place.build, fetch_pick_place.FetchPickPlaceConfig(), bases=FETCH_BASES,
         recipes=recipe_data.FETCH_PICK_PLACE)


# The SO-101 goal-conditioned tasks: Fetch's semantics on the twin's arm (envs/so101_goal).
from mjx_gr00t.envs.so101_goal import tasks as so101_goal  # noqa: E402

SO101_GOAL_BASES: tuple[str, ...] = ("script", "zero")
register("so101_reach", so101_goal.build, so101_goal.So101ReachConfig(), bases=SO101_GOAL_BASES)
register("so101_push", so101_goal.build, so101_goal.So101PushConfig(), bases=SO101_GOAL_BASES)
register("so101_pick_place", so101_goal.build, so101_goal.So101PickPlaceConfig(), bases=SO101_GOAL_BASES,
         recipes=recipe_data.SO101_PICK_PLACE)
