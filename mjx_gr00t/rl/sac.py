"""Soft actor-critic (Haarnoja et al. 2018) that runs entirely under `jax.jit`, with optional HER
and residual RL. Generic over envs that follow `envs.base` (as `ppo.Env`).

    config = SACConfig(num_envs=64, steps_per_iteration=8, utd_ratio=0.25, ...)
    state = init(config, env, jax.random.PRNGKey(0))   # checks the replay buffer fits in memory
    train_step = make_train_step(config, env)           # already jitted; donates its input
    for _ in range(n):
        state, metrics = train_step(state)

One `train_step` call = `steps_per_iteration` env steps of all `num_envs` envs (each step written
to the replay buffer), an observation-normaliser update with those observations, then
`updates_per_iteration` gradient updates, each on `batch_size` transitions drawn uniformly from the
buffer (HER-relabelled when `her`). Every update trains the two critics, then the actor, then the
temperature, then moves the target critics by Polyak averaging.

Residual mode (`alpha_fn` given): the env must be a `residual.ResidualTask` (wrapped by
`EpisodeEnv`), whose observation ends with the base action (the last A entries). The actor's
tanh output a in [-1, 1] becomes u = `scale_residual(a, alpha)`, the env action. The critic sees the
summed action Q(obs, clip(base + u, -1, 1)), so its inputs keep their meaning when alpha changes.
During exploration each env applies u at each step with probability `apply_prob_fn(env_steps)`
(else u = 0: the base alone); evaluation (`make_policy`) always applies it in full.

Several devices: `init` and `make_train_step` take `mesh` (None: all of `jax.devices()`, see
`mjx_gr00t.distributed`). The env axis of the env state and of the replay buffer is split over
it, each update's batch too; the learner and normaliser are replicated and XLA averages the
gradients across devices. On one device the programs are exactly the single-device ones.
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from brax.training.acme import running_statistics
from brax.training.types import UInt64
from flax import struct
from jax.sharding import Mesh

from mjx_gr00t import distributed
from mjx_gr00t.envs.base import State
from mjx_gr00t.residual import combine, scale_residual
from mjx_gr00t.rl import her, replay
from mjx_gr00t.rl.networks import get_activation, normalize_obs
from mjx_gr00t.rl.ppo import Env, NormalizerState, RolloutStats, env_steps_float
from mjx_gr00t.rl.ppo_losses import Params
from mjx_gr00t.rl.sac_losses import (  # noqa: F401  (re-exported: part of sac's API)
    LOG_STD_MAX,
    LOG_STD_MIN,
    DoubleQ,
    TanhGaussianActor,
    critic_input_action,
    polyak_update,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
    td_target,
    temperature_loss,
)
from mjx_gr00t.rl.replay import ReplayBuffer, Transition


Schedule = Callable[[jax.Array], jax.Array]
"""env steps so far () float32 -> () float32."""
Policy = Callable[..., jax.Array]
TrainStep = Callable[["TrainState"], tuple["TrainState", dict[str, jax.Array]]]


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC hyperparameters. Validated on construction (ValueError)."""

    num_envs: int = 64
    """N: envs stepped in parallel."""
    steps_per_iteration: int = 8
    """Env steps per env per `train_step`; an iteration collects num_envs * steps_per_iteration."""
    utd_ratio: float = 0.25
    """Update-to-data ratio: gradient updates per env step collected (counting every env), so an
    iteration makes utd_ratio * num_envs * steps_per_iteration updates; that product must be a
    positive integer. Each update draws `batch_size` transitions."""
    batch_size: int = 256
    """Transitions per gradient update."""
    buffer_capacity: int = 1_000_000
    """Replay size in transitions over all envs, a multiple of num_envs; never derived from run length."""
    actor_learning_rate: float = 3e-4
    """Adam step size of the actor."""
    critic_learning_rate: float = 3e-4
    """Adam step size of the two critics."""
    alpha_learning_rate: float = 3e-4
    """Adam step size of log(temperature)."""
    gamma: float = 0.98
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate: target <- (1 - tau) * target + tau * online, after every update."""
    actor_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor MLP."""
    critic_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of each critic MLP."""
    activation: str = "relu"
    """Hidden activation of all MLPs: one of networks.ACTIVATIONS."""
    init_alpha: float = 1.0
    """Initial entropy temperature."""
    target_entropy: float | None = None
    """Entropy the temperature steers towards; None: -A (action size)."""
    init_log_std: float = 0.0
    """Offset added to the actor's log-std output (pre-tanh), its exact start with a zero head."""
    zero_init_actor_head: bool = True
    """Start the actor's last layer at zero: mean exactly 0 (tanh(0) = 0: a residual adds nothing)."""
    warmup_steps: int = 10_000
    """Env steps (all envs) of uniformly random actions; iterations starting before it explore at
    random, and no gradient update runs until the buffer holds this many steps."""
    her: bool = False
    """Hindsight relabelling ('future' strategy); needs a goal-conditioned env (see her.py)."""
    her_k: int = 4
    """HER ratio: a sampled transition gets a future goal with probability her_k / (her_k + 1)."""
    normalize_obs: bool = True
    """Normalise observations with running mean/std (brax running_statistics) for all networks."""
    obs_clip: float | None = 10.0
    """Clip normalised observations to +-obs_clip (None: no clip); unused without normalize_obs."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this in the critic target."""

    def __post_init__(self) -> None:
        for name in ("num_envs", "steps_per_iteration", "batch_size", "buffer_capacity"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("warmup_steps", "her_k"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        replay.check_capacity(self.buffer_capacity, self.num_envs)
        per_iteration = self.num_envs * self.steps_per_iteration
        updates = self.utd_ratio * per_iteration
        if not (self.utd_ratio > 0 and updates >= 1 - 1e-6 and abs(updates - round(updates)) < 1e-6):
            raise ValueError(
                f"utd_ratio * num_envs * steps_per_iteration = {self.utd_ratio} * {per_iteration} = "
                f"{updates} updates per iteration; it must be a positive integer (e.g. utd_ratio = "
                f"{max(1, round(updates))}/{per_iteration})"
            )
        for name in ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate",
                     "init_alpha", "reward_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.obs_clip is not None and not self.obs_clip > 0:
            raise ValueError(f"obs_clip must be > 0 or None, got {self.obs_clip}")
        if not LOG_STD_MIN <= self.init_log_std <= LOG_STD_MAX:
            raise ValueError(
                f"init_log_std must be in [{LOG_STD_MIN}, {LOG_STD_MAX}], got {self.init_log_std}")
        for name in ("actor_hidden", "critic_hidden"):
            widths = getattr(self, name)
            if not (isinstance(widths, tuple) and all(isinstance(w, int) and w > 0 for w in widths)):
                raise ValueError(f"{name} must be a tuple of positive ints, got {widths!r}")
        get_activation(self.activation)

    @property
    def env_steps_per_iteration(self) -> int:
        """num_envs * steps_per_iteration."""
        return self.num_envs * self.steps_per_iteration

    @property
    def updates_per_iteration(self) -> int:
        """Gradient updates per `train_step`: utd_ratio * env_steps_per_iteration."""
        return int(round(self.utd_ratio * self.env_steps_per_iteration))


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


@struct.dataclass
class TrainState:
    """Everything SAC carries from one iteration to the next (checkpoint all of it to resume).

    learner: `Learner`. normalizer: brax running statistics of observations. buffer: the replay
    `ReplayBuffer` of `Transition`s. env_state: batched env `State`, leaves [N, ...]. key: raw uint32
    PRNG key. iteration: () int32 `train_step` calls. env_steps: brax `UInt64` env steps so far.
    grad_updates: () int32 gradient updates so far.
    """

    learner: Learner
    normalizer: NormalizerState
    buffer: ReplayBuffer
    env_state: State
    key: jax.Array
    iteration: jax.Array
    env_steps: UInt64
    grad_updates: jax.Array


@struct.dataclass
class RolloutCarry:
    """Scan carry of the rollout: env state, buffer, episode sums, residual action sums [3]."""

    env_state: State
    buffer: ReplayBuffer
    stats: RolloutStats
    action_sums: jax.Array


def make_networks(config: SACConfig, action_size: int) -> tuple[TanhGaussianActor, DoubleQ]:
    """The (actor, critic) modules for `config`."""
    activation = get_activation(config.activation)
    actor = TanhGaussianActor(
        action_size=action_size, hidden=config.actor_hidden, activation=activation,
        zero_init_head=config.zero_init_actor_head, init_log_std=config.init_log_std,
    )
    return actor, DoubleQ(hidden=config.critic_hidden, activation=activation)


def example_transition(env: Env) -> Transition:
    """One unbatched float32 `Transition` of `env`'s sizes (zeros): the replay buffer's row shape."""
    obs, zero = jnp.zeros((env.observation_size,), jnp.float32), jnp.zeros((), jnp.float32)
    return Transition(obs=obs, action=jnp.zeros((env.action_size,), jnp.float32), reward=zero,
                      done=zero, truncation=zero, next_obs=obs)


def buffer_memory_bytes(config: SACConfig, env: Env) -> int:
    """Bytes the replay buffer of `config` takes on the device (report it at start-up)."""
    return replay.memory_bytes(config.buffer_capacity, example_transition(env))


def init(config: SACConfig, env: Env, key: jax.Array, available_bytes: int | None = None, *,
         mesh: Mesh | None = None) -> TrainState:
    """A fresh TrainState: networks, optimisers, normaliser, an empty buffer and reset envs.

    Raises ValueError when the buffer would not fit in `available_bytes` (None: the free memory
    of the first device, see `replay.available_memory_bytes`; with a mesh of accelerators each
    must hold its share, CPU devices share one memory), or when num_envs is not a multiple of the
    mesh's device count. key: raw uint32 PRNG key. mesh: devices to split the envs over (None:
    all; see `place_state`).
    """
    mesh = distributed.resolve_mesh(mesh)
    distributed.check_divisible(config.num_envs, mesh)
    own_memory = mesh is not None and mesh.devices.flat[0].platform != "cpu"
    per_device = config.buffer_capacity // (distributed.num_shards(mesh) if own_memory else 1)
    replay.check_memory(per_device, example_transition(env), available_bytes)
    return _jitted_init(_init_config(config), env, mesh)(key)


def place_state(ts: TrainState, mesh: Mesh | None) -> TrainState:
    """Inside jit: env state and buffer split over the mesh on their env axes, the rest replicated."""
    if mesh is None:
        return ts
    placed = distributed.replicate(ts.replace(env_state=None, buffer=None), mesh)
    return placed.replace(env_state=distributed.shard_axis(ts.env_state, mesh),
                          buffer=replay.place(ts.buffer, mesh))


_INIT_FIELDS: tuple[str, ...] = (
    "num_envs", "buffer_capacity", "actor_hidden", "critic_hidden", "activation", "init_alpha",
    "init_log_std", "zero_init_actor_head",
)
"""The config fields `init` reads (Adam's initial state does not depend on its learning rate)."""


def _init_config(config: SACConfig) -> SACConfig:
    """`config` with the fields init does not read fixed, so such configs share one compiled init."""
    fixed = SACConfig(num_envs=config.num_envs, buffer_capacity=config.buffer_capacity,
                      steps_per_iteration=1, utd_ratio=1.0)
    return dataclasses.replace(fixed, **{name: getattr(config, name) for name in _INIT_FIELDS})


def _optimizers(config: SACConfig) -> tuple[optax.GradientTransformation, ...]:
    return (optax.adam(config.actor_learning_rate), optax.adam(config.critic_learning_rate),
            optax.adam(config.alpha_learning_rate))


@functools.lru_cache(maxsize=16)
def _jitted_init(config: SACConfig, env: Env, mesh: Mesh | None) -> Callable[[jax.Array], TrainState]:
    actor, critic = make_networks(config, env.action_size)
    actor_opt, critic_opt, alpha_opt = _optimizers(config)

    def _init(key: jax.Array) -> TrainState:
        key, k_actor, k_critic, k_env = jax.random.split(key, 4)
        obs = jnp.zeros((env.observation_size,), jnp.float32)
        actor_params = actor.init(k_actor, obs)
        critic_params = critic.init(k_critic, obs, jnp.zeros((env.action_size,), jnp.float32))
        log_alpha = jnp.asarray(jnp.log(config.init_alpha), jnp.float32)
        env_state = jax.vmap(env.reset)(jax.random.split(k_env, config.num_envs))
        zero_action = jnp.zeros((config.num_envs, env.action_size), jnp.float32)
        stepped = jax.eval_shape(jax.vmap(env.step), env_state, zero_action)
        env_state = jax.tree.map(lambda x, s: x.astype(s.dtype), env_state, stepped)
        learner = Learner(
            actor_params=actor_params, critic_params=critic_params,
            target_critic_params=critic_params, log_alpha=log_alpha,
            actor_opt_state=actor_opt.init(actor_params),
            critic_opt_state=critic_opt.init(critic_params), alpha_opt_state=alpha_opt.init(log_alpha),
        )
        state = TrainState(
            learner=learner, normalizer=running_statistics.init_state(obs),
            buffer=replay.allocate(config.buffer_capacity, example_transition(env), config.num_envs),
            env_state=env_state, key=key, iteration=jnp.zeros((), jnp.int32),
            env_steps=UInt64(hi=jnp.zeros((), jnp.uint32), lo=jnp.zeros((), jnp.uint32)),
            grad_updates=jnp.zeros((), jnp.int32),
        )
        return place_state(jax.tree.map(lambda x: jnp.asarray(x).astype(jnp.asarray(x).dtype), state), mesh)

    return jax.jit(_init)


def make_policy(config: SACConfig, deterministic: bool = True) -> Policy:
    """`(actor_params, normalizer, obs, key=None) -> action` for evaluation and export. Not jitted.

    obs: [..., obs_dim] raw -> action [..., A] in [-1, 1]: tanh(mean) when deterministic (key
    unused), else one tanh-Gaussian draw per row. In residual mode this is the residual r; the env
    gets `scale_residual(r, alpha)`.
    """

    def policy_fn(actor_params: Params, normalizer: NormalizerState, obs: jax.Array,
                  key: jax.Array | None = None) -> jax.Array:
        action_size = actor_params["params"]["net"]["head"]["bias"].shape[-1] // 2
        actor, _ = make_networks(config, action_size)
        mean, log_std = actor.apply(actor_params, normalize_obs(config, normalizer, obs))
        if deterministic:
            return jnp.tanh(mean)
        return tanh_gaussian_sample(key, mean, log_std)[0]

    return policy_fn


def check_residual_env(env: Env) -> None:
    """ValueError when an env's observation layout shows it does not end with the base action."""
    obj = env
    while obj is not None:
        layout = getattr(obj, "observation_layout", None)
        if layout is not None:
            if tuple(layout[-1]) != ("base_action", env.action_size):
                raise ValueError(
                    "residual SAC needs an env whose observation ends with the base action (a "
                    f"residual.ResidualTask in EpisodeEnv); this one's layout ends with {layout[-1]!r}"
                )
            return
        obj = getattr(obj, "task", None)


def make_train_step(
    config: SACConfig, env: Env, alpha_fn: Schedule | None = None,
    apply_prob_fn: Schedule | None = None, donate: bool = True, *, mesh: Mesh | None = None,
) -> TrainStep:
    """The jitted `train_step(TrainState) -> (TrainState, metrics)`; one call = one SAC iteration.

    The same arguments give back the same function, compiled once (no recompiles afterwards).
    mesh: devices to split the envs over, as in `init` (None: all of `jax.devices()`).
    alpha_fn: residual mode (see the module doc): env steps so far -> residual scale alpha.
    apply_prob_fn: residual mode only; env steps so far -> probability in [0, 1] that an env
    applies its residual at an exploration step (None: always).
    donate: donate the input TrainState (the buffer is updated in place, not copied); do not use a
    state after passing it in.

    metrics, () float32 each: rollout/{ep_rew_mean, ep_len_mean, success_rate} over episodes
    completed in this iteration (0 if none), rollout/{episodes, nan_resets, reward_mean},
    loss/{actor, critic, alpha}, train/{alpha (temperature), q_mean, entropy} (means over the
    updates; 0 while no updates run), train/updates (this call), train/random_actions (1 during
    warm-up), buffer/size (transitions held), the batch mean of every env metric as 'env/<key>'
    ('<key>' if it has a '/'), and in residual mode residual/{alpha, apply_prob, applied_frac,
    base_abs, residual_abs, total_abs} (mean |action| entries of base, applied u and their sum).
    """
    mesh = distributed.resolve_mesh(mesh)
    distributed.check_divisible(config.num_envs, mesh)
    return _make_train_step(config, env, alpha_fn, apply_prob_fn, donate, mesh)


@functools.lru_cache(maxsize=16)
def _make_train_step(
    config: SACConfig, env: Env, alpha_fn: Schedule | None, apply_prob_fn: Schedule | None,
    donate: bool, mesh: Mesh | None,
) -> TrainStep:
    if apply_prob_fn is not None and alpha_fn is None:
        raise ValueError("apply_prob_fn is for residual training; give alpha_fn as well")
    residual = alpha_fn is not None
    if residual:
        check_residual_env(env)
    goals = her.goal_spec(env) if config.her else None
    actor, critic = make_networks(config, env.action_size)
    actor_opt, critic_opt, alpha_opt = _optimizers(config)
    a_size = env.action_size
    target_entropy = -float(a_size) if config.target_entropy is None else config.target_entropy

    def to_env(a: jax.Array, res_alpha: jax.Array) -> jax.Array:
        """Actor output [..., A] -> env action: u = alpha * a when residual."""
        return scale_residual(a, res_alpha) if residual else a

    def critic_action(obs: jax.Array, env_action: jax.Array) -> jax.Array:
        return critic_input_action(obs, env_action, residual)

    def rollout(ts: TrainState, key: jax.Array, res_alpha: jax.Array, apply_p: jax.Array
                ) -> tuple[RolloutCarry, jax.Array]:
        """steps_per_iteration steps of all envs, added to the buffer; also returns obs [T, N, D]."""
        random_phase = env_steps_float(ts.env_steps) < config.warmup_steps

        def env_step(carry: RolloutCarry, step_key: jax.Array) -> tuple[RolloutCarry, jax.Array]:
            state = carry.env_state
            k_pi, k_rand, k_apply = jax.random.split(step_key, 3)
            obs_n = normalize_obs(config, ts.normalizer, state.obs)
            mean, log_std = actor.apply(ts.learner.actor_params, obs_n)
            a, _ = tanh_gaussian_sample(k_pi, mean, log_std)
            a = jnp.where(random_phase, jax.random.uniform(k_rand, a.shape, a.dtype, -1.0, 1.0), a)
            applied = jax.random.bernoulli(k_apply, apply_p, (config.num_envs,)).astype(jnp.float32)
            env_action = to_env(a, res_alpha) * (applied[:, None] if residual else 1.0)
            nxt = distributed.shard_axis(jax.vmap(env.step)(state, env_action), mesh)
            done = nxt.done
            next_obs = jnp.where(done[:, None] > 0.5, nxt.episode.final_obs, nxt.obs)
            transition = Transition(obs=state.obs, action=env_action, reward=nxt.reward, done=done,
                                    truncation=nxt.truncation, next_obs=next_obs)
            s = carry.stats
            ep_return = state.episode.episode_return + nxt.reward
            stats = RolloutStats(
                episodes=s.episodes + jnp.sum(done),
                return_sum=s.return_sum + jnp.sum(done * ep_return),
                length_sum=s.length_sum + jnp.sum(done * (state.episode.steps + 1).astype(jnp.float32)),
                success_sum=s.success_sum + jnp.sum(done * nxt.success),
                reward_sum=s.reward_sum + jnp.sum(nxt.reward),
                metric_sums={k: s.metric_sums[k] + jnp.sum(v) for k, v in nxt.metrics.items()},
            )
            sums = carry.action_sums
            if residual:
                base = state.obs[:, -a_size:]
                sums = sums + jnp.stack([
                    jnp.mean(applied), jnp.mean(jnp.abs(base)), jnp.mean(jnp.abs(env_action)),
                    jnp.mean(jnp.abs(combine(base, env_action)))])
            buffer = replay.place(replay.add(carry.buffer, transition, done), mesh)
            return RolloutCarry(env_state=nxt, buffer=buffer,
                                stats=stats, action_sums=sums), state.obs

        zero = jnp.zeros((), jnp.float32)
        stats0 = RolloutStats(episodes=zero, return_sum=zero, length_sum=zero, success_sum=zero,
                              reward_sum=zero, metric_sums={k: zero for k in ts.env_state.metrics})
        carry0 = RolloutCarry(env_state=ts.env_state, buffer=ts.buffer, stats=stats0,
                              action_sums=jnp.zeros((4,), jnp.float32))
        return jax.lax.scan(env_step, carry0, jax.random.split(key, config.steps_per_iteration))

    def update(learner: Learner, key: jax.Array, buffer: ReplayBuffer, normalizer: NormalizerState,
               res_alpha: jax.Array) -> tuple[Learner, dict[str, jax.Array]]:
        """One gradient update of critics, actor and temperature, then the Polyak step."""
        k_idx, k_her, k_next, k_pi = jax.random.split(key, 4)
        index = replay.sample_indices(buffer, k_idx, config.batch_size)
        batch = replay.gather(buffer, index)
        if goals is not None:
            batch = her.relabel(k_her, index, batch, buffer, goals, config.her_k).batch
        # Each device takes a slice of the batch; XLA sums the gradients across devices.
        batch = distributed.shard_if_divisible(batch, mesh)
        obs_n = normalize_obs(config, normalizer, batch.obs)
        next_n = normalize_obs(config, normalizer, batch.next_obs)
        temperature = jnp.exp(learner.log_alpha)

        next_a, next_logp = tanh_gaussian_sample(k_next, *actor.apply(learner.actor_params, next_n))
        next_q = critic.apply(learner.target_critic_params, next_n,
                              critic_action(batch.next_obs, to_env(next_a, res_alpha)))
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
            a, logp = tanh_gaussian_sample(k_pi, *actor.apply(params, obs_n))
            q_pi = critic.apply(critic_params, obs_n, critic_action(batch.obs, to_env(a, res_alpha)))
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

    def no_updates(learner: Learner, key: jax.Array, buffer: ReplayBuffer, normalizer: NormalizerState,
                   res_alpha: jax.Array) -> tuple[Learner, dict[str, jax.Array]]:
        stats = jax.eval_shape(updates, learner, key, buffer, normalizer, res_alpha)[1]
        return learner, {k: jnp.zeros(v.shape, v.dtype) for k, v in stats.items()}

    def train_step(ts: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        ts = place_state(ts, mesh)
        key, k_rollout, k_update = jax.random.split(ts.key, 3)
        steps = env_steps_float(ts.env_steps)
        res_alpha = jnp.asarray(alpha_fn(steps) if residual else 1.0, jnp.float32)
        apply_p = jnp.asarray(1.0 if apply_prob_fn is None else apply_prob_fn(steps), jnp.float32)
        carry, obs = rollout(ts, k_rollout, res_alpha, apply_p)
        normalizer = ts.normalizer
        if config.normalize_obs:
            normalizer = running_statistics.update(normalizer, obs)
        env_steps = ts.env_steps + config.env_steps_per_iteration
        learn = env_steps_float(env_steps) >= config.warmup_steps
        learner, update_stats = jax.lax.cond(
            learn, updates, no_updates, ts.learner, k_update, carry.buffer, normalizer, res_alpha)
        n_updates = learn.astype(jnp.int32) * config.updates_per_iteration
        new_ts = TrainState(
            learner=learner, normalizer=normalizer, buffer=carry.buffer, env_state=carry.env_state,
            key=key, iteration=ts.iteration + 1, env_steps=env_steps,
            grad_updates=ts.grad_updates + n_updates,
        )
        new_ts = jax.tree.map(lambda new, old: new.astype(old.dtype), new_ts, ts)

        stats = carry.stats
        per_episode = lambda total: total / jnp.maximum(stats.episodes, 1.0)  # noqa: E731
        n_steps = float(config.env_steps_per_iteration)
        new_nan = jnp.sum(carry.env_state.episode.nan_resets - ts.env_state.episode.nan_resets)
        metrics = {
            "rollout/ep_rew_mean": per_episode(stats.return_sum),
            "rollout/ep_len_mean": per_episode(stats.length_sum),
            "rollout/success_rate": per_episode(stats.success_sum),
            "rollout/episodes": stats.episodes,
            "rollout/nan_resets": new_nan.astype(jnp.float32),
            "rollout/reward_mean": stats.reward_sum / n_steps,
            **update_stats,
            "train/alpha": jnp.exp(learner.log_alpha),
            "train/updates": n_updates.astype(jnp.float32),
            "train/random_actions": (steps < config.warmup_steps).astype(jnp.float32),
            "buffer/size": replay.num_transitions(carry.buffer).astype(jnp.float32),
        }
        for k, v in stats.metric_sums.items():
            metrics[k if "/" in k else f"env/{k}"] = v / n_steps
        if residual:
            sums = carry.action_sums / config.steps_per_iteration
            metrics.update({
                "residual/alpha": res_alpha, "residual/apply_prob": apply_p,
                "residual/applied_frac": sums[0], "residual/base_abs": sums[1],
                "residual/residual_abs": sums[2], "residual/total_abs": sums[3],
                "residual/success_rate": metrics["rollout/success_rate"],
            })
        metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
        return place_state(new_ts, mesh), distributed.replicate(metrics, mesh)

    return jax.jit(train_step, donate_argnums=(0,) if donate else ())
