"""The held-out evaluator every time-to-target comparison uses, for any policy, ours or a peer's.

    evaluator = HeldOutEvaluator(task, episodes=128, seed=1_000_000)
    evaluator(lambda obs: sb3_model.predict(obs, deterministic=True)[0])   # -> summarise() record

It runs `mjx_gr00t.evaluation.run_episodes` on our residual env, exactly as `train.residual_ppo
--eval-every` does during training (`mjx_gr00t.runner.finish.periodic_evaluator`): the same env
(`mjx_gr00t.runner.build.build_env` of scene, base, engine, num_envs, DR, penalty: `task`, one
cached env object), the same `episodes` initial states drawn from `seed`, the
same success test and u = alpha * clip(r, -1, 1). The only difference is where the residual r
comes from: here a host function numpy obs [N, D] -> r [N, A], called through `jax.pure_callback`
(so a torch or SB3 policy can be scored; the rollout itself is compiled once and reused).
The host function gets our whole observation, critic-only entries included; a peer's own env must
produce our layout, or the part of it the peer reads: the seed-style card env gives all of it
(`benchmarks.seed_env`, tests/test_seed_env.py), the twin's gives the actor's entries, and
`peers_sb3` picks those (`spec.actor_indices`) before its policy sees them
(`benchmarks.seed_twin_env`, tests/test_seed_twin_env.py).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.runs import runner_config
from mjx_gr00t.evaluation import run_episodes, summarise
from mjx_gr00t.residual import scale_residual
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.config import RunConfig

NumpyPolicy = Callable[[np.ndarray], np.ndarray]
"""obs [N, D] float32 -> residual r [N, A] (clipped to [-1, 1] by the evaluator)."""

TASK_KEYS: tuple[str, ...] = ("scene", "base", "engine", "num_envs", "dr", "residual_penalty", "alpha")


def task_of(config: RunConfig) -> dict[str, Any]:
    """The task (keys TASK_KEYS) a run of `config` trains and evaluates on."""
    return {"scene": config.scene.scene, "base": config.scene.base, "engine": config.scene.engine,
            "num_envs": config.algo.num_envs, "dr": config.scene.dr,
            "residual_penalty": config.residual.residual_penalty, "alpha": config.residual.alpha}


def task_config(task: dict[str, Any]) -> RunConfig:
    """A PPO run's config on `task` (keys TASK_KEYS): what `build_env` needs to rebuild its env."""
    return runner_config("ppo", scene=task["scene"], base=task["base"], engine=task["engine"],
                         num_envs=int(task["num_envs"]), dr=bool(task["dr"]),
                         residual_penalty=float(task["residual_penalty"]), alpha=float(task["alpha"]))


class HeldOutEvaluator:
    """Scores numpy policies on `episodes` held-out episodes of `task` (keys TASK_KEYS: `task_of` a
    run's config) from `seed`; call it with a policy for a `summarise` record."""

    def __init__(self, task: dict[str, Any], episodes: int, seed: int) -> None:
        missing = [k for k in TASK_KEYS if k not in task]
        if missing:
            raise ValueError(f"task lacks {missing}; give {list(TASK_KEYS)}")
        self.task, self.episodes, self.seed = dict(task), episodes, seed
        self.env = build_env(task_config(task))
        self._policy: NumpyPolicy | None = None
        size = self.env.action_size

        def host(obs: np.ndarray) -> np.ndarray:
            assert self._policy is not None
            r = np.asarray(self._policy(np.asarray(obs, np.float32)), np.float32)
            if r.shape != (obs.shape[0], size):
                raise ValueError(f"the policy returned shape {r.shape}; expected {(obs.shape[0], size)}")
            return r

        def act(alpha: jax.Array, state: Any, key: jax.Array) -> jax.Array:
            shape = jax.ShapeDtypeStruct(state.obs.shape[:-1] + (size,), jnp.float32)
            return scale_residual(jax.pure_callback(host, shape, state.obs), alpha)

        self._act = act   # one function object: every call reuses the compiled rollout

    def __call__(self, policy: NumpyPolicy, alpha: float | None = None) -> dict[str, Any]:
        """The `summarise` record of base + alpha * clip(policy(obs)) (alpha: the task's by default)."""
        self._policy = policy
        try:
            a = jnp.float32(self.task["alpha"] if alpha is None else alpha)
            return summarise(run_episodes(self.env, self._act, a, self.episodes, self.seed))
        finally:
            self._policy = None
