"""The fast off-policy learner's hyperparameters (`FastTD3Config`), in the FastTD3 family: many envs,
few large updates per vector step, twin distributional critics with LayerNorm, delayed actor
updates, a fast target, per-env exploration noise. Its field names match `SACConfig`'s where the two
mean the same (num_envs, batch_size, buffer_capacity, her, ...), so one replay and HER path serves both.
"""

import dataclasses

import jax.numpy as jnp

from mjx_gr00t.rl.off_policy_checks import check_common


@dataclasses.dataclass(frozen=True)
class FastTD3Config:
    """Validated on construction (ValueError)."""

    num_envs: int = 512
    """N: envs stepped in parallel."""
    steps_per_iteration: int = 1
    """Env steps per env per train step."""
    updates_per_iteration: int = 16
    """U gradient updates per train step, run in one `lax.scan`."""
    batch_size: int = 1024
    """Transitions per update: U * batch_size / (num_envs * steps_per_iteration) gradient samples per
    env step: 32 with the defaults (SAC's recipe takes 64). Chosen by `python -m
    benchmarks.fast_off_policy`: on fetch_push, 32 beat 16 and 8 at equal training time on 2 CPU
    cores (benchmarks/results/fast_off_policy_fetch_push_cpu2.json)."""
    buffer_capacity: int = 1_024_000
    """Replay size in transitions over all envs, a multiple of num_envs."""
    actor_learning_rate: float = 3e-4
    """Adam learning rate of the actor."""
    critic_learning_rate: float = 3e-4
    """Adam learning rate of the twin critics."""
    gamma: float = 0.98
    """Discount factor."""
    tau: float = 0.1
    """Polyak rate of the target critics, after every update (FastTD3's fast target)."""
    policy_delay: int = 2
    """The actor updates on every policy_delay-th update of an iteration (the critics on all)."""
    actor_hidden: tuple[int, ...] = (256, 256)
    """The actor's hidden widths."""
    critic_hidden: tuple[int, ...] = (256, 256)
    """Each twin's widths: SAC's on this CPU (FastTD3's larger critics cost more per sample than the
    updates they save)."""
    activation: str = "relu"
    """Hidden activation of all networks: one of networks.ACTIVATIONS."""
    atoms: int = 51
    """Atoms of the categorical return distribution on [v_min, v_max]."""
    v_min: float = -50.0
    """Lowest return the critics' support holds."""
    v_max: float = 0.0
    """The return support: for a sparse -1/0 reward over 50 steps, [-50, 0]."""
    noise_std_min: float = 0.01
    """Exploration noise std of the quietest env (see noise_std_max)."""
    noise_std_max: float = 0.4
    """Exploration: env i adds N(0, s_i) to its action, s_i spread evenly over [min, max] across envs."""
    target_noise: float = 0.2
    """Std of the target policy's smoothing noise (see target_noise_clip)."""
    target_noise_clip: float = 0.5
    """Target policy smoothing: N(0, target_noise) clipped to +-target_noise_clip on the next action."""
    action_l2: float = 1.0
    """Penalty on the actor's squared output in its loss (DDPG + HER's action_l2; in residual mode
    the penalty on the applied residual), as a mean over the action entries."""
    zero_init_actor_head: bool = True
    """Start the actor's last layer at zero, so that a residual starts at nothing."""
    warmup_steps: int = 10_240
    """Env steps (all envs) of uniformly random actions before the first update."""
    her: bool = False
    """Hindsight experience replay (`future` strategy, inside jit); needs a goal-conditioned scene."""
    her_k: int = 4
    """HER: relabelled transitions per real one (a fraction k / (k + 1) of each batch)."""
    normalize_obs: bool = True
    """Normalise observations with running mean and std (brax running statistics)."""
    obs_clip: float | None = 10.0
    """Clip normalised observations to +-obs_clip (None: no clip); unused without normalize_obs."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this in the critics' targets."""

    def __post_init__(self) -> None:
        check_common(self, positive_ints=("num_envs", "steps_per_iteration", "updates_per_iteration", "batch_size",
                                          "buffer_capacity", "policy_delay", "atoms"),
                     rates=("actor_learning_rate", "critic_learning_rate", "reward_scale"))
        if self.atoms < 2 or not self.v_max > self.v_min:
            raise ValueError(f"the return support needs atoms >= 2 and v_max > v_min, got {self.atoms}, "
                             f"[{self.v_min}, {self.v_max}]")
        if not 0.0 <= self.noise_std_min <= self.noise_std_max:
            raise ValueError(f"need 0 <= noise_std_min <= noise_std_max, got {self.noise_std_min}, {self.noise_std_max}")
        if self.target_noise < 0 or self.target_noise_clip < 0 or self.action_l2 < 0:
            raise ValueError("target_noise, target_noise_clip and action_l2 must be >= 0")

    @property
    def env_steps_per_iteration(self) -> int:
        return self.num_envs * self.steps_per_iteration

    @property
    def samples_per_env_step(self) -> float:
        """Gradient samples per env step collected: U * batch_size / env_steps_per_iteration."""
        return self.updates_per_iteration * self.batch_size / self.env_steps_per_iteration

    def noise_scales(self) -> "jnp.ndarray":
        """[N] each env's exploration noise std, evenly from noise_std_min to noise_std_max."""
        return jnp.linspace(self.noise_std_min, self.noise_std_max, self.num_envs, dtype=jnp.float32)
