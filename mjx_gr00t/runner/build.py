"""Builds what a RunConfig trains: the residual env (scene + base + `ResidualTask`) and what its export
says besides the weights. Training, `train.evaluate`, `train.export` and `train.record` all build
through here, so a run directory's saved config rebuilds exactly the env it was trained on.

    env = build_env(config)                                   # one env; vmap for config.algo.num_envs
    env = build_env(config, groot=bridge.groot.planner)       # --base groot

The GR00T base is torch code, which this package never imports: it comes in as `groot`, the
module `bridge.groot.planner` (see `GrootBridge`).
"""

import ast
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Protocol

from mjx_gr00t import residual_env
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.errors import UsageError
from mjx_gr00t.export.groot import GrootExport
from mjx_gr00t.export.spec import ExportSpec
from mjx_gr00t.groot_settings import GrootSettings
from mjx_gr00t.rl.algo import ExportNetwork
from mjx_gr00t.runner.config import RunConfig, SceneSettings

class GrootBridge(Protocol):
    """The torch side of --base groot, as the runner uses it: the module `bridge.groot.planner`
    satisfies it (pass the module)."""

    def planner_factory(self, settings: GrootSettings) -> Callable[[Any], Any]:
        """settings -> (task -> chunk planner)."""

    def export_record(self, settings: GrootSettings) -> GrootExport:
        """What an export records about the GR00T base."""

    def with_groot_metrics(self, train_step: Callable[[Any], Any], env: Any, steps_per_iteration: int) -> Any:
        """`train_step` whose metrics also hold the planner's timing."""


def scene_options(options: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """NAME=VALUE strings -> (name, value) pairs, values read as Python literals (0.1, None, True).
    UsageError for a string without '='."""
    pairs = []
    for option in options:
        name, sep, text = option.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--scene-options takes NAME=VALUE entries (e.g. obj_range=0.1), got {option!r}")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        pairs.append((name.strip(), value))
    return tuple(pairs)


def scene_config(scene: SceneSettings, num_envs: int) -> Any:
    """The scene's own config with these settings applied; UsageError for a bad value or option."""
    try:
        return residual_env.scene_config(scene.scene, num_envs, scene.engine, scene.dr,
                                         scene_options(scene.scene_options))
    except residual_env.ConfigFieldError as e:
        raise UsageError(f"--scene-options {e.field}=...: {e}") from e
    except ValueError as e:
        raise UsageError(str(e)) from e


def build_env(config: RunConfig, groot: GrootBridge | None = None) -> EpisodeEnv:
    """EpisodeEnv(ResidualTask(scene task, base)) of `config`, for one env (vmap for num_envs); with a
    chunked base (GR00T) a `ResidualEpisodeEnv`, which plans after resets. The same config gives back
    the same env object, so compiled functions keyed on it are reused (and a checkpoint loads once)."""
    settings = config.groot if config.scene.base == "groot" else None
    return _build(config.scene, config.algo.num_envs, config.residual.residual_penalty, settings, groot)


def groot_export(config: RunConfig, groot: GrootBridge | None) -> GrootExport | None:
    """What the export records about the GR00T base; None unless --base groot."""
    if config.scene.base != "groot":
        return None
    return _need(groot).export_record(config.groot)


def _need(groot: GrootBridge | None) -> GrootBridge:
    if groot is None:
        raise UsageError("--base groot needs the GR00T bridge; run it through train.residual_ppo / "
                         "residual_sac (or pass groot=bridge.groot.planner)")
    return groot


@functools.lru_cache(maxsize=8)
def _build(scene: SceneSettings, num_envs: int, penalty: float, settings: GrootSettings | None,
           groot: GrootBridge | None) -> EpisodeEnv:
    scene_cfg = scene_config(scene, num_envs)
    planner = None if settings is None else _need(groot).planner_factory(settings)
    try:
        return residual_env.build_residual_env(scene.scene, scene_cfg, scene.base, penalty, groot_planner=planner)
    except ValueError as e:
        raise UsageError(str(e)) from e


def export_spec(config: RunConfig, env: EpisodeEnv, algo: str, network: ExportNetwork,
                groot: GrootExport | None = None) -> ExportSpec:
    """What the export says about a trained residual of `env` besides its weights (with --base groot,
    `groot`: the GR00T settings a deployment needs: checkpoint, data config, key map, ...). Its
    observation layout is the actor's: the env's without its critic-only entries."""
    spec = env.spec
    base = getattr(env.task, "base", None)
    base_config = getattr(base, "config", None)
    settings = tuple(dataclasses.asdict(base_config).items()) if dataclasses.is_dataclass(base_config) else ()
    return ExportSpec(
        scene=config.scene.scene, base=config.scene.base, algo=algo, hidden=network.hidden,
        activation=network.activation, normalize_obs=network.normalize_obs, obs_clip=network.obs_clip,
        obs_layout=spec.actor_layout, obs_mode=spec.obs_mode, alpha=float(config.residual.alpha),
        act_scale=float(spec.action_scale), joint_names=tuple(spec.action_names),
        joint_ranges=tuple(spec.action_ranges), squash=network.squash, groot=groot, base_config=settings,
    )
