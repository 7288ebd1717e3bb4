"""One group of a sweep as one compiled program: its runs' PPO states stacked on a leading axis [G],
one vmapped train step, one vmapped held-out evaluation.

    program = GroupProgram.build(group)
    state = program.init(runs)                        # TrainState, leaves [G, ...]
    hyper = program.hyper(runs)                       # PPOHyper, leaves [G]
    step, compile_s = program.compile_step(state, hyper)
    state, metrics = step(state, hyper)               # one PPO iteration of every run; metrics [G]
    success = program.evaluate(state, hyper, 64, 1_000_000)   # [G] held-out success rates

Each run starts exactly as `python -m train.residual_ppo` would start its configuration: networks
and envs from PRNGKey(seed), then its own initial log std. Several local devices: the runs are split
among them (`ablate.grid.shard_over_devices`), each run's PPO on one device.
"""

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mjx_gr00t.ablate.grid import cell_mesh, shard_over_devices
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.evaluation import EpisodeResults, run_episodes
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import algos, ppo
from mjx_gr00t.rl.algo import PolicyParams
from mjx_gr00t.rl.ppo_config import PPOConfig, PPOHyper
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.finish import residual_act
from mjx_gr00t.sweep.plan import Group, Run, run_bytes


@dataclasses.dataclass(frozen=True)
class GroupProgram:
    """The compiled pieces of one group: its env (one env; vmapped inside) and static PPOConfig."""

    env: EpisodeEnv
    config: PPOConfig

    @staticmethod
    def build(group: Group) -> "GroupProgram":
        """The env of the group's static config (built once per scene settings)."""
        return GroupProgram(env=build_env(group.config), config=group.config.algo)

    def init(self, runs: Sequence[Run]) -> ppo.TrainState:
        """Every run's fresh TrainState, stacked ([G, ...]) and split over the local devices.
        A loop over runs: each is `ppo.init` from PRNGKey(seed) with its own log std."""
        init = _jitted_init(self.config, self.env)
        states = [init(jax.random.PRNGKey(r.seed), jnp.float32(dict(r.hyper)["init_log_std"])) for r in runs]
        return shard_over_devices(jax.tree.map(lambda *xs: jnp.stack(xs), *states), len(runs))[0]

    @staticmethod
    def hyper(runs: Sequence[Run]) -> PPOHyper:
        """The runs' traced hyperparameters, leaves [G] float32."""
        columns = {name: jnp.asarray([dict(r.hyper)[name] for r in runs], jnp.float32) for name, _ in runs[0].hyper}
        return PPOHyper(**columns)

    def compile_step(self, state: ppo.TrainState, hyper: PPOHyper) -> tuple[Callable[..., Any], float]:
        """(step, seconds it took to compile) for states shaped like `state` ([G, ...]):
        `step(state, hyper) -> (state, metrics of [G])` runs one PPO iteration of every run."""
        start = time.perf_counter()
        compiled = _jitted_step(self.config, self.env).lower(state, hyper).compile()
        return compiled, time.perf_counter() - start

    def evaluate(self, state: ppo.TrainState, hyper: PPOHyper, episodes: int, seed: int) -> np.ndarray:
        """[G] held-out success rates: each run's deterministic policy (base + alpha * mean residual) on
        the same `episodes` initial states drawn from `seed`."""
        results = self.evaluate_episodes(state, hyper, episodes, seed)
        return np.asarray(results.success, np.float64).mean(axis=1)

    def evaluate_episodes(self, state: ppo.TrainState, hyper: PPOHyper, episodes: int, seed: int) -> EpisodeResults:
        """Every run's `EpisodeResults`, leaves [G, episodes] (as `evaluate`)."""
        params = PolicyParams(network=state.policy_params, normalizer=state.normalizer,
                              actor_indices=state.actor_indices)
        act = residual_act(algos.get("ppo").policy_fn(self.config))

        def one(p: PolicyParams, alpha: jax.Array) -> EpisodeResults:
            return run_episodes(self.env, act, (p, alpha), episodes, seed)

        return jax.device_get(jax.vmap(one)(params, hyper.alpha))

    def bytes_per_run(self) -> int:
        """Estimated memory of one run (`plan.run_bytes`), from the shapes of its state (nothing is built)."""
        shapes = jax.eval_shape(_jitted_init(self.config, self.env), jax.random.PRNGKey(0), jnp.float32(0.0))
        return run_bytes(shapes, self.config.batch_size, self.env.observation_size, self.env.action_size)


@functools.lru_cache(maxsize=8)
def _jitted_init(config: PPOConfig, env: EpisodeEnv) -> Any:
    def init(key: jax.Array, log_std: jax.Array) -> ppo.TrainState:
        return ppo.with_log_std(ppo.init(config, env, key, mesh=cell_mesh()), log_std)

    return jax.jit(init)


@functools.lru_cache(maxsize=8)
def _jitted_step(config: PPOConfig, env: EpisodeEnv) -> Any:
    """Compiled once per (config, env) and batch size G."""
    core = ppo.train_step_core(config, env, AlphaSchedule(alpha=1.0), cell_mesh())
    return jax.jit(jax.vmap(core))


def select(tree: Any, rows: Sequence[int]) -> Any:
    """Rows `rows` of a stacked pytree (leaves [G, ...] -> [len(rows), ...])."""
    index = np.asarray(rows, np.int32)
    return jax.tree.map(lambda x: x[index], tree)
