"""One group of a sweep as one compiled program: its runs' states stacked on a leading axis [G], one
vmapped train step, one vmapped held-out evaluation. PPO (`PPOProgram`) and the off-policy learners,
SAC and fast_td3 (`OffPolicyProgram`), behind one interface:

    program = build_program(group)
    state = program.init(runs)                        # TrainState, leaves [G, ...]
    hyper = program.hyper(runs)                       # the runs' traced values, leaves [G]
    step, compile_s = program.compile_step(state, hyper)
    state, metrics = step(state, hyper)               # one iteration of every run; metrics [G]
    success = program.evaluate(state, hyper, 64, 1_000_000)   # [G] held-out success rates

Each run starts exactly as `python -m train.residual_<algo>` would start its configuration: networks
and envs from PRNGKey(seed), then (PPO) its own initial log std. Several local devices: the runs are
split among them (`ablate.grid.shard_over_devices`), each run on one device.
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
from mjx_gr00t.errors import UsageError
from mjx_gr00t.evaluation import EpisodeResults, run_episodes
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import algos, off_policy_hyper, ppo
from mjx_gr00t.rl.ppo_config import PPOConfig, PPOHyper
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.finish import residual_act
from mjx_gr00t.runner.run import schedules
from mjx_gr00t.sweep.plan import Group, Run, run_bytes


def build_program(group: Group) -> "GroupProgram":
    """The program of the group's algorithm (PPO or an off-policy learner), its env built once.
    UsageError for a configuration the env cannot serve (e.g. HER on a scene without goals)."""
    env = build_env(group.config)
    kind = PPOProgram if isinstance(group.config.algo, PPOConfig) else OffPolicyProgram
    program = kind(env=env, config=group.config.algo, run_config=group.config)
    try:
        algos.get(program.algo).check(program.config, env)
    except ValueError as e:
        raise UsageError(str(e)) from e
    return program


@dataclasses.dataclass(frozen=True)
class GroupProgram:
    """What both kinds share: the env, the group's static algorithm config and its RunConfig, the
    held-out evaluation and the memory estimate."""

    env: EpisodeEnv
    config: Any
    run_config: Any

    @property
    def algo(self) -> str:
        """The registered algorithm name ('ppo', 'sac', 'fast_td3')."""
        return next(n for n in algos.names() if isinstance(self.config, algos.get(n).config_type))

    @property
    def steps_per_iteration(self) -> int:
        """Env steps of one iteration of one run."""
        return algos.get(self.algo).steps_per_iteration(self.config)

    def evaluate(self, state: Any, hyper: Any, episodes: int, seed: int) -> np.ndarray:
        """[G] held-out success rates: each run's deterministic policy (base + alpha * mean residual) on
        the same `episodes` initial states drawn from `seed`."""
        results = self.evaluate_episodes(state, hyper, episodes, seed)
        return np.asarray(results.success, np.float64).mean(axis=1)

    def evaluate_episodes(self, state: Any, hyper: Any, episodes: int, seed: int) -> EpisodeResults:
        """Every run's `EpisodeResults`, leaves [G, episodes] (as `evaluate`)."""
        spec = algos.get(self.algo)
        act = residual_act(spec.policy_fn(self.config))

        def one(params: Any, alpha: jax.Array) -> EpisodeResults:
            return run_episodes(self.env, act, (params, alpha), episodes, seed)

        return jax.device_get(jax.vmap(one)(spec.inference_params(state), _alpha(hyper)))

    def _bytes_of(self, init_one: Callable[[], Any]) -> int:
        """Estimated memory of one run (`plan.run_bytes`; replay buffers included), from the shapes of
        the state `init_one()` builds (only traced: nothing is allocated)."""
        shapes = jax.eval_shape(init_one)
        return run_bytes(shapes, self.steps_per_iteration, self.env.observation_size, self.env.action_size)


def _alpha(hyper: Any) -> jax.Array:
    return hyper["alpha"] if isinstance(hyper, dict) else hyper.alpha


@dataclasses.dataclass(frozen=True)
class PPOProgram(GroupProgram):
    """PPO: the traced values are a `PPOHyper` (`ppo.train_step_core`)."""

    def init(self, runs: Sequence[Run]) -> ppo.TrainState:
        """Every run's fresh TrainState, stacked ([G, ...]) and split over the local devices.
        A loop over runs: each is `ppo.init` from PRNGKey(seed) with its own log std."""
        init = _ppo_init(self.config, self.env)
        states = [init(jax.random.PRNGKey(r.seed), jnp.float32(dict(r.hyper)["init_log_std"])) for r in runs]
        return shard_over_devices(jax.tree.map(lambda *xs: jnp.stack(xs), *states), len(runs))[0]

    @staticmethod
    def hyper(runs: Sequence[Run]) -> PPOHyper:
        """The runs' traced hyperparameters, leaves [G] float32."""
        return PPOHyper(**_columns(runs))

    def compile_step(self, state: ppo.TrainState, hyper: PPOHyper) -> tuple[Callable[..., Any], float]:
        """(step, seconds it took to compile) for states shaped like `state` ([G, ...]):
        `step(state, hyper) -> (state, metrics of [G])` runs one PPO iteration of every run."""
        start = time.perf_counter()
        compiled = _ppo_step(self.config, self.env).lower(state, hyper).compile()
        return compiled, time.perf_counter() - start

    def bytes_per_run(self) -> int:
        """Estimated memory of one run: its TrainState and an iteration's rollout copies."""
        return self._bytes_of(lambda: _ppo_init(self.config, self.env)(jax.random.PRNGKey(0), jnp.float32(0.0)))


@dataclasses.dataclass(frozen=True)
class OffPolicyProgram(GroupProgram):
    """SAC or fast_td3: the traced values are {name: [G]} (`off_policy_hyper`); each run holds its own
    replay buffer, and the step donates the stacked state (the buffers are updated in place)."""

    def init(self, runs: Sequence[Run]) -> Any:
        """Every run's fresh TrainState (`sac.init` from PRNGKey(seed), its own traced values), stacked
        ([G, ...]) and split over the local devices; built in one vmapped call."""
        keys = jnp.stack([jax.random.PRNGKey(r.seed) for r in runs])
        states = _off_policy_init(self.config, self.env)(keys, self.hyper(runs))
        return shard_over_devices(states, len(runs))[0]

    @staticmethod
    def hyper(runs: Sequence[Run]) -> dict[str, jax.Array]:
        """The runs' traced values, {name: [G] float32}."""
        return _columns(runs)

    def compile_step(self, state: Any, hyper: dict[str, jax.Array]) -> tuple[Callable[..., Any], float]:
        """(step, seconds it took to compile): `step(state, hyper) -> (state, metrics of [G])`, one
        iteration of every run. The residual's apply probability follows the group's schedule."""
        start = time.perf_counter()
        apply_prob = schedules(self.run_config).apply_prob
        compiled = _off_policy_step(self.config, self.env, apply_prob).lower(state, hyper).compile()
        return compiled, time.perf_counter() - start

    def bytes_per_run(self) -> int:
        """Estimated memory of one run: its TrainState, replay buffer included, and an iteration's copies."""
        init = off_policy_hyper.init_core(self.config, self.env, cell_mesh())
        return self._bytes_of(lambda: init(jax.random.PRNGKey(0), off_policy_hyper.hyper_of(self.config, 1.0)))


def _columns(runs: Sequence[Run]) -> dict[str, jax.Array]:
    return {name: jnp.asarray([dict(r.hyper)[name] for r in runs], jnp.float32) for name, _ in runs[0].hyper}


@functools.lru_cache(maxsize=8)
def _ppo_init(config: PPOConfig, env: EpisodeEnv) -> Any:
    def init(key: jax.Array, log_std: jax.Array) -> ppo.TrainState:
        return ppo.with_log_std(ppo.init(config, env, key, mesh=cell_mesh()), log_std)

    return jax.jit(init)


@functools.lru_cache(maxsize=8)
def _ppo_step(config: PPOConfig, env: EpisodeEnv) -> Any:
    """Compiled once per (config, env) and batch size G."""
    core = ppo.train_step_core(config, env, AlphaSchedule(alpha=1.0), cell_mesh())
    return jax.jit(jax.vmap(core))


@functools.lru_cache(maxsize=8)
def _off_policy_init(config: Any, env: EpisodeEnv) -> Any:
    return jax.jit(jax.vmap(off_policy_hyper.init_core(config, env, cell_mesh())))


@functools.lru_cache(maxsize=8)
def _off_policy_step(config: Any, env: EpisodeEnv, apply_prob: AlphaSchedule) -> Any:
    core = off_policy_hyper.train_step_core(config, env, apply_prob, cell_mesh())
    return jax.jit(jax.vmap(core), donate_argnums=(0,))


def select(tree: Any, rows: Sequence[int]) -> Any:
    """Rows `rows` of a stacked pytree (leaves [G, ...] -> [len(rows), ...])."""
    index = np.asarray(rows, np.int32)
    return jax.tree.map(lambda x: x[index], tree)
