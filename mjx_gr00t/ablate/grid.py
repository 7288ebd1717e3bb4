"""The DR ablation's grid: DR arms x seeds as one leading axis, and PPO vmapped over it.

An *arm* is a DR config: 'none' (every factor at its nominal value), one factor alone, or 'all'.
Because DR ranges are data in the env state (`info.dr_ranges`, which auto-resets keep drawing
from), an arm is nothing but other ranges: one env object, one compiled train step, and the arms
differ only in the arrays they carry.

The grid's G = len(arms) * len(seeds) cells are flattened arm-major (cell g = arm g // S, seed
g % S). Every arm of a given seed starts from the same network weights and the same reset keys
(common random numbers), so arms differ only by their ranges, not by luck of the draw.

    grid = Grid(arms, seeds)
    state = init_grid(config, env, grid)              # TrainState, leaves [G, ...]
    state, n = shard_over_devices(state, grid.size)   # several devices: cells split among them
    step = make_grid_step(config, env, alpha_fn)      # jitted: one PPO iteration of every cell
    state, metrics = step(state)                      # metrics: dict of [G] arrays

Several devices: whole cells go to each device (the grid axis is split with `jax.sharding`), so
each cell's own PPO program is the single-device one (`cell_mesh`) and cells never talk to each
other; only the `c` engine gathers all envs into its one host callback.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mjx_gr00t import distributed, randomize
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.residual_env import scene_task
from mjx_gr00t.rl import ppo
from mjx_gr00t.rl.ppo_config import PPOConfig

NONE: str = "none"
ALL: str = "all"


@dataclasses.dataclass(frozen=True)
class Arm:
    """One DR arm: its name and the DR config it trains with."""

    name: str
    dr: Any


@dataclasses.dataclass(frozen=True)
class Grid:
    """Arms x seeds, flattened arm-major into G cells."""

    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]

    @property
    def size(self) -> int:
        """G, the number of (arm, seed) cells."""
        return len(self.arms) * len(self.seeds)

    def cells(self) -> list[tuple[Arm, int]]:
        """(arm, seed) of each cell, in grid order."""
        return [(arm, seed) for arm in self.arms for seed in self.seeds]


def arm_names(dr_default: Any, image_only: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every arm a DR config allows: 'none', each factor alone (by its name) but those in
    `image_only` (factors that change only rendered images, where nothing reads them), 'all'."""
    return (NONE, *(f for f in randomize.factor_names(dr_default) if f not in image_only), ALL)


def make_arms(dr_default: Any, names: tuple[str, ...], image_only: tuple[str, ...] = ()) -> tuple[Arm, ...]:
    """The named arms of `dr_default` (the scene's default DR config) in the given order.

    'none' switches every factor off, a factor name keeps that factor alone, 'all' keeps the
    default. Raises ValueError naming the valid arms for an unknown or repeated name, or for an
    arm of a factor in `image_only` (it would train exactly as 'none': nothing reads images)."""
    valid = arm_names(dr_default, image_only)
    blind = [n for n in names if n in image_only]
    if blind:
        raise ValueError(f"arm(s) {', '.join(map(repr, blind))} randomise only rendered images, which nothing in "
                         f"this ablation reads (its base and estimate use no camera); valid arms: {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"unknown arm(s) {', '.join(map(repr, unknown))}; valid arms: {', '.join(valid)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"arm(s) listed twice: {', '.join(repeated)}")
    if not names:
        raise ValueError(f"no arms given; valid arms: {', '.join(valid)}")
    factors = randomize.factor_names(dr_default)
    chosen = {NONE: (), ALL: factors}
    return tuple(Arm(n, randomize.with_enabled(dr_default, chosen.get(n, (n,)))) for n in names)


def dr_ranges_type(env: EpisodeEnv) -> type:
    """The DR ranges dataclass of the scene task inside `env`."""
    return type(scene_task(env).default_ranges)


def grid_ranges(env: EpisodeEnv, grid: Grid) -> Any:
    """The DR ranges of every cell, stacked: a ranges pytree with leaves [G, 2]."""
    from_config = dr_ranges_type(env).from_config
    per_cell = [from_config(arm.dr) for arm, _ in grid.cells()]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *per_cell)


def grid_keys(grid: Grid) -> jax.Array:
    """[G, 2] PRNG keys: PRNGKey(seed) of each cell's seed (shared across arms)."""
    return jnp.stack([jax.random.PRNGKey(seed) for _, seed in grid.cells()])


@functools.lru_cache(maxsize=1)
def cell_mesh() -> Mesh:
    """The one-device mesh each cell's PPO runs on: PPO then builds its single-device program,
    and the grid, not the envs of a cell, is what is split over devices."""
    return distributed.env_mesh(jax.devices()[:1])


def init_cell(config: PPOConfig, env: EpisodeEnv, key: jax.Array, ranges: Any) -> ppo.TrainState:
    """`ppo.init` of one cell, whose `num_envs` envs reset from `ranges` (not the config's).

    key: (2,) PRNG key. ranges: the task's DR ranges pytree, leaves (2,). Leaves of the result as
    `ppo.init` gives them (env state [B, ...]). Jitted, compiled once per (config, env)."""
    return _jitted_cell_init(config, env)(key, ranges)


def init_grid(config: PPOConfig, env: EpisodeEnv, grid: Grid) -> ppo.TrainState:
    """Every cell's `init_cell`, stacked: a TrainState with leaves [G, ...].

    A loop over cells rather than a vmap: the vmapped init compiled 4x slower than one cell's."""
    keys, ranges = grid_keys(grid), grid_ranges(env, grid)
    states = [init_cell(config, env, keys[g], cell(ranges, g)) for g in range(grid.size)]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


@functools.lru_cache(maxsize=8)
def _jitted_cell_init(config: PPOConfig, env: EpisodeEnv) -> Callable[[jax.Array, Any], ppo.TrainState]:
    def init(key: jax.Array, ranges: Any) -> ppo.TrainState:
        k_init, k_env = jax.random.split(key)
        state = ppo.init(config, env, k_init, mesh=cell_mesh())
        reset = jax.vmap(env.reset, in_axes=(0, None))
        env_state = reset(jax.random.split(k_env, config.num_envs), ranges)
        env_state = jax.tree.map(lambda x, ref: x.astype(ref.dtype), env_state, state.env_state)
        return state.replace(env_state=env_state)

    return jax.jit(init)


@functools.lru_cache(maxsize=8)
def make_grid_step(
    config: PPOConfig, env: EpisodeEnv, alpha_fn: Callable[[jax.Array], jax.Array] | None = None
) -> Callable[[ppo.TrainState], tuple[ppo.TrainState, dict[str, jax.Array]]]:
    """`ppo.make_train_step`, vmapped over the grid axis and jitted: TrainState [G, ...] ->
    (TrainState [G, ...], metrics dict of [G]). One call = one PPO iteration of every cell; the
    physics of all G * num_envs envs is stepped together. Compiled once per (config, env, alpha_fn)."""
    return jax.jit(jax.vmap(ppo.make_train_step(config, env, alpha_fn, mesh=cell_mesh())))


def shard_over_devices(tree: Any, grid_size: int) -> tuple[Any, int]:
    """(tree, devices used): leaves [G, ...] split along G over the local devices with
    `jax.sharding`, using the most devices that divide G; unchanged on one device. The jitted
    grid step then runs partitioned along G (GSPMD), each device stepping its own cells. (The `c`
    engine still steps all envs in one host callback; `mjx` steps each device's share there.)"""
    devices = jax.local_devices()
    n = max(d for d in range(1, len(devices) + 1) if grid_size % d == 0)
    if n == 1:
        return tree, 1
    mesh = Mesh(np.array(devices[:n]), ("grid",))
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec("grid"))), n


def cell(tree: Any, g: int) -> Any:
    """Cell g of a grid pytree (leaves [G, ...] -> [...])."""
    return jax.tree.map(lambda x: x[g], tree)
