"""SAC's learner: what the gradient updates change (`Learner`) and one iteration's updates, each on a
batch of M = `batch_size` transitions from the replay buffer (HER-relabelled when `config.her`).

Every update trains the two critics, then the actor, then the temperature, then moves the target
critics by Polyak averaging. In residual mode the critic sees the summed action (see `sac.py`).
Where the env's spec has critic-only entries the actor reads the normalised observation's actor
entries alone (`networks.actor_obs`), the critics all of it.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax.sharding import Mesh

from mjx_gr00t.envs.spec import BaseRebase
from mjx_gr00t.residual import scale_residual
from mjx_gr00t.rl import her
from mjx_gr00t.rl.off_policy_checks import batch_sampler, gated
from mjx_gr00t.rl.networks import actor_input_indices, actor_obs
from mjx_gr00t.rl.ppo_losses import Params
from mjx_gr00t.rl.replay import ReplayBuffer
from mjx_gr00t.rl.rollout import Env, NormalizerState
from mjx_gr00t.rl.sac_config import SACConfig, make_networks, optimizers
from mjx_gr00t.rl.sac_losses import (
    critic_input_action,
    polyak_update,
    tanh_gaussian_sample,
    td_target,
    temperature_loss,
)


@struct.dataclass
class Learner:
    """What the gradient updates change: networks, targets, log-temperature and optimiser states."""

    actor_params: Params
    critic_params: Params
    target_critic_params: Params
    log_alpha: jax.Array
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    alpha_opt_state: optax.OptState


LearnerStep = Callable[
    [Learner, jax.Array, ReplayBuffer, NormalizerState, jax.Array, jax.Array],
    tuple[Learner, dict[str, jax.Array]],
]
"""(learner, key, buffer, normalizer, residual alpha (), learn () bool) -> (learner, stats)."""


def env_action(actor_out: jax.Array, res_alpha: jax.Array, residual: bool) -> jax.Array:
    """Actor output a [..., A] -> env action: u = `scale_residual(a, alpha)` when residual, else a."""
    return scale_residual(actor_out, res_alpha) if residual else actor_out


def init_learner(config: SACConfig, observation_size: int, action_size: int, k_actor: jax.Array,
                 k_critic: jax.Array, actor_observation_size: int | None = None) -> Learner:
    """Fresh networks (targets = critics), log-temperature log(init_alpha) and optimiser states.

    The critics take observation_size entries, the actor actor_observation_size (None: the same)."""
    actor, critic = make_networks(config, action_size)
    actor_opt, critic_opt, alpha_opt = optimizers(config)
    obs = jnp.zeros((observation_size,), jnp.float32)
    actor_in = obs if actor_observation_size is None else jnp.zeros((actor_observation_size,), jnp.float32)
    actor_params = actor.init(k_actor, actor_in)
    critic_params = critic.init(k_critic, obs, jnp.zeros((action_size,), jnp.float32))
    log_alpha = jnp.asarray(jnp.log(config.init_alpha), jnp.float32)
    return Learner(
        actor_params=actor_params, critic_params=critic_params,
        target_critic_params=critic_params, log_alpha=log_alpha,
        actor_opt_state=actor_opt.init(actor_params),
        critic_opt_state=critic_opt.init(critic_params), alpha_opt_state=alpha_opt.init(log_alpha),
    )


def goal_rebase(config: SACConfig, env: Env) -> BaseRebase | None:
    """With HER on an env whose residual base reads the goal: how relabelling recomputes that base
    (the replay buffer then also stores the base's goal contexts). Else None."""
    return her.base_rebase(env) if config.her else None


def make_learner_step(config: SACConfig, env: Env, residual: bool, mesh: Mesh | None) -> LearnerStep:
    """The learner's part of an iteration (traced inside the jitted train step).

    When `learn`: `updates_per_iteration` updates, stats averaged over them: loss/{critic, actor,
    alpha}, train/{q_mean, entropy}. Otherwise the learner unchanged and the same stats at 0.
    ValueError (from `her.goal_spec`) when `config.her` and the env has no goals.
    """
    sample = batch_sampler(config, env, mesh)
    actor, critic = make_networks(config, env.action_size)
    indices = actor_input_indices(env.spec)
    actor_opt, critic_opt, alpha_opt = optimizers(config)
    target_entropy = -float(env.action_size) if config.target_entropy is None else config.target_entropy

    def critic_action(obs: jax.Array, action: jax.Array) -> jax.Array:
        return critic_input_action(obs, action, residual)

    def update(learner: Learner, key: jax.Array, buffer: ReplayBuffer, normalizer: NormalizerState,
               res_alpha: jax.Array) -> tuple[Learner, dict[str, jax.Array]]:
        """One gradient update of critics, actor and temperature, then the Polyak step."""
        k_idx, k_her, k_next, k_pi = jax.random.split(key, 4)
        batch, obs_n, next_n = sample(k_idx, k_her, buffer, normalizer)
        temperature = jnp.exp(learner.log_alpha)

        next_dist = actor.apply(learner.actor_params, actor_obs(indices, next_n))
        next_a, next_logp = tanh_gaussian_sample(k_next, *next_dist)
        next_q = critic.apply(learner.target_critic_params, next_n,
                              critic_action(batch.next_obs, env_action(next_a, res_alpha, residual)))
        target = jax.lax.stop_gradient(td_target(
            config.reward_scale * batch.reward, batch.done, batch.truncation, jnp.min(next_q, axis=-1),
            next_logp, temperature, config.gamma))

        def critic_loss(params: Params) -> tuple[jax.Array, jax.Array]:
            q = critic.apply(params, obs_n, critic_action(batch.obs, batch.action))
            return 0.5 * jnp.mean(jnp.sum(jnp.square(q - target[:, None]), axis=-1)), q

        (c_loss, q), c_grads = jax.value_and_grad(critic_loss, has_aux=True)(learner.critic_params)
        c_updates, critic_opt_state = critic_opt.update(c_grads, learner.critic_opt_state)
        critic_params = optax.apply_updates(learner.critic_params, c_updates)

        def actor_loss(params: Params) -> tuple[jax.Array, jax.Array]:
            a, logp = tanh_gaussian_sample(k_pi, *actor.apply(params, actor_obs(indices, obs_n)))
            q_pi = critic.apply(critic_params, obs_n,
                                critic_action(batch.obs, env_action(a, res_alpha, residual)))
            return jnp.mean(temperature * logp - jnp.min(q_pi, axis=-1)), logp

        (a_loss, logp), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(learner.actor_params)
        a_updates, actor_opt_state = actor_opt.update(a_grads, learner.actor_opt_state)
        actor_params = optax.apply_updates(learner.actor_params, a_updates)

        t_loss, t_grad = jax.value_and_grad(temperature_loss)(learner.log_alpha, logp, target_entropy)
        t_update, alpha_opt_state = alpha_opt.update(t_grad, learner.alpha_opt_state)
        log_alpha = optax.apply_updates(learner.log_alpha, t_update)

        new = Learner(
            actor_params=actor_params, critic_params=critic_params,
            target_critic_params=polyak_update(learner.target_critic_params, critic_params, config.tau),
            log_alpha=log_alpha, actor_opt_state=actor_opt_state, critic_opt_state=critic_opt_state,
            alpha_opt_state=alpha_opt_state,
        )
        stats = {"loss/critic": c_loss, "loss/actor": a_loss, "loss/alpha": t_loss,
                 "train/q_mean": jnp.mean(q), "train/entropy": -jnp.mean(logp)}
        return new, stats

    def updates(learner: Learner, key: jax.Array, buffer: ReplayBuffer, normalizer: NormalizerState,
                res_alpha: jax.Array) -> tuple[Learner, dict[str, jax.Array]]:
        keys = jax.random.split(key, config.updates_per_iteration)
        learner, stats = jax.lax.scan(lambda c, k: update(c, k, buffer, normalizer, res_alpha), learner, keys)
        return learner, {k: jnp.mean(v) for k, v in stats.items()}

    return gated(updates)
