"""Builds the residual env a trainer steps: scene + base + `ResidualTask`, from CLI-level choices.

Shared by `train.residual_ppo`, `train.residual_sac`, `train.evaluate` and `train.export`, so that
a run directory's saved args rebuild exactly the env it was trained on. The building itself is
`mjx_gr00t.residual_env`; this module adds the GR00T base (torch, via `train.groot_base`), CLI
errors (`UsageError`) and a cache.
"""

import functools
from typing import Any

from mjx_gr00t import residual_env
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.export import ExportSpec
from train.groot_base import GrootSpec, groot_export_of, planner_factory
from train.run_dir import UsageError


def scene_config(scene: str, num_envs: int, engine: str, dr: bool,
                 extra: tuple[tuple[str, Any], ...] = ()) -> Any:
    """The scene's default config with these choices applied; a clear error for a bad value.

    extra: further (field, value) overrides; None values are skipped; a field the scene lacks is
    an error."""
    try:
        return residual_env.scene_config(scene, num_envs, engine, dr, extra)
    except residual_env.ConfigFieldError as e:
        raise UsageError(f"--{e.field.replace('_', '-')} does not apply to scene {scene!r}") from e
    except ValueError as e:
        raise UsageError(str(e)) from e


@functools.lru_cache(maxsize=8)
def build_residual_env(
    scene: str, base: str, engine: str, num_envs: int, dr: bool, penalty: float,
    extra: tuple[tuple[str, Any], ...] = (), groot: GrootSpec | None = None,
) -> EpisodeEnv:
    """EpisodeEnv(ResidualTask(scene task, base)) for one env (vmap for `num_envs`); with a chunked
    base (--base groot, configured by `groot`) a `ResidualEpisodeEnv`, which plans after resets.

    The same choices give back the same env object, so compiled functions keyed on it are reused
    (and a GR00T checkpoint is loaded once)."""
    config = scene_config(scene, num_envs, engine, dr, extra)
    planner = None if groot is None else planner_factory(groot)
    try:
        return residual_env.build_residual_env(scene, config, base, penalty, groot_planner=planner)
    except ValueError as e:
        raise UsageError(str(e)) from e


def export_spec(args: Any, env: EpisodeEnv, algo: str, hidden: tuple[int, ...], activation: str,
                normalize_obs: bool, obs_clip: float | None, squash: str = "clip") -> ExportSpec:
    """What the export says about a trained residual of `env` besides its weights (with --base groot,
    the GR00T settings a deployment needs: checkpoint, data config, key map, n_action_steps, ...)."""
    residual_task = env.task
    inner = residual_task.task
    names = tuple(getattr(inner, "action_names", tuple(f"a{i}" for i in range(env.action_size))))
    ranges = tuple(getattr(inner, "action_ranges", ((-1.0, 1.0),) * env.action_size))
    return ExportSpec(
        scene=args.scene, base=args.base, algo=algo, hidden=tuple(hidden), activation=activation,
        normalize_obs=normalize_obs, obs_clip=obs_clip,
        obs_layout=tuple(residual_task.observation_layout), alpha=float(args.alpha),
        act_scale=float(getattr(inner.config, "act_scale", getattr(inner.config, "action_scale", 1.0))),
        joint_names=names, joint_ranges=ranges, squash=squash, groot=groot_export_of(args),
    )
