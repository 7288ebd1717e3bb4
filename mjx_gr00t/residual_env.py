"""Builds the env a residual policy is trained and evaluated in: a scene's task, a base policy and a
`ResidualTask` over both, wrapped for episodes. The trainers (`train.residual_env`) and the
Gymnasium adapter (`mjx_gr00t.gym`) both build through here, so they step the same env.

    config = scene_config("paper_square", num_envs=64, engine="c", dr=True)
    env = build_residual_env("paper_square", config, base="ik", penalty=0.001)   # one env; vmap it

The GR00T base needs torch, which this package never imports: it comes in as `groot_planner`, a
hook `task -> planner` (`bridge.groot.planner.planner_factory(settings)`), or build the base yourself
and pass it to `residual_episode_env`.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from mjx_gr00t import randomize
from mjx_gr00t.bases import make_base
from mjx_gr00t.bases.chunked import ChunkPlanner
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.residual import Base, CarryBase, ResidualEpisodeEnv, ResidualTask

Overrides = tuple[tuple[str, Any], ...]
"""(config field, value) pairs; a None value means 'keep the default'."""


class ConfigFieldError(ValueError):
    """An override names a field that the scene's config does not have."""

    def __init__(self, scene: str, field: str, fields: list[str]) -> None:
        super().__init__(f"{field!r} does not apply to scene {scene!r}; its config fields are {fields}")
        self.scene = scene
        self.field = field


def scene_config(scene: str, num_envs: int, engine: str, dr: bool = True, overrides: Overrides = (),
                 start: Any = None) -> Any:
    """`start` (None: the scene's default config) with num_envs, engine, the overrides and, when
    not `dr`, domain randomisation off (this wins over a 'dr' override). An override 'dr.NAME'
    sets one DR factor: (low, high), or 'off' (`dr_factors`).

    ValueError for an unknown scene or a bad value (the config validates itself);
    `ConfigFieldError` (a ValueError) for an override the scene's config lacks."""
    config = registry.default_config(scene) if start is None else start
    fields = [f.name for f in dataclasses.fields(config)]
    changes: dict[str, Any] = {"num_envs": num_envs, "engine": engine}
    factors: dict[str, Any] = {}
    for name, value in overrides:
        if value is None:
            continue
        if name.startswith("dr.") and "dr" in fields:
            factors[name[3:]] = value
            continue
        if name not in fields:
            raise ConfigFieldError(scene, name, fields)
        changes[name] = value
    if factors:
        changes["dr"] = dr_factors(changes.get("dr", config.dr), factors)
    if not dr and "dr" in fields:
        changes["dr"] = type(config.dr).off()
    return dataclasses.replace(config, **changes)


def dr_factors(dr: Any, factors: dict[str, Any]) -> Any:
    """`dr` (a DR config) with factors set: {name: (low, high), or 'off'}. ValueError naming the
    factor for an unknown name, a malformed value or a range the config refuses."""
    valid = [f.name for f in dataclasses.fields(dr) if isinstance(getattr(dr, f.name), randomize.Factor)]
    changes = {}
    for name, value in factors.items():
        if name not in valid:
            raise ValueError(f"--scene-options dr.{name}: no such DR factor; this scene's are {valid}")
        if value == "off":
            changes[name] = dataclasses.replace(getattr(dr, name), enabled=False)
        elif isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
            changes[name] = randomize.Factor(float(value[0]), float(value[1]))
        else:
            raise ValueError(f"--scene-options dr.{name}=LOW,HIGH (two numbers) or dr.{name}=off, got {value!r}")
    return dataclasses.replace(dr, **changes)


def residual_episode_env(inner: EpisodeEnv, base: Base | CarryBase, penalty: float) -> EpisodeEnv:
    """EpisodeEnv(ResidualTask(inner.task, base)) with the inner env's episode rules; a
    `ResidualEpisodeEnv` (which plans after resets) when the base keeps a carry (GR00T chunks).

    penalty: weight of ||u||^2 on the applied residual u (ValueError when negative)."""
    task = ResidualTask(inner.task, base, penalty_weight=penalty)
    env_cls = ResidualEpisodeEnv if task.has_carry else EpisodeEnv
    return env_cls(task, inner.episode_length, terminate_on_success=inner.terminate_on_success)


def build_residual_env(scene: str, config: Any, base: str, penalty: float = 0.001,
                       groot_planner: Callable[[Any], ChunkPlanner] | None = None) -> EpisodeEnv:
    """The residual env of `scene` built with `config` (see `scene_config`) and the base named
    `base` (`bases.make_base`); for one env: vmap `reset`/`step` for `config.num_envs`.

    groot_planner: `task -> planner`, needed by base 'groot' only. ValueError for a base the scene
    has not, 'groot' without a planner, or a negative penalty."""
    inner = registry.make(scene, config)
    return residual_episode_env(inner, make_base(base, scene, inner.task, groot_planner=groot_planner), penalty)


def scene_task(env: EpisodeEnv) -> Any:
    """The scene task inside `env`, the one holding DR ranges: `env.task`, or its inner task where
    that is a `ResidualTask` (an env built by `mjx_gr00t.residual_env`)."""
    return env.task.task if isinstance(env.task, ResidualTask) else env.task
