"""The sweep's settings (one frozen dataclass, parsed by tyro in `train.sweep`) and their checks.

    settings = SweepSettings(grid=("learning_rate=3e-4,1e-3", "update_epochs=2,4"), seeds=(0, 1))
    validate(settings)                       # UsageError saying what to change
"""

import dataclasses
from typing import Literal

from mjx_gr00t.errors import UsageError

DEFAULT_GRID: tuple[str, ...] = (
    "learning_rate=6e-4,1.2e-3",
    "init_log_std=-1.6,-2.3",
    "update_epochs=2,4",
)
"""2 x 2 x 2 = 8 configurations of the paper twin's PPO recipe in 2 programs (2 and 4 epochs): the
sweep behind the twin's default recipe (benchmarks/results/sweep_ppo_paper_square_cpu2/)."""

DEFAULT_GRIDS: dict[str, tuple[str, ...]] = {
    "ppo": DEFAULT_GRID,
    "sac": ("actor_learning_rate=3e-4,1e-3", "critic_learning_rate=3e-4,1e-3"),
    "fast_td3": ("actor_learning_rate=1e-4,3e-4", "action_l2=1,10", "alpha=0.3,1.0"),
}
"""--grid when none is given, per algorithm; the off-policy grids are data (one program each). fast_td3's
is the sweep behind its twin recipe (benchmarks/results/sweep_fast_td3_paper_square_cpu2/)."""


@dataclasses.dataclass(frozen=True)
class SweepSettings:
    """Train a grid (or a random sample) of configurations x seeds of one algorithm as one vmapped
    program per shape group; time each to a held target by periodic held-out evaluation; write CSV,
    markdown, a plot and the winner."""

    algo: Literal["ppo", "sac", "fast_td3"] = "ppo"
    """Algorithm swept: PPO, SAC or the fast off-policy learner."""
    recipe: str | None = None
    """Starting recipe (`python -m train.residual_<algo> --recipe list`); default: the algorithm's
    default recipe (ppo: paper_square/ik/ppo and fast_td3: paper_square/ik/fast_td3, the paper twin;
    sac: fetch_push/zero/sac)."""
    grid: tuple[str, ...] | None = None
    """Swept flags, each NAME=V1,V2,...; every combination is one configuration. Data in one program:
    PPO's learning_rate, entropy_coef, gamma, gae_lambda, clip_eps, init_log_std; SAC's and
    fast_td3's actor_learning_rate, critic_learning_rate, gamma, tau, reward_scale (SAC also
    alpha_learning_rate, init_alpha; fast_td3 also noise_std_min, noise_std_max, target_noise,
    target_noise_clip, action_l2); and the residual's alpha. Any other flag (update_epochs,
    num_minibatches, num_envs, unroll_length, updates_per_iteration, utd_ratio, batch_size, widths,
    ...) changes shapes or loop lengths and compiles one program per value. Default: the algorithm's
    default grid (ppo: learning_rate x init_log_std x update_epochs, the sweep behind the twin's
    recipe; sac: actor x critic learning rates; fast_td3: actor learning rate x action_l2 x alpha, the
    sweep behind its twin recipe)."""
    sample: int | None = None
    """Train a random sample of this many configurations of the grid (drawn with --sample-seed)
    instead of all of them."""
    sample_seed: int = 0
    """Seed of the --sample draw."""
    fixed: tuple[str, ...] = ()
    """NAME=VALUE settings applied to every configuration over the recipe (e.g. num_envs=128 engine=c)."""
    seeds: tuple[int, ...] = (0,)
    """Training seeds; each configuration trains once per seed."""
    total_steps: int = 800_000
    """Env steps per configuration and seed, unless stopped early (rounded up to whole iterations)."""
    target: float = 0.95
    """Held-out success the sweep times each configuration to."""
    hold: int = 3
    """The target counts as reached at the first evaluation from which success stays >= target for this
    many evaluations (`mjx_gr00t.time_to_target`)."""
    eval_every_steps: int = 65_536
    """Env steps per run between held-out evaluations (rounded to whole iterations)."""
    eval_episodes: int = 64
    """Held-out episodes per run at each periodic evaluation."""
    final_episodes: int = 256
    """Held-out episodes per run at the end (the final success and its interval)."""
    eval_seed: int = 1_000_000
    """Seed of the held-out episodes (apart from training seeds); every run sees the same ones."""
    stop_early: bool = True
    """Stop a configuration once its training time passes the best held time to target so far: it can
    no longer be first. Its runs leave the program, which is recompiled smaller (counted)."""
    out: str | None = None
    """Output directory; default runs/sweep-<algo>-<scene>-<date>-<time>."""
    overwrite: bool = False
    """Replace an earlier sweep in --out."""
    resume: str | None = None
    """Continue the sweep in this directory where it stopped (its saved settings are used; other flags
    but --stop-after are ignored)."""
    stop_after: int | None = None
    """Stop after this many training iterations in this invocation, with a checkpoint; --resume goes on."""

    def grid_items(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """((name, (value texts, ...)), ...) of --grid; UsageError for a malformed entry."""
        grid = DEFAULT_GRIDS[self.algo] if self.grid is None else self.grid
        return tuple(_split(item, "--grid", many=True) for item in grid)

    def fixed_items(self) -> tuple[tuple[str, str], ...]:
        """((name, value text), ...) of --fixed; UsageError for a malformed entry."""
        return tuple((name, values[0]) for name, values in (_split(i, "--fixed", many=False) for i in self.fixed))


def split_values(text: str) -> list[str]:
    """'1,2,(3,4)' -> ['1', '2', '(3,4)']: commas inside brackets do not split."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()]


def _split(item: str, flag: str, many: bool) -> tuple[str, tuple[str, ...]]:
    name, sep, text = item.partition("=")
    values = tuple(split_values(text)) if many else (text.strip(),)
    if not sep or not name.strip() or not all(values):
        example = "learning_rate=3e-4,1e-3" if many else "num_envs=128"
        raise UsageError(f"{flag} takes NAME={'V1,V2,...' if many else 'VALUE'} entries (e.g. {example}), "
                         f"got {item!r}")
    return name.strip().replace("-", "_"), values


def validate(settings: SweepSettings) -> None:
    """Raises UsageError for settings that cannot work, saying what to change."""
    names = [name for name, _ in settings.grid_items()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"--grid names {', '.join(repeated)} twice; give each flag once with all its values")
    fixed = {name for name, _ in settings.fixed_items()}
    both = sorted(fixed & set(names))
    if both:
        raise UsageError(f"{', '.join(both)} is both swept (--grid) and fixed (--fixed); drop one")
    if not settings.seeds or len(set(settings.seeds)) != len(settings.seeds) or min(settings.seeds) < 0:
        raise UsageError(f"--seeds must be one or more distinct seeds >= 0, got {list(settings.seeds)}")
    for name in ("total_steps", "eval_every_steps", "eval_episodes", "final_episodes", "hold"):
        if getattr(settings, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(settings, name)}")
    if settings.sample is not None and settings.sample < 1:
        raise UsageError(f"--sample must be >= 1, got {settings.sample}")
    if not 0.0 < settings.target <= 1.0:
        raise UsageError(f"--target is a success rate in (0, 1], got {settings.target}")
