"""The trainers' typed CLI: a RunConfig from a named recipe, a resumed run's saved config, or the
algorithm's default recipe, with flags over it.

    python -m train.residual_sac --recipe fetch_pick_place/script/sac --seed 3
    python -m train.residual_ppo --resume runs/x          # the saved config is the default
    python -m train.residual_ppo --recipe list            # the recipes, and what each measured
"""

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from mjx_gr00t import distributed
from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl import algos
from mjx_gr00t.runner import legacy, run_dir
from mjx_gr00t.runner.build import GrootBridge
from mjx_gr00t.runner.config import RunConfig
from mjx_gr00t.runner.recipes import default_config, recipe_config, recipes
from mjx_gr00t.runner.run import train

RECIPE_HELP: str = ("--recipe NAME starts from a named recipe (`--recipe list` lists them); flags after it win. "
                    "--resume DIR continues a run, its saved config the defaults.")


def flag_value(argv: Sequence[str], flag: str) -> str | None:
    """The value of `flag VALUE` / `flag=VALUE` in argv, if any (read before full parsing)."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _without(argv: Sequence[str], flag: str) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            out.append(arg)
    return out


def _recipe_list(algo: str) -> str:
    rows = [f"  {name}  {r.result}" for name, r in sorted(recipes().items()) if r.algo == algo]
    return f"recipes of train.residual_{algo}:\n" + "\n".join(rows)


def starting_config(algo: str, argv: Sequence[str]) -> RunConfig:
    """The config flags apply to: --resume DIR's saved one, --recipe NAME's, or the default recipe."""
    resume, recipe = flag_value(argv, "--resume"), flag_value(argv, "--recipe")
    if resume is not None:
        if recipe is not None:
            raise UsageError("--recipe starts a new run; --resume continues one with its saved config (drop one)")
        record = run_dir.read_run(resume)
        if record["algo"] != algo:
            raise UsageError(f"{resume!r} holds a {record['algo']} run; resume it with train.residual_{record['algo']}")
        saved = legacy.config_of_record(record)
        return dataclasses.replace(saved, run=dataclasses.replace(
            saved.run, stop_after=None, stop_after_minutes=None, overwrite=False, resume=None))
    if recipe is None:
        return default_config(algo)
    config = recipe_config(recipe)
    if not isinstance(config.algo, algos.get(algo).config_type):
        owner = next(a for a in algos.names() if isinstance(config.algo, algos.get(a).config_type))
        raise UsageError(f"recipe {recipe!r} trains with {owner}; run it with train.residual_{owner}")
    return config


def parse(algo: str, argv: Sequence[str] | None = None, description: str | None = None) -> RunConfig:
    """The RunConfig of a trainer's command line (tyro). UsageError, never a traceback, for bad values."""
    from mjx_gr00t import cli_args

    argv = list(sys.argv[1:] if argv is None else argv)
    if flag_value(argv, "--recipe") == "list":
        print(_recipe_list(algo))
        raise SystemExit(0)
    default = starting_config(algo, argv)
    config_type = algos.get(algo).config_type
    try:
        return cli_args.cli(RunConfig[config_type], args=_without(argv, "--recipe"), default=default,
                        description=f"{description or ''}\n\n{RECIPE_HELP}")
    except ValueError as e:  # a config's own validation, raised while tyro builds it
        raise UsageError(str(e)) from e


def main(algo: str, argv: Sequence[str] | None = None, groot: GrootBridge | None = None,
         description: str | None = None) -> dict[str, Any]:
    """Entry point of `python -m train.residual_<algo>`. Joins a several-host run first when
    JAX_COORDINATOR_ADDRESS is set (see mjx_gr00t.distributed)."""
    distributed.initialize()
    return train(parse(algo, argv, description), algo, groot)
