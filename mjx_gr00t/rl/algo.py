"""What the runner needs of a learning algorithm: the `Algo` record each algorithm registers
(`mjx_gr00t.rl.algos`), and the typed values it passes around.

    algo = algos.get("ppo")
    state = algo.init(config, env, key)
    step = algo.make_train_step(config, env, Schedules(alpha=AlphaSchedule(1.0)))
    r = algo.policy_fn(config)(algo.inference_params(state), obs)      # [N, D] -> [N, A]
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
from flax import struct

from mjx_gr00t.residual import AlphaSchedule


@struct.dataclass
class PolicyParams:
    """What a deterministic residual policy needs at inference: its network weights, the observation
    normaliser (brax running statistics, over the whole observation) and, static, the observation
    indices the actor reads (`networks.actor_input_indices`; None: all of them)."""

    network: Any
    normalizer: Any
    actor_indices: tuple[int, ...] | None = struct.field(pytree_node=False, default=None)


PolicyFn = Callable[[PolicyParams, jax.Array], jax.Array]
"""(params, obs [N, D]) -> deterministic residual [N, A] in [-1, 1]; one function object per config,
so that evaluating new weights reuses compiled code."""


@dataclasses.dataclass(frozen=True)
class Schedules:
    """The residual's schedules over env steps: alpha (its scale) and, for off-policy learners, the
    probability that an exploration step applies it."""

    alpha: AlphaSchedule
    apply_prob: AlphaSchedule = AlphaSchedule(alpha=1.0)


@dataclasses.dataclass(frozen=True)
class ExportNetwork:
    """What an export says about the policy network besides its weights."""

    hidden: tuple[int, ...]
    activation: str
    normalize_obs: bool
    obs_clip: float | None
    squash: str
    """'clip' (the mean, clipped to [-1, 1]) or 'tanh' (tanh of the mean)."""


@dataclasses.dataclass(frozen=True)
class Algo:
    """A registered learning algorithm, as the runner drives it.

    config_type: its frozen config (num_envs and batch shapes included). default_recipe: the
    recipe `python -m train.residual_<name>` starts from. steps_per_iteration(config): env steps of
    one train step. resolve(config, total_iterations): the config with run-length-dependent fields
    set (PPO's learning-rate decay); others return it unchanged. check(config, env): ValueError for
    a config the env cannot serve. init(config, env, key) -> TrainState (ValueError when it cannot be
    allocated). make_train_step(config, env, schedules) -> jitted `state -> (state, metrics)`.
    inference_params(state) -> PolicyParams. policy_fn(config) -> PolicyFn. export_params(config,
    params, action_size) -> (the mean network's params, normaliser sliced to the actor's entries) in
    the export's layout.
    export_network(config) -> ExportNetwork. describe(config, env) -> a start-up line.
    applies_residual_stochastically: exploration may leave the residual out (residual_apply_*).
    """

    name: str
    config_type: type
    default_recipe: str
    steps_per_iteration: Callable[[Any], int]
    resolve: Callable[[Any, int], Any]
    check: Callable[[Any, Any], None]
    init: Callable[[Any, Any, jax.Array], Any]
    make_train_step: Callable[[Any, Any, Schedules], Callable[[Any], tuple[Any, dict[str, jax.Array]]]]
    inference_params: Callable[[Any], PolicyParams]
    policy_fn: Callable[[Any], PolicyFn]
    export_params: Callable[[Any, PolicyParams, int], tuple[Any, Any]]
    export_network: Callable[[Any], ExportNetwork]
    describe: Callable[[Any, Any], str]
    applies_residual_stochastically: bool = False
