"""Our training runs as the benchmarks use them: the runner's default config at a benchmark's size,
a run directory's resolved `RunConfig` (run.json of either layout), and its settings by flat name.

    config = runner_config("ppo", engine="c", num_envs=64)   # `python -m train.residual_ppo`'s defaults
    record, config = read_config("runs/ppo-paper_square-ik-...")
    flat_settings(config)["eval_every"]                      # that run's --eval-every
"""

from typing import Any

from mjx_gr00t.runner import legacy, run_dir
from mjx_gr00t.runner.config import RunConfig, as_json, flat_paths, with_flat
from mjx_gr00t.runner.recipes import default_config, resolve


def runner_config(algo: str, **settings: Any) -> RunConfig:
    """The resolved config `python -m train.residual_<algo>` runs with no flags (the algorithm's
    default recipe), with `settings` (flat names: scene, base, engine, num_envs, dr, ...) over it.
    KeyError for a name no field has; UsageError for a value the config refuses."""
    return resolve(with_flat(default_config(algo), settings), algo)


def read_config(path: str) -> tuple[dict[str, Any], RunConfig]:
    """The run.json record of run directory `path` and its resolved RunConfig (a run made before
    RunConfig, whose run.json holds flat "args", is read into one). UsageError (one line) for a
    directory that holds no run."""
    record = run_dir.read_run(path)
    return record, legacy.config_of_record(record)


def flat_settings(config: RunConfig) -> dict[str, Any]:
    """Every field of `config` by its flat name (the trainers' flag names with '_': scene, num_envs,
    eval_every, groot_model, ...), JSON-ready: what a benchmark record keeps as our run's "args"."""
    record = as_json(config)
    return {name: record[section] if field is None else record[section][field]
            for name, (section, field) in flat_paths(type(config.algo)).items()}
