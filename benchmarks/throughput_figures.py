"""The work each throughput figure times, built for one (scene, engine, num_envs).

Every figure is a `Workload`: a jitted `carry -> carry` function and its first carry, with how
many env (policy) steps one call takes. The figures:
- `env`: the scene's env alone, vmapped, `steps` policy steps per call of random actions
  (0.3 x a standard normal per entry, clipped to [-1, 1] by the env);
- `env_policy`: what a PPO training rollout does per step without the update: the residual env
  (its base, `ik` on paper_square and `script` on the Fetch-like scenes, evaluated every step)
  plus the PPO policy's forward pass (normalise, MLP, Gaussian sample, residual scale);
- `train_ppo`: one PPO train step (rollout + GAE + minibatch epochs), built as the runner builds
  it (`mjx_gr00t.rl.algos`, `mjx_gr00t.runner.build.build_env`), with the default PPO recipe's
  hyperparameters (`python -m train.residual_ppo`'s defaults) at this num_envs;
- `train_sac`: one SAC train step (rollout into the replay buffer + gradient updates, HER on), with
  the default SAC recipe's hyperparameters (`python -m train.residual_sac`'s defaults) at this
  num_envs, past warm-up so the updates run. Goal-conditioned (Fetch-like) scenes only.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from benchmarks.runs import runner_config
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.residual import scale_residual
from mjx_gr00t.rl import algos, ppo
from mjx_gr00t.rl.networks import actor_input_indices, actor_obs, gaussian_sample, normalize_obs
from mjx_gr00t.rl.ppo_config import PPOConfig, make_networks
from mjx_gr00t.runner.build import build_env, scene_config
from mjx_gr00t.runner.config import RunConfig, SceneSettings
from mjx_gr00t.runner.run import schedules, validate

FIGURES: tuple[str, ...] = ("env", "env_policy", "train_ppo", "train_sac")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What to build: one scene on one engine at one batch size."""

    scene: str
    engine: str
    num_envs: int
    dr: bool = True
    """Domain randomisation on."""
    steps: int = 16
    """Policy steps per call of the `env` and `env_policy` figures."""


@dataclasses.dataclass(frozen=True)
class Workload:
    """A timed unit of work: `carry = step(carry)` takes `env_steps_per_call` env steps."""

    step: Callable[[Any], Any]
    carry: Any
    env_steps_per_call: int
    details: dict[str, Any]
    """What else defines the figure (base, algorithm, updates per call, ...), for the record."""


def plain_env(spec: Spec) -> EpisodeEnv:
    """The scene's env without a base (raises RuntimeError for an engine that cannot start)."""
    scene = SceneSettings(scene=spec.scene, engine=spec.engine, dr=spec.dr)  # type: ignore[arg-type]
    return registry.make(spec.scene, scene_config(scene, spec.num_envs))


def physics_substeps(task: Any) -> int:
    """Physics steps per policy step of a scene task: its policy period over the model's timestep."""
    return round(task.spec.policy_dt / task.mj_model.opt.timestep)


def residual_base(scene: str) -> str:
    """The scripted base residual training uses on a scene: the first base it registers (`ik` on the
    paper task, `script` on the Fetch-like scenes)."""
    return registry.bases(scene)[0]


def figures_for(scene: str) -> tuple[str, ...]:
    """The figures that apply to a scene (SAC + HER needs goals: the goal-conditioned scenes)."""
    return FIGURES if registry.make(scene).spec.goal is not None else FIGURES[:3]


def build(figure: str, spec: Spec, env: EpisodeEnv) -> Workload:
    """The workload of `figure` for `spec`; `env` is the scene's `plain_env` (any num_envs: it
    steps one env), whose task also picks the residual base."""
    builders = {"env": _env, "env_policy": _env_policy, "train_ppo": _train_ppo,
                "train_sac": _train_sac}
    return builders[figure](spec, env, residual_base(spec.scene))


def _reset_batch(env: EpisodeEnv, num_envs: int, key: jax.Array) -> State:
    """num_envs fresh states with the dtypes `step` returns (so the first step does not retrace)."""
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(key, num_envs))
    zero_action = jnp.zeros((num_envs, env.action_size), jnp.float32)
    stepped = jax.eval_shape(jax.vmap(env.step), state, zero_action)
    return jax.tree.map(lambda x, s: x.astype(s.dtype), state, stepped)


def _env(spec: Spec, env: EpisodeEnv, base: str) -> Workload:
    n = spec.num_envs

    @jax.jit
    def run(carry: tuple[State, jax.Array]) -> tuple[State, jax.Array]:
        state, key = carry
        key, k_steps = jax.random.split(key)

        def body(s: State, k: jax.Array) -> tuple[State, None]:
            action = 0.3 * jax.random.normal(k, (n, env.action_size))
            return jax.vmap(env.step)(s, action), None

        state, _ = jax.lax.scan(body, state, jax.random.split(k_steps, spec.steps))
        return state, key

    carry = (_reset_batch(env, n, jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
    return Workload(run, carry, n * spec.steps, {"actions": "0.3 * normal"})


def run_config(algo: str, spec: Spec, base: str, **settings: Any) -> RunConfig:
    """The runner's default config of `algo` (`python -m train.residual_<algo>`'s) on this scene,
    base, engine, num_envs and DR, with flat `settings` over it."""
    return runner_config(algo, scene=spec.scene, base=base, engine=spec.engine, num_envs=spec.num_envs,
                         dr=spec.dr, **settings)


def _env_policy(spec: Spec, plain: EpisodeEnv, base: str) -> Workload:
    cfg = run_config("ppo", spec, base)
    env, config = build_env(cfg), cfg.algo
    alpha_fn = schedules(cfg).alpha
    policy, _ = make_networks(config, env.action_size)
    ts = algos.get("ppo").init(config, env, jax.random.PRNGKey(0))
    indices = actor_input_indices(env.spec)  # the paper twin's actor reads the robot's inputs only

    @jax.jit
    def run(carry: tuple[State, jax.Array, Any, Any]) -> tuple[State, jax.Array, Any, Any]:
        state, key, params, normalizer = carry  # params travel as inputs, as in training
        key, k_steps = jax.random.split(key)
        alpha = alpha_fn(0.0)

        def body(s: State, k: jax.Array) -> tuple[State, None]:
            mean, log_std = policy.apply(params, actor_obs(indices, normalize_obs(config, normalizer, s.obs)))
            residual = gaussian_sample(k, mean, log_std)
            return jax.vmap(env.step)(s, scale_residual(residual, alpha)), None

        state, _ = jax.lax.scan(body, state, jax.random.split(k_steps, spec.steps))
        return state, key, params, normalizer

    carry = (ts.env_state, jax.random.PRNGKey(1), ts.policy_params, ts.normalizer)
    return Workload(run, carry, spec.num_envs * spec.steps,
                    {"base": base, "policy": f"PPO MLP {config.policy_hidden}"})


def ppo_parts(config: RunConfig, seed: int = 0) -> tuple[EpisodeEnv, PPOConfig, ppo.TrainStep, Any]:
    """(env, PPO config, jitted train_step, initial TrainState) of `config`, built as the runner
    builds them; UsageError for a config the runner refuses. The same config gives the same compiled
    train_step (build_env and ppo.make_train_step are cached)."""
    algo = algos.get("ppo")
    validate(config, algo)
    env = build_env(config)
    train_step = algo.make_train_step(config.algo, env, schedules(config))
    return env, config.algo, train_step, algo.init(config.algo, env, jax.random.PRNGKey(seed))


def _train_ppo(spec: Spec, plain: EpisodeEnv, base: str) -> Workload:
    env, config, train_step, state = ppo_parts(run_config("ppo", spec, base))
    details = {"base": base, "algo": "ppo", "unroll_length": config.unroll_length,
               "updates_per_call": config.updates_per_iteration,
               "minibatch_size": config.batch_size // config.num_minibatches}
    return Workload(lambda s: train_step(s)[0], state, config.batch_size, details)


def _train_sac(spec: Spec, plain: EpisodeEnv, base: str) -> Workload:
    n = spec.num_envs
    default = runner_config("sac").algo.buffer_capacity  # at the recipe's num_envs: this n may not divide it
    capacity = max(n, default // n * n)  # one ring per env: a multiple of num_envs
    # Past warm-up from the first call, so every timed call runs its gradient updates.
    cfg = run_config("sac", spec, base, buffer_capacity=capacity, warmup_steps=0)
    env, config, algo = build_env(cfg), cfg.algo, algos.get("sac")
    train_step = algo.make_train_step(config, env, schedules(cfg))
    state = algo.init(config, env, jax.random.PRNGKey(0))
    details = {"base": base, "algo": "sac", "her": config.her, "utd_ratio": config.utd_ratio,
               "updates_per_call": config.updates_per_iteration, "batch_size": config.batch_size,
               "buffer_capacity": capacity}
    return Workload(lambda s: train_step(s)[0], state, config.env_steps_per_iteration, details)
