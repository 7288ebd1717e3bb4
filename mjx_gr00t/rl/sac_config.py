"""SAC's static side: the hyperparameters (`SACConfig`), its networks and optimisers, and the action
function used for evaluation and export. `sac.py` trains with them.
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from mjx_gr00t.rl.off_policy_checks import check_common
from mjx_gr00t.rl.networks import ActorIndices, actor_obs, get_activation, normalize_obs
from mjx_gr00t.rl.ppo_losses import Params
from mjx_gr00t.rl.rollout import NormalizerState
from mjx_gr00t.rl.sac_losses import (
    LOG_STD_MAX,
    LOG_STD_MIN,
    DoubleQ,
    TanhGaussianActor,
    tanh_gaussian_sample,
)

Schedule = Callable[[jax.Array], jax.Array]
"""env steps so far () float32 -> () float32."""
Policy = Callable[..., jax.Array]


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
        check_common(self, positive_ints=("num_envs", "steps_per_iteration", "batch_size", "buffer_capacity"),
                     rates=("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate", "init_alpha",
                            "reward_scale"))
        per_iteration = self.num_envs * self.steps_per_iteration
        updates = self.utd_ratio * per_iteration
        if not (self.utd_ratio > 0 and updates >= 1 - 1e-6 and abs(updates - round(updates)) < 1e-6):
            raise ValueError(
                f"utd_ratio * num_envs * steps_per_iteration = {self.utd_ratio} * {per_iteration} = "
                f"{updates} updates per iteration; it must be a positive integer (e.g. utd_ratio = "
                f"{max(1, round(updates))}/{per_iteration})"
            )
        if not LOG_STD_MIN <= self.init_log_std <= LOG_STD_MAX:
            raise ValueError(
                f"init_log_std must be in [{LOG_STD_MIN}, {LOG_STD_MAX}], got {self.init_log_std}")

    @property
    def env_steps_per_iteration(self) -> int:
        """num_envs * steps_per_iteration."""
        return self.num_envs * self.steps_per_iteration

    @property
    def updates_per_iteration(self) -> int:
        """Gradient updates per `train_step`: utd_ratio * env_steps_per_iteration."""
        return int(round(self.utd_ratio * self.env_steps_per_iteration))


def make_networks(config: SACConfig, action_size: int) -> tuple[TanhGaussianActor, DoubleQ]:
    """The (actor, critic) modules for `config`."""
    activation = get_activation(config.activation)
    actor = TanhGaussianActor(
        action_size=action_size, hidden=config.actor_hidden, activation=activation,
        zero_init_head=config.zero_init_actor_head, init_log_std=config.init_log_std,
    )
    return actor, DoubleQ(hidden=config.critic_hidden, activation=activation)


def optimizers(config: SACConfig) -> tuple[optax.GradientTransformation, ...]:
    """Adam for the (actor, critics, log-temperature), each with its own learning rate."""
    return (optax.adam(config.actor_learning_rate), optax.adam(config.critic_learning_rate),
            optax.adam(config.alpha_learning_rate))


def make_policy(config: SACConfig, deterministic: bool = True) -> Policy:
    """`(actor_params, normalizer, obs, key=None, actor_indices=None) -> action` for evaluation and
    export. Not jitted.

    obs: [..., obs_dim] raw -> action [..., A] in [-1, 1]: tanh(mean) when deterministic (key
    unused), else one tanh-Gaussian draw per row. In residual mode this is the residual r; the env
    gets `scale_residual(r, alpha)`. actor_indices: the entries of the normalised obs the actor
    reads (`networks.actor_input_indices`; None: all).
    """

    def policy_fn(actor_params: Params, normalizer: NormalizerState, obs: jax.Array,
                  key: jax.Array | None = None, actor_indices: ActorIndices = None) -> jax.Array:
        action_size = actor_params["params"]["net"]["head"]["bias"].shape[-1] // 2
        actor, _ = make_networks(config, action_size)
        obs_n = normalize_obs(config, normalizer, obs)
        mean, log_std = actor.apply(actor_params, actor_obs(actor_indices, obs_n))
        if deterministic:
            return jnp.tanh(mean)
        return tanh_gaussian_sample(key, mean, log_std)[0]

    return policy_fn
