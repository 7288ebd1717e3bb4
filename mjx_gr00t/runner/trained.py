"""A trained residual, restored from a run directory whichever algorithm made it.

    trained = load_trained("runs/residual_ppo")
    trained.policy_fn(trained.params, obs)          # [N, D] -> [N, A]
    trained.export("out/")                          # residual.safetensors + residual.json
"""

import dataclasses
from collections.abc import Callable

import jax

from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl import algos
from mjx_gr00t.rl.algo import PolicyFn, PolicyParams
from mjx_gr00t.runner import legacy, run_dir
from mjx_gr00t.runner.build import GrootBridge, build_env, groot_export
from mjx_gr00t.runner.config import RunConfig
from mjx_gr00t.runner.export import write_run_export


@dataclasses.dataclass(frozen=True)
class Trained:
    """A trained residual restored from a run directory.

    config: the run's resolved RunConfig. algo: its algorithm's name. env: its residual env.
    policy_fn(params, obs): deterministic residual policy. params: its weights and normaliser.
    export(dir): writes the export files. env_steps: steps it was trained for.
    """

    config: RunConfig
    algo: str
    env: EpisodeEnv
    policy_fn: PolicyFn
    params: PolicyParams
    export: Callable[[str], None]
    env_steps: int


def load_trained(run: str, groot: GrootBridge | None = None) -> Trained:
    """The latest checkpoint of the run in `run`; a clear error if it is missing or not a run.
    groot: needed for a --base groot run (the module `bridge.groot.planner`)."""
    record = run_dir.read_run(run)
    try:
        algo = algos.get(record["algo"])
    except ValueError as e:
        raise UsageError(f"{run!r}: {e}") from e
    config = legacy.config_of_record(record)
    env = build_env(config, groot)
    record_groot = groot_export(config, groot)
    try:
        target = algo.init(config.algo, env, jax.random.PRNGKey(config.seed))
    except ValueError as e:
        raise UsageError(f"{run!r}: {e}") from e
    with Checkpointer(f"{run}/checkpoints", config=None, read_only=True) as ckpt:
        if ckpt.latest_step() is None:
            raise UsageError(f"run {run!r} has no complete checkpoint yet")
        state = ckpt.restore(target)
    params = algo.inference_params(state)
    return Trained(
        config=config, algo=algo.name, env=env, policy_fn=algo.policy_fn(config.algo), params=params,
        export=lambda d: write_run_export(d, config, algo, env, params, record_groot), env_steps=int(state.env_steps),
    )
