"""The scene registry: `make(name, config)` builds an env from a typed config.

    env = registry.make("paper_square", PaperSquareConfig(num_envs=512, engine="c"))
    state = jax.vmap(env.reset)(jax.random.split(key, 512))

Registration is data: `register(name, build, default_config)`. Bad input (an unknown scene, a
config of the wrong type, num_envs < 1, an inverted DR range, a missing XML) raises an error that
names the problem and the valid choices.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.paper_square import PaperSquareConfig, PaperSquareTask


@dataclasses.dataclass(frozen=True)
class SceneEntry:
    """A registered scene: how to build it and its default config."""

    build: Callable[[Any], EpisodeEnv]
    default_config: Any


_REGISTRY: dict[str, SceneEntry] = {}


def register(name: str, build: Callable[[Any], EpisodeEnv], default_config: Any) -> None:
    """Registers a scene. Raises ValueError if the name is taken."""
    if name in _REGISTRY:
        raise ValueError(f"scene {name!r} is already registered")
    _REGISTRY[name] = SceneEntry(build=build, default_config=default_config)


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


def _build_paper_square(config: PaperSquareConfig) -> EpisodeEnv:
    return EpisodeEnv(PaperSquareTask(config), config.episode_length)


register("paper_square", _build_paper_square, PaperSquareConfig())


# Fetch-like goal-conditioned tasks.
from mjx_gr00t.envs import fetch_pick_place, fetch_push, fetch_reach  # noqa: E402

register("fetch_reach", fetch_reach.build, fetch_reach.FetchReachConfig())
register("fetch_push", fetch_push.build, fetch_push.FetchPushConfig())
register("fetch_pick_place", fetch_pick_place.build, fetch_pick_place.FetchPickPlaceConfig())
