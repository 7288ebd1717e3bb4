"""The DR ablation's settings (one frozen dataclass, parsed by tyro in `train.ablate_dr`), their
checks, and the residual env they describe.

    settings = AblationSettings(arms=("none", "all"), seeds=(0, 1), base="zero", engine="c")
    validate(settings)                                   # UsageError saying what to change
    env = residual_env(settings.scene, settings.base_name, settings.engine, settings.num_envs,
                       settings.residual_penalty)        # one env; vmap it
"""

import dataclasses
import functools
import math
from typing import Any, Literal

from mjx_gr00t import residual_env as residual_env_lib
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl.ppo_config import PPOConfig

ALGO: str = "ablate_dr"
DEFAULT_BASE: dict[str, str] = {
    "paper_square": "ik", "fetch_reach": "script", "fetch_push": "script", "fetch_pick_place": "script",
    "so101_reach": "script", "so101_push": "script", "so101_pick_place": "script",
}


@dataclasses.dataclass(frozen=True)
class AblationSettings:
    """Train residual PPO under several DR arms x seeds as one vmapped program; evaluate every arm
    on one wider held-out DR distribution; write CSV, markdown and a bar chart with 95 % CIs.

    Defaults fit 30 min on a 2-core CPU: 7 arms x 2 seeds x 400k steps (64 envs each) = 5.6M
    steps; measured 19.6 min in all on a 2-core AMD EPYC (5,334 env-steps/s)."""

    scene: str = "paper_square"
    """Registered scene with a DR config (paper_square, the fetch_* and so101_* goal scenes)."""
    base: Literal["ik", "script", "zero"] | None = None
    """Base policy; default: 'ik' on paper_square, 'script' on the fetch_* and so101_* scenes."""
    engine: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Physics engine; 'auto' is 'c' on a CPU-only machine and 'mjx' on an accelerator."""
    arms: tuple[str, ...] | None = None
    """Arms to train, space- or comma-separated: 'none', 'all' and the scene's DR factor names
    (paper_square: paper_xy, paper_yaw, friction, paper_mass, actuator_gain). Default: every arm."""
    seeds: tuple[int, ...] = (0, 1)
    """Training seeds; every arm trains once per seed (arms of one seed share initial weights)."""
    num_envs: int = 64
    """Parallel envs per arm and seed (the grid steps arms x seeds x num_envs envs at once)."""
    total_steps: int = 400_000
    """Env steps per arm and seed (rounded up to whole iterations of num_envs * unroll_length)."""
    eval_width: float = 1.5
    """Width of the held-out DR distribution: each factor's default range scaled about its
    nominal value (1.5: 50 % wider, e.g. paper offset +-7.5 cm instead of +-5 cm); every factor on."""
    eval_episodes: int = 256
    """Held-out episodes per arm and seed (pooled over seeds in the tables)."""
    eval_seed: int = 1_000_000
    """Seed of the held-out episodes; seed s evaluates on key eval_seed + s (apart from training seeds)."""
    out: str | None = None
    """Output directory; default runs/ablate_dr-<scene>-<base>-<date>-<time>, a new one each time."""
    overwrite: bool = False
    """Replace an earlier ablation in --out."""
    alpha: float = 1.0
    """Residual scale: total = clip(base + alpha * residual), in units of the action limit."""
    residual_penalty: float = 0.001
    """Weight of the L2 penalty on the applied residual, subtracted from the reward."""
    unroll_length: int = 16
    """Env steps per env per iteration."""
    num_minibatches: int = 8
    """Minibatches per epoch."""
    update_epochs: int = 2
    """Epochs over each rollout."""
    learning_rate: float = 6e-4
    """Adam learning rate (decays linearly to 0 at --total-steps)."""
    init_log_std: float = -1.0
    """Initial log std of the residual's exploration noise (train.residual_ppo uses -1.6 for its
    3M-step runs; the ablation's shorter 64-env runs, and its measured figures, use -1.0)."""
    gamma: float = 0.98
    """Discount."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the policy and critic MLPs."""

    @property
    def base_name(self) -> str:
        """--base, or the scene's default base."""
        return self.base or DEFAULT_BASE.get(self.scene, "zero")

    @property
    def arm_list(self) -> tuple[str, ...] | None:
        """--arms split on commas as well as spaces; None: every arm."""
        if self.arms is None:
            return None
        return tuple(a.strip() for item in self.arms for a in item.split(",") if a.strip())

    @property
    def total_iterations(self) -> int:
        """Iterations per cell needed for --total-steps."""
        return math.ceil(self.total_steps / (self.num_envs * self.unroll_length))

    def ppo_config(self) -> PPOConfig:
        """The PPOConfig of every cell."""
        return PPOConfig(
            num_envs=self.num_envs, unroll_length=self.unroll_length, num_minibatches=self.num_minibatches,
            update_epochs=self.update_epochs, learning_rate=self.learning_rate, lr_schedule="linear",
            total_iterations=self.total_iterations, gamma=self.gamma, policy_hidden=self.hidden,
            value_hidden=self.hidden, init_log_std=self.init_log_std,
        )


def validate(settings: AblationSettings) -> None:
    """Raises UsageError for settings that cannot work, saying what to change."""
    if settings.scene not in registry.scenes():
        raise UsageError(f"unknown scene {settings.scene!r}; valid scenes: {', '.join(registry.scenes())}")
    if not hasattr(registry.default_config(settings.scene), "dr"):
        raise UsageError(f"scene {settings.scene!r} has no domain randomisation to ablate")
    for name in ("num_envs", "eval_episodes"):
        if getattr(settings, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(settings, name)}")
    if not settings.seeds:
        raise UsageError("--seeds needs at least one seed")
    if len(set(settings.seeds)) != len(settings.seeds) or min(settings.seeds) < 0:
        raise UsageError(f"--seeds must be distinct and >= 0, got {list(settings.seeds)}")
    one = settings.num_envs * settings.unroll_length
    if settings.total_steps < one:
        raise UsageError(f"--total-steps {settings.total_steps} is smaller than one iteration "
                         f"(--num-envs {settings.num_envs} x --unroll-length {settings.unroll_length} = {one})")
    if not settings.eval_width >= 1.0:
        raise UsageError(f"--eval-width must be >= 1 (the held-out distribution is at least as wide as "
                         f"training), got {settings.eval_width}")
    if settings.alpha < 0 or settings.residual_penalty < 0:
        raise UsageError(f"--alpha and --residual-penalty must be >= 0, got {settings.alpha}, "
                         f"{settings.residual_penalty}")
    try:
        settings.ppo_config()
    except ValueError as e:
        raise UsageError(str(e)) from e


@functools.lru_cache(maxsize=8)
def residual_env(scene: str, base: str, engine: str, num_envs: int, penalty: float,
                 dr: Any = None) -> EpisodeEnv:
    """The residual env (`mjx_gr00t.residual_env`) of `scene` with DR on: the scene's default DR
    config, or `dr` (a DR config of the scene) instead. One env; vmap it for `num_envs`.

    The same choices give back the same env object, so compiled functions keyed on it are reused.
    UsageError for a value the scene or base rejects."""
    try:
        config = residual_env_lib.scene_config(scene, num_envs, engine, True, (("dr", dr),))
        return residual_env_lib.build_residual_env(scene, config, base, penalty)
    except ValueError as e:
        raise UsageError(str(e)) from e
