"""The fast off-policy learner's gradient side (FastTD3 family): what the updates change (`Learner`)
and one iteration's U updates in one `lax.scan`, each on `batch_size` replayed transitions
(HER-relabelled when `config.her`, the goal-reading base rebased as SAC does).

Each update, with M transitions and K atoms (`rl.distributional`):
- critics: the next action is the actor's at s' plus clipped Gaussian smoothing noise; of the two
  target critics' distributions at (s', a') the one with the smaller mean is projected onto the
  support after r + gamma (1 - terminated) z, and both online critics regress it by cross-entropy;
- actor (every `policy_delay`-th update, counted within the iteration): maximise the mean of the two critics' expected values at
  (s, pi(s)) less `action_l2` x mean(pi(s)^2) (in residual mode: the penalty on the applied residual);
- targets: Polyak with a fast tau.
In residual mode the critics see the summed action clip(base + u) (`sac_losses.critic_input_action`),
the actor's output a becomes u = scale_residual(a, alpha). The learner-step signature is SAC's
(`sac_learner.LearnerStep`), so the train step can drive either.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax.sharding import Mesh

from mjx_gr00t.residual import scale_residual
from mjx_gr00t.rl.distributional import cross_entropy, expected_value, project, support
from mjx_gr00t.rl.off_policy_checks import batch_sampler, gated
from mjx_gr00t.rl.networks import actor_input_indices, actor_obs, get_activation
from mjx_gr00t.rl.ppo_losses import Params
from mjx_gr00t.rl.replay import ReplayBuffer
from mjx_gr00t.rl.rollout import Env, NormalizerState
from mjx_gr00t.rl.sac_losses import critic_input_action, polyak_update
from mjx_gr00t.rl.td3_config import FastTD3Config
from mjx_gr00t.rl.td3_networks import DeterministicActor, TwinDistributionalCritic


@struct.dataclass
class Learner:
    """What the updates change: actor, twin critics, their targets and the optimiser states."""

    actor_params: Params
    critic_params: Params
    target_critic_params: Params
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState


def make_networks(config: FastTD3Config, action_size: int) -> tuple[DeterministicActor, TwinDistributionalCritic]:
    activation = get_activation(config.activation)
    return (DeterministicActor(action_size, config.actor_hidden, activation, config.zero_init_actor_head),
            TwinDistributionalCritic(config.critic_hidden, config.atoms, activation))


def optimizers(config: FastTD3Config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    return optax.adam(config.actor_learning_rate), optax.adam(config.critic_learning_rate)


def init_learner(config: FastTD3Config, observation_size: int, action_size: int, k_actor: jax.Array,
                 k_critic: jax.Array, actor_observation_size: int | None = None) -> Learner:
    """Fresh networks (targets = critics) and optimiser states; the actor reads actor_observation_size
    entries (None: all)."""
    actor, critic = make_networks(config, action_size)
    actor_opt, critic_opt = optimizers(config)
    obs = jnp.zeros((observation_size,), jnp.float32)
    actor_params = actor.init(k_actor, obs if actor_observation_size is None else jnp.zeros((actor_observation_size,)))
    critic_params = critic.init(k_critic, obs, jnp.zeros((action_size,), jnp.float32))
    return Learner(actor_params=actor_params, critic_params=critic_params, target_critic_params=critic_params,
                   actor_opt_state=actor_opt.init(actor_params), critic_opt_state=critic_opt.init(critic_params))


def explore(config: FastTD3Config, actor: DeterministicActor, params: Params, obs_actor: jax.Array,
            key: jax.Array) -> jax.Array:
    """[N, D] normalised actor inputs -> [N, A] exploration actions: pi(s) + N(0, s_i), clipped to [-1, 1],
    s_i the env's own noise scale (`config.noise_scales`)."""
    a = actor.apply(params, obs_actor)
    noise = jax.random.normal(key, a.shape, a.dtype) * config.noise_scales()[:, None]
    return jnp.clip(a + noise, -1.0, 1.0)


LearnerStep = Callable[[Learner, jax.Array, ReplayBuffer, NormalizerState, jax.Array, jax.Array],
                       tuple[Learner, dict[str, jax.Array]]]


def make_learner_step(config: FastTD3Config, env: Env, residual: bool, mesh: Mesh | None) -> LearnerStep:
    """(learner, key, buffer, normalizer, residual alpha (), learn () bool) -> (learner, stats): when
    `learn`, U updates (module docstring) with stats averaged over them: loss/{critic, actor},
    train/q_mean; else the learner unchanged and the stats at 0. ValueError (her.goal_spec) when
    `config.her` and the env has no goals."""
    sample = batch_sampler(config, env, mesh)
    actor, critic = make_networks(config, env.action_size)
    indices = actor_input_indices(env.spec)
    actor_opt, critic_opt = optimizers(config)
    z = support(config.v_min, config.v_max, config.atoms)

    def to_env(a: jax.Array, res_alpha: jax.Array) -> jax.Array:
        return scale_residual(a, res_alpha) if residual else a

    def update(learner: Learner, step: tuple[jax.Array, jax.Array], buffer: ReplayBuffer,
               normalizer: NormalizerState, res_alpha: jax.Array) -> tuple[Learner, dict[str, jax.Array]]:
        index_in_iteration, key = step
        k_idx, k_her, k_noise = jax.random.split(key, 3)
        batch, obs_n, next_n = sample(k_idx, k_her, buffer, normalizer)

        next_a = actor.apply(learner.actor_params, actor_obs(indices, next_n))
        smoothing = jnp.clip(config.target_noise * jax.random.normal(k_noise, next_a.shape),
                             -config.target_noise_clip, config.target_noise_clip)
        next_a = jnp.clip(next_a + smoothing, -1.0, 1.0)
        next_logits = critic.apply(learner.target_critic_params, next_n,
                                   critic_input_action(batch.next_obs, to_env(next_a, res_alpha), residual))
        pick = jnp.argmin(expected_value(next_logits, z), axis=0)  # [M]: the more pessimistic twin
        next_probs = jnp.where(pick[:, None] == 0, *jax.nn.softmax(next_logits, axis=-1))
        discounts = config.gamma * (1.0 - batch.done * (1.0 - batch.truncation))
        target = jax.lax.stop_gradient(project(next_probs, config.reward_scale * batch.reward, discounts, z))

        def critic_loss(params: Params) -> tuple[jax.Array, jax.Array]:
            logits = critic.apply(params, obs_n, critic_input_action(batch.obs, batch.action, residual))
            return jnp.mean(jnp.sum(cross_entropy(logits, target[None]), axis=0)), expected_value(logits, z)

        (c_loss, q), c_grads = jax.value_and_grad(critic_loss, has_aux=True)(learner.critic_params)
        c_updates, critic_opt_state = critic_opt.update(c_grads, learner.critic_opt_state)
        critic_params = optax.apply_updates(learner.critic_params, c_updates)

        def actor_loss(params: Params) -> jax.Array:
            a = actor.apply(params, actor_obs(indices, obs_n))
            logits = critic.apply(critic_params, obs_n, critic_input_action(batch.obs, to_env(a, res_alpha), residual))
            # The penalty on the actor's output (DDPG + HER's action_l2): without it the deterministic
            # actor drifts to the action bounds and stays there.
            return -jnp.mean(expected_value(logits, z)) + config.action_l2 * jnp.mean(jnp.square(a))

        def actor_update(_: None) -> tuple[Params, optax.OptState, jax.Array]:
            a_loss, a_grads = jax.value_and_grad(actor_loss)(learner.actor_params)
            a_updates, actor_opt_state = actor_opt.update(a_grads, learner.actor_opt_state)
            return optax.apply_updates(learner.actor_params, a_updates), actor_opt_state, a_loss

        def no_actor_update(_: None) -> tuple[Params, optax.OptState, jax.Array]:
            return learner.actor_params, learner.actor_opt_state, jnp.zeros((), jnp.float32)

        # The delayed actor update: a real branch, so the skipped updates cost nothing.
        move = (index_in_iteration % config.policy_delay) == 0
        actor_params, actor_opt_state, a_loss = jax.lax.cond(move, actor_update, no_actor_update, None)
        new = Learner(
            actor_params=actor_params, critic_params=critic_params,
            target_critic_params=polyak_update(learner.target_critic_params, critic_params, config.tau),
            actor_opt_state=actor_opt_state, critic_opt_state=critic_opt_state)
        return new, {"loss/critic": c_loss, "loss/actor": a_loss, "train/q_mean": jnp.mean(q),
                     "actor_moved": move.astype(jnp.float32)}

    def updates(learner: Learner, key: jax.Array, buffer: ReplayBuffer, normalizer: NormalizerState,
                res_alpha: jax.Array) -> tuple[Learner, dict[str, jax.Array]]:
        steps = (jnp.arange(config.updates_per_iteration), jax.random.split(key, config.updates_per_iteration))
        learner, stats = jax.lax.scan(lambda c, s: update(c, s, buffer, normalizer, res_alpha), learner, steps)
        moved = stats.pop("actor_moved")
        means = {k: jnp.mean(v) for k, v in stats.items()}
        return learner, {**means, "loss/actor": jnp.sum(stats["loss/actor"]) / jnp.sum(moved)}

    return gated(updates)
