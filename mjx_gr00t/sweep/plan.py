"""What a sweep trains: its configurations, the runs (configuration x seed) and the groups of runs that
share one compiled program, and whether the largest group fits memory.

    plan = make_plan(settings)
    for group in plan.groups:            # one vmapped program each, trained one after another
        group.config                     # the group's static RunConfig (traced fields: its first run's)
        group.runs                       # (Run(config index, seed, RunConfig, traced values), ...)

A field the algorithm's step takes as data (`traced_names`: PPO's `ppo_config.TRACED_FIELDS`, the
off-policy learners' `off_policy_hyper.TRACED_FIELDS`, and the residual's alpha) may differ between
configurations that share a program. Any other difference (update_epochs, num_envs, unroll_length,
updates per iteration, batch size, widths, the residual penalty, ...) gives a group, and a compile,
of its own.
"""

import ast
import dataclasses
import itertools
import json
import random
from typing import Any

import jax
import numpy as np

from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl import off_policy_hyper
from mjx_gr00t.rl.ppo_config import PPOConfig
from mjx_gr00t.rl.ppo_config import TRACED_FIELDS as PPO_TRACED
from mjx_gr00t.rl.replay import available_memory_bytes
from mjx_gr00t.runner.config import RunConfig, SceneSettings, as_json, with_flat
from mjx_gr00t.runner.recipes import default_config, recipe_config, resolve
from mjx_gr00t.sweep.settings import SweepSettings

RESIDUAL_FLAGS: tuple[str, ...] = ("alpha", "residual_penalty")
SCENE_FLAGS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SceneSettings))
"""--fixed may also set the scene's settings (scene, base, engine, dr, scene_options)."""


def traced_names(config: RunConfig) -> tuple[str, ...]:
    """Flat names that are data in one program of `config`'s algorithm, alpha (the residual's) last."""
    algo = config.algo
    fields = PPO_TRACED if isinstance(algo, PPOConfig) else off_policy_hyper.traced_fields(algo)
    return (*fields, "alpha")


@dataclasses.dataclass(frozen=True)
class Run:
    """One trained run: configuration `index` (in `Plan.configs`) with `seed`."""

    index: int
    seed: int
    config: RunConfig
    hyper: tuple[tuple[str, float], ...]
    """(name, value) of every traced field, in `traced_names` order."""


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs that share one compiled program: `config` is the static part (every run's config but the
    traced fields, which are the first run's)."""

    config: RunConfig
    runs: tuple[Run, ...]


@dataclasses.dataclass(frozen=True)
class Plan:
    """configs: each configuration's swept values as {name: value}, in grid order. runs: every run,
    configuration-major. groups: the runs split by program."""

    configs: tuple[dict[str, Any], ...]
    runs: tuple[Run, ...]
    groups: tuple[Group, ...]


def sweepable(config: RunConfig) -> tuple[str, ...]:
    """The flat names a sweep of this algorithm may vary: its config's fields and the residual's."""
    fields = [f.name for f in dataclasses.fields(config.algo) if f.name != "total_iterations"]
    return (*fields, *RESIDUAL_FLAGS)


def parse_value(text: str) -> Any:
    """A flag value read as a Python literal (3e-4, 4, (128, 128), None), else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def flat_value(config: RunConfig, name: str) -> Any:
    """The value of flat name `name` in `config` (an algorithm or residual field)."""
    return getattr(config.algo, name) if hasattr(config.algo, name) else getattr(config.residual, name)


def configurations(settings: SweepSettings, start: RunConfig) -> tuple[dict[str, Any], ...]:
    """Every combination of --grid values (or a --sample of them), as {name: value} in grid order.
    UsageError for a flag the algorithm does not have."""
    allowed = sweepable(start)
    names, value_lists = [], []
    for name, texts in settings.grid_items():
        if name not in allowed:
            raise UsageError(f"--grid {name}: {settings.algo} has no flag {name!r}; it sweeps: {', '.join(allowed)}")
        names.append(name)
        values = [parse_value(v) for v in texts]
        current = flat_value(start, name)
        wrong = [v for v in values if isinstance(current, (int, float)) and not isinstance(current, bool)
                 and (isinstance(v, bool) or not isinstance(v, (int, float)))]
        if wrong:
            raise UsageError(f"--grid {name}: {wrong[0]!r} is not a number (the recipe has {current!r})")
        value_lists.append(values)
    combos = [dict(zip(names, values)) for values in itertools.product(*value_lists)]
    if settings.sample is not None and settings.sample < len(combos):
        chosen = sorted(random.Random(settings.sample_seed).sample(range(len(combos)), settings.sample))
        combos = [combos[i] for i in chosen]
    return tuple(combos)


def starting_config(settings: SweepSettings) -> RunConfig:
    """The recipe (or the algorithm's default) with --fixed and --total-steps applied."""
    start = recipe_config(settings.recipe) if settings.recipe else default_config(settings.algo)
    fixed = {name: parse_value(text) for name, text in settings.fixed_items()}
    allowed = {*sweepable(start), *SCENE_FLAGS}
    unknown = sorted(set(fixed) - allowed)
    if unknown:
        raise UsageError(f"--fixed {unknown[0]}: {settings.algo} has no flag {unknown[0]!r} a sweep can set; "
                         f"it sets: {', '.join(sorted(allowed))}")
    try:
        config = with_flat(start, {**fixed, "total_steps": settings.total_steps})
    except (TypeError, ValueError) as e:
        raise UsageError(f"--fixed: {e}") from e
    if config.residual.alpha_schedule != "constant":
        raise UsageError("a sweep trains with a constant alpha; start from a recipe whose alpha_schedule is "
                         "'constant' or pass --fixed alpha_schedule=constant")
    return config


def run_config(start: RunConfig, values: dict[str, Any], seed: int, algo: str) -> RunConfig:
    """`start` with one configuration's values and `seed`, resolved; UsageError naming the values a
    config refuses."""
    try:
        return resolve(with_flat(start, {**values, "seed": seed}), algo)
    except (TypeError, ValueError, UsageError) as e:
        message = getattr(e, "message", str(e))
        raise UsageError(f"configuration {values}: {message}") from e


def static_key(config: RunConfig) -> str:
    """`config` without its traced fields and seed, as JSON: runs with equal keys share a program."""
    record = as_json(config)
    record.pop("seed")
    for name in traced_names(config):
        record["residual" if name == "alpha" else "algo"][name] = None
    return json.dumps(record, sort_keys=True)


def hyper_values(config: RunConfig) -> tuple[tuple[str, float], ...]:
    """(name, value) of every traced field of `config`, in `traced_names` order."""
    return tuple((name, float(flat_value(config, name))) for name in traced_names(config))


def make_plan(settings: SweepSettings) -> Plan:
    """The configurations, runs and groups of `settings`."""
    start = starting_config(settings)
    configs = configurations(settings, start)
    runs = tuple(Run(i, seed, c, hyper_values(c))
                 for i, values in enumerate(configs) for seed in settings.seeds
                 for c in [run_config(start, values, seed, settings.algo)])
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(static_key(run.config), []).append(run)
    ordered = tuple(Group(config=dataclasses.replace(members[0].config, seed=0), runs=tuple(members))
                    for members in groups.values())
    return Plan(configs=configs, runs=runs, groups=ordered)


def run_bytes(state_shapes: Any, batch_size: int, obs_size: int, action_size: int) -> int:
    """Bytes one run needs: its TrainState (`jax.eval_shape` of init: leaves with shape and dtype) and
    its iteration's rollout and minibatch copies (about 4 float32 copies of [batch, 2 obs + action + 4])."""
    state = sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(state_shapes))
    return state + 4 * batch_size * (2 * obs_size + action_size + 4) * 4


def check_memory(group_bytes: list[tuple[int, int]], available: int | None = None,
                 shrink: str = "num_envs or unroll_length") -> None:
    """group_bytes: (runs in the group, bytes per run) of each group. UsageError with the bytes the
    largest group needs and the largest number of runs per group that fits, when it does not fit;
    `shrink` names the flags that make one run smaller."""
    available = available_memory_bytes() if available is None else available
    runs, per_run = max(group_bytes, key=lambda g: g[0] * g[1])
    need = runs * per_run
    if need > available:
        fits = available // per_run
        if fits == 0:
            raise UsageError(f"one run alone needs {per_run / 2**30:.2f} GiB and {available / 2**30:.2f} GiB is "
                             f"available: lower {shrink}")
        raise UsageError(
            f"the sweep's largest program needs {need / 2**30:.2f} GiB ({runs} runs x {per_run / 2**20:.0f} MiB) "
            f"and {available / 2**30:.2f} GiB is available; the largest grid that fits has {fits} runs per "
            f"program: sweep fewer values or seeds, or pass --sample {max(fits, 1)}")
