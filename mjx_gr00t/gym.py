"""Our scenes as Gymnasium environments, so that other libraries (SB3, CleanRL, ...) can use them.

    envs = make_vec("paper_square", num_envs=64, base="ik")     # gymnasium.vector.VectorEnv
    obs, info = envs.reset(seed=0)                               # obs: (64, obs_dim) float32
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())

    env = make_env("paper_square", base="ik")   # one gymnasium.Env, e.g. for SB3's SubprocVecEnv

Inside, one jitted call resets or steps the whole batch (`EpisodeEnv(ResidualTask(task, base))`,
as the trainers build it); arrays cross as numpy. Options (keywords of both functions):
- base: 'zero' (default: the plain task), 'ik' (paper_square) or 'script' (fetch_*);
- engine: 'auto' (default), 'c', 'mjx' or 'warp'; dr: domain randomisation on (default) or off;
- seed: seeds the generator that unseeded `reset()` calls draw from;
- alpha (1.0) and residual_penalty (0.001): as in `train.residual_ppo`; the action r in [-1, 1]^A
  is applied as `clip(base + alpha * r, -1, 1)` and the reward loses `residual_penalty * |alpha r|^2`;
- config: a scene config to start from (e.g. a shorter `episode_length`); num_envs, engine and dr
  are applied on top of it.

Semantics (Gymnasium 1.x):
- autoreset `AutoresetMode.SAME_STEP` (declared in `metadata`): an env whose episode ends is reset
  within the same `step`; the returned row of `obs` is the new episode's first observation and
  `info["final_obs"][i]` holds the last one (with `info["_final_obs"]` the mask and
  `info["final_info"]` the ended episodes' own info), as `SyncVectorEnv` does in that mode.
- terminated = the episode ended by success (paper task); truncated = the time limit or a physics
  failure (`State.truncation`). Fetch-like scenes only truncate.
- info["success"]: (N,) 1.0 where the task was solved at this step.
- Seeds: an int `seed` gives slot i the key `fold_in(seed_key(seed), i)`; a list gives slot i
  `fold_in(seed_key(seed[i]), 0)`. So `make_env` reset with seed s equals slot 0 of a vector reset
  with seed s. Auto-resets draw from each slot's own key stream.
The observation is our flat vector (the Fetch-like scenes' `split_obs` gives their dict view).
"""

import dataclasses
import functools
from typing import Any, NamedTuple

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.residual import scale_residual
from mjx_gr00t.residual_env import build_residual_env, scene_config

METADATA: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
JAX_BASES: tuple[str, ...] = ("zero", "ik", "script")


@dataclasses.dataclass(frozen=True)
class GymSpec:
    """What the adapter builds: scene, batch size and the options of the module docstring."""

    scene: str
    num_envs: int = 1
    base: str = "zero"
    engine: str = "auto"
    dr: bool = True
    alpha: float = 1.0
    residual_penalty: float = 0.001
    config: Any = None

    def __post_init__(self) -> None:
        if self.scene not in registry.scenes():
            raise ValueError(f"unknown scene {self.scene!r}; valid scenes: {', '.join(registry.scenes())}")
        if not isinstance(self.num_envs, int) or self.num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {self.num_envs!r}")
        if self.base not in JAX_BASES:
            raise ValueError(f"unknown base {self.base!r} for the Gymnasium adapter; choose one of "
                             f"{', '.join(JAX_BASES)} (GR00T needs the torch bridge: train.residual_ppo --base groot)")
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")


def build_env(spec: GymSpec) -> EpisodeEnv:
    """EpisodeEnv(ResidualTask(scene task, base)) for one env (vmap it for `spec.num_envs`), built
    by `mjx_gr00t.residual_env` as the trainers build theirs."""
    config = scene_config(spec.scene, spec.num_envs, spec.engine, spec.dr, start=spec.config)
    return build_residual_env(spec.scene, config, spec.base, spec.residual_penalty)


class StepOut(NamedTuple):
    """One batched step as it leaves the device: obs [N, D], reward, terminated, truncated, success [N],
    final_obs [N, D] (meaningful where the episode ended)."""

    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    success: jax.Array
    final_obs: jax.Array


class Batched(NamedTuple):
    """The compiled batch functions of one `GymSpec`: reset(keys [N]) and step(state, r [N, A])."""

    env: EpisodeEnv
    reset: Any
    step: Any


@functools.lru_cache(maxsize=8)
def compiled(spec: GymSpec) -> Batched:
    """Jitted batched reset and step for `spec`, built once per spec (instances share them)."""
    env = build_env(spec)

    def reset(keys: jax.Array) -> tuple[State, jax.Array]:
        state = jax.vmap(env.reset)(keys)
        return state, state.obs

    def step(state: State, residual: jax.Array) -> tuple[State, StepOut]:
        nxt = jax.vmap(env.step)(state, scale_residual(residual, spec.alpha))
        truncated = nxt.truncation > 0.5
        out = StepOut(obs=nxt.obs, reward=nxt.reward, terminated=(nxt.done > 0.5) & ~truncated,
                      truncated=truncated, success=nxt.success, final_obs=nxt.episode.final_obs)
        return nxt, out

    return Batched(env=env, reset=jax.jit(reset), step=jax.jit(step))


def slot_keys(seed: int | list[int], num_envs: int) -> jax.Array:
    """The reset keys [N] of the module docstring's seeding rule."""
    if isinstance(seed, (list, tuple, np.ndarray)):
        if len(seed) != num_envs:
            raise ValueError(f"reset got {len(seed)} seeds for {num_envs} envs; pass one int or {num_envs} ints")
        return jnp.stack([jax.random.fold_in(seed_key(int(s)), 0) for s in seed])
    return _fold(seed_key(int(seed)), num_envs)


def seed_key(seed: int) -> jax.Array:
    """PRNGKey of a non-negative int seed of up to 64 bits (`PRNGKey` alone keeps only the low 32
    bits without x64, so 0 and 2**40 would collide)."""
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"seeds must be integers in [0, 2**64), got {seed}")
    key = jax.random.PRNGKey(seed & 0xFFFFFFFF)
    return jax.random.fold_in(key, seed >> 32) if seed >> 32 else key


@functools.partial(jax.jit, static_argnums=1)
def _fold(key: jax.Array, num_envs: int) -> jax.Array:
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_envs))


class _Core:
    """The state and device calls shared by the vector and the single env."""

    def __init__(self, spec: GymSpec) -> None:
        self.spec = spec
        self.batched = compiled(spec)
        env = self.batched.env
        self.obs_space = gymnasium.spaces.Box(-np.inf, np.inf, (env.observation_size,), np.float32)
        self.act_space = gymnasium.spaces.Box(-1.0, 1.0, (env.action_size,), np.float32)
        self.state: State | None = None

    def reset(self, seed: int | list[int]) -> np.ndarray:
        self.state, obs = self.batched.reset(slot_keys(seed, self.spec.num_envs))
        return np.array(obs)

    def step(self, actions: Any) -> StepOut:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions, np.float32)
        n, a = self.spec.num_envs, self.act_space.shape[0]
        if actions.shape not in ((n, a),) + (((a,),) if n == 1 else ()):
            raise ValueError(f"actions must have shape ({n}, {a}), got {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ValueError("actions contain NaN or inf")
        self.state, out = self.batched.step(self.state, actions.reshape(n, a))
        return StepOut(*(np.array(x) for x in jax.device_get(out)))


class JaxVectorEnv(VectorEnv):
    """A batch of `num_envs` envs of one scene as a Gymnasium `VectorEnv` (see the module docstring)."""

    metadata = METADATA

    def __init__(self, spec: GymSpec, seed: int | None = None) -> None:
        self._core = _Core(spec)
        self.num_envs = spec.num_envs
        self.single_observation_space = self._core.obs_space
        self.single_action_space = self._core.act_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        if seed is not None:
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seed)

    @property
    def env(self) -> EpisodeEnv:
        """The per-env `EpisodeEnv` behind the adapter."""
        return self._core.batched.env

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets every env. obs: (N, obs_dim) float32; info: {} (no per-reset data)."""
        _check_options(options)
        if isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
        elif seed is None:
            seed = int(self.np_random.integers(2**63))
        return self._core.reset(seed), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """actions: (N, A) in [-1, 1] (clipped). Returns obs (N, D) float32, reward (N,) float64,
        terminated, truncated (N,) bool, and info (see the module docstring)."""
        out = self._core.step(actions)
        done = out.terminated | out.truncated
        info: dict[str, Any] = {"success": out.success, "_success": np.ones(self.num_envs, bool)}
        if done.any():
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = out.final_obs[i]
            info.update({
                "final_obs": final_obs, "_final_obs": done.copy(),
                "final_info": {"success": np.where(done, out.success, 0.0).astype(np.float32),
                               "_success": done.copy()},
                "_final_info": done.copy(),
            })
        return out.obs, out.reward.astype(np.float64), out.terminated, out.truncated, info


class JaxEnv(gymnasium.Env):
    """One env of a scene as a Gymnasium `Env` (no auto-reset: call `reset` after an episode ends).

    Stepping after the end without `reset` goes on in a freshly drawn episode. info["success"]
    and, for SB3's success-rate logging, info["is_success"]: 1.0 when solved at this step."""

    metadata = METADATA

    def __init__(self, spec: GymSpec, seed: int | None = None) -> None:
        if spec.num_envs != 1:
            raise ValueError(f"JaxEnv is one env; got num_envs={spec.num_envs} (use make_vec for a batch)")
        self._core = _Core(spec)
        self.observation_space = self._core.obs_space
        self.action_space = self._core.act_space
        if seed is not None:
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seed)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """A fresh episode; obs (obs_dim,) float32."""
        _check_options(options)
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(2**63))
        return self._core.reset(seed)[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """action: (A,) in [-1, 1]. At the episode's end obs is its last observation."""
        out = self._core.step(np.asarray(action, np.float32).reshape(1, -1))
        terminated, truncated = bool(out.terminated[0]), bool(out.truncated[0])
        obs = out.final_obs[0] if terminated or truncated else out.obs[0]
        success = float(out.success[0])
        return obs, float(out.reward[0]), terminated, truncated, {"success": success, "is_success": success}


def _check_options(options: dict[str, Any] | None) -> None:
    if options:
        raise ValueError(f"reset options are not supported, got {sorted(options)}")


def make_vec(scene: str, num_envs: int, **options: Any) -> JaxVectorEnv:
    """`num_envs` envs of `scene` as a `gymnasium.vector.VectorEnv`; options: see the module docstring."""
    seed = options.pop("seed", None)
    return JaxVectorEnv(_spec(scene, num_envs, options), seed=seed)


def make_env(scene: str, **options: Any) -> JaxEnv:
    """One env of `scene` as a `gymnasium.Env`; options: see the module docstring."""
    seed = options.pop("seed", None)
    return JaxEnv(_spec(scene, 1, options), seed=seed)


def _spec(scene: str, num_envs: int, options: dict[str, Any]) -> GymSpec:
    known = {f.name for f in dataclasses.fields(GymSpec)} - {"scene", "num_envs"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; valid: seed, {', '.join(sorted(known))}")
    return GymSpec(scene=scene, num_envs=num_envs, **options)


def register_envs() -> list[str]:
    """Registers every scene as Gymnasium id `mjx_gr00t/<scene>-v0` (`gymnasium.make` gives a
    `JaxEnv`, `gymnasium.make_vec` a `JaxVectorEnv`); returns the ids. Safe to call twice."""
    ids = []
    for scene in registry.scenes():
        env_id = f"mjx_gr00t/{scene}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(
                env_id, entry_point=functools.partial(make_env, scene),
                vector_entry_point=functools.partial(make_vec, scene),
            )
        ids.append(env_id)
    return ids


register_envs()
