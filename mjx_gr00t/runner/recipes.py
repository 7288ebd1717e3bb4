"""RunConfigs from named recipes, and the resolved config a run saves.

    config = recipe_config("fetch_pick_place/script/sac")
    config = resolve(config)            # run-length-dependent fields set (PPO's lr decay)
"""

import dataclasses

from mjx_gr00t.envs import registry
from mjx_gr00t.envs.recipes import Recipe
from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl import algos
from mjx_gr00t.runner.config import RunConfig, SceneSettings, iterations, with_flat

def recipes() -> dict[str, Recipe]:
    """Every registered scene's recipes by full name, <scene>/<base>/<algo>."""
    return registry.recipes()


def recipe_config(name: str) -> RunConfig:
    """The RunConfig of recipe `name` (unresolved). UsageError naming the valid recipes otherwise."""
    table = recipes()
    if name not in table:
        raise UsageError(f"unknown recipe {name!r}; recipes: {', '.join(sorted(table))}")
    recipe = table[name]
    algo = algos.get(recipe.algo)
    config = RunConfig(algo=_algo_defaults(algo.config_type), scene=SceneSettings(name.split("/")[0], recipe.base))
    try:
        return with_flat(config, dict(recipe.settings))
    except KeyError as e:
        raise UsageError(f"recipe {name!r} sets {e.args[0]!r}, which no config field is called") from e


def _algo_defaults(config_type: type) -> object:
    """The algorithm config's defaults, with a placeholder run length where its schedule needs one
    (resolve() sets the real one)."""
    fields = {f.name for f in dataclasses.fields(config_type)}
    return config_type(total_iterations=1) if "total_iterations" in fields else config_type()


def default_config(algo: str) -> RunConfig:
    """What `python -m train.residual_<algo>` runs with no flags: the algorithm's default recipe."""
    return recipe_config(algos.get(algo).default_recipe)


def resolve(config: RunConfig, algo: str) -> RunConfig:
    """`config` with what follows from the run's length set (PPO: the learning-rate decay's last
    iteration). UsageError for values the algorithm's config refuses."""
    spec = algos.get(algo)
    try:
        total = iterations(config.run.total_steps, spec.steps_per_iteration(config.algo))
        return dataclasses.replace(config, algo=spec.resolve(config.algo, total))
    except ValueError as e:
        raise UsageError(str(e)) from e


def total_iterations(config: RunConfig, algo: str) -> int:
    """Iterations that cover --total-steps."""
    return iterations(config.run.total_steps, algos.get(algo).steps_per_iteration(config.algo))
