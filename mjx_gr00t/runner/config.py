"""What a training run is: one frozen, nested `RunConfig`, parsed by tyro, saved resolved.

    RunConfig(scene=SceneSettings("paper_square", "ik"), residual=ResidualSettings(alpha=1.0),
              algo=PPOConfig(...), groot=GrootSettings(), run=RunSettings(total_steps=3_000_000), seed=0)

`scene`, `residual`, `algo`, `groot` and `seed` say *what* is trained: resume compares them whole with
the checkpoint's (a field added later resumes at its default). `run` says *how this invocation runs*
(run directory, logging, evaluation, checkpoints, length) and may change on resume. `groot` keeps
where GR00T runs (`MACHINE_FIELDS`: device, threads, server) apart from what it is.

Flags are flat (`--num-envs`, `--alpha`, `--eval-every`), except GR00T's (`--groot.model`). The same
flat names address fields in recipes and in the run.json of runs made before this layout
(`from_flat`).
"""

import dataclasses
import math
from typing import Annotated, Any, Generic, Literal, TypeVar

import tyro

from mjx_gr00t.groot_settings import MACHINE_FIELDS, GrootSettings

AlgoConfig = TypeVar("AlgoConfig")

Omit = tyro.conf.OmitArgPrefixes


SCENE_REVISION: int = 2
"""Written into run.json and checkpoints: 2 since `paper_square` is the paper rig's twin (runs
without it were made on the card scene, now `paper_card`; `runner.legacy` maps them)."""

@dataclasses.dataclass(frozen=True)
class SceneSettings:
    """The scene and the base policy the residual learns on."""

    scene: str = "paper_square"
    """Registered scene (mjx_gr00t.envs.registry.scenes())."""
    base: Literal["ik", "script", "zero", "groot"] = "ik"
    """Base policy: 'ik' scripted Jacobian-IK push (paper_square), 'script' scripted Cartesian
    controller (fetch_*), 'zero' (plain RL), 'groot' GR00T N1.5 action chunks (paper_square; needs
    --groot.model or --groot.server)."""
    engine: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Physics engine; 'auto' is 'c' on a CPU-only machine and 'mjx' on an accelerator."""
    dr: bool = True
    """Domain randomisation (--no-dr switches every factor off)."""
    scene_options: tuple[str, ...] = ()
    """Further fields of the scene's own config, as NAME=VALUE (e.g. obj_range=0.1 target_range=0.15
    on the Fetch-like scenes, obs_mode=privileged on paper_square); dr.FACTOR=LOW,HIGH or
    dr.FACTOR=off sets one DR factor (e.g. dr.latency=0,1 dr.light=off). An unknown name is an
    error that lists the scene's fields or factors."""


@dataclasses.dataclass(frozen=True)
class ResidualSettings:
    """How the residual is applied: total = clip(base + alpha * residual)."""

    alpha: float = 1.0
    """Residual scale, in units of the action limit (1: the residual can cancel the base's largest step)."""
    alpha_schedule: Literal["constant", "linear"] = "constant"
    """'constant' alpha, or a 'linear' warm-up from 0 over --alpha-warmup-steps."""
    alpha_warmup_steps: int = 500_000
    """Env steps of the linear alpha warm-up."""
    residual_penalty: float = 0.001
    """Weight of the L2 penalty on the applied residual, subtracted from the reward."""
    residual_apply_start: float = 1.0
    """Off-policy learners: probability of applying the residual at an exploration step at the start (1: always)."""
    residual_apply_warmup_steps: int = 100_000
    """Off-policy learners: env steps over which that probability rises linearly to 1 (evaluation always applies it)."""


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """How this invocation runs: its length, run directory, logging, evaluation and checkpoints."""

    total_steps: int = 3_000_000
    """Env steps to train for (rounded up to whole iterations). Where the algorithm's schedule
    decays to it (PPO's learning rate) --resume cannot change it; otherwise it may be raised."""
    out: str | None = None
    """Run directory: checkpoints, metrics.jsonl, summary.json, export/, wandb/.
    Default: runs/<algo>-<scene>-<base>-<date>-<time>, a new one each time."""
    resume: str | None = None
    """Continue the run in this directory (its saved config becomes the defaults)."""
    overwrite: bool = False
    """Replace an existing run in --out."""
    wandb: Literal["offline", "online", "disabled"] = "offline"
    """wandb mode; offline runs can be uploaded later with `wandb sync DIR/wandb/offline-run-*`."""
    eval_episodes: int = 256
    """Held-out episodes for the end-of-run evaluation (0: skip it)."""
    eval_seed: int = 1_000_000
    """Seed of the held-out evaluation episodes (keep it apart from --seed)."""
    eval_every: int = 0
    """Iterations between held-out evaluations during training (0: none). Each runs
    --eval-every-episodes episodes from --eval-seed, off the training clock (time/wall_s excludes it),
    and logs eval/success_rate: the curve a time to target is read from (mjx_gr00t.time_to_target)."""
    eval_every_episodes: int = 128
    """Held-out episodes of each evaluation during training (see --eval-every)."""
    checkpoint_every: int = 20
    """Iterations between checkpoints."""
    keep_checkpoints: int = 3
    """Newest checkpoints kept."""
    stop_after: int | None = None
    """Stop after this many iterations in this invocation (with a checkpoint); --resume goes on."""
    stop_after_minutes: float | None = None
    """Stop once this invocation has trained this many minutes (training clock: held-out evaluations
    left out), after the iteration that crosses it, with a checkpoint; --resume goes on."""


@dataclasses.dataclass(frozen=True)
class RunConfig(Generic[AlgoConfig]):
    """A whole training run. `algo` is the registered algorithm's own config (PPOConfig, SACConfig)."""

    algo: Annotated[AlgoConfig, Omit]
    scene: Annotated[SceneSettings, Omit] = SceneSettings()
    residual: Annotated[ResidualSettings, Omit] = ResidualSettings()
    groot: GrootSettings = GrootSettings()
    run: Annotated[RunSettings, Omit] = RunSettings()
    seed: int = 0
    """Seed of networks, envs and sampling."""

    def identity(self) -> dict[str, Any]:
        """What is trained, as JSON: everything but `run` and where GR00T runs. Resume compares it whole."""
        record = as_json(self)
        record.pop("run")
        for name in MACHINE_FIELDS:
            record["groot"].pop(name)
        return record


def as_json(config: Any) -> dict[str, Any]:
    """A frozen config as a JSON-ready dict (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(config))


def iterations(total_steps: int, steps_per_iteration: int) -> int:
    """Whole iterations that cover `total_steps`."""
    return math.ceil(total_steps / steps_per_iteration)


# ---- flat names: flags, recipes and pre-RunConfig run.json files address fields by them ----

SECTIONS: tuple[str, ...] = ("scene", "residual", "run")
GROOT_PREFIX: str = "groot_"


def flat_paths(algo_type: type) -> dict[str, tuple[str, str | None]]:
    """flat name -> (section, field) for every field of a RunConfig[algo_type]; ('seed', None) for the
    top-level seed. GR00T fields are groot_<field>."""
    paths: dict[str, tuple[str, str | None]] = {"seed": ("seed", None)}
    for section, cls in (("scene", SceneSettings), ("residual", ResidualSettings), ("run", RunSettings),
                         ("algo", algo_type)):
        for f in dataclasses.fields(cls):
            paths[f.name] = (section, f.name)
    for f in dataclasses.fields(GrootSettings):
        paths[GROOT_PREFIX + f.name] = ("groot", f.name)
    return paths


def with_flat(config: RunConfig, values: dict[str, Any], aliases: dict[str, tuple[str, ...]] | None = None,
              strict: bool = True) -> RunConfig:
    """`config` with fields set by flat name (lists become tuples). aliases: an old flat name ->
    the flat names it now sets (e.g. 'hidden' -> policy_hidden, value_hidden). strict: an unknown
    name is a KeyError; else it is dropped (a flag of another version)."""
    paths = flat_paths(type(config.algo))
    changes: dict[str, dict[str, Any]] = {}
    seed = config.seed
    for name, value in values.items():
        value = tuple(value) if isinstance(value, list) else value
        for target in (aliases or {}).get(name, (name,)):
            if target not in paths:
                if strict:
                    raise KeyError(name)
                continue
            section, field = paths[target]
            if section == "seed":
                seed = value
            else:
                changes.setdefault(section, {})[field] = value
    replaced = {s: dataclasses.replace(getattr(config, s), **c) for s, c in changes.items()}
    return dataclasses.replace(config, seed=seed, **replaced)


def from_json(config_type_default: RunConfig, record: dict[str, Any]) -> RunConfig:
    """The RunConfig saved as JSON (`as_json`) over `config_type_default` (fields saved later than the
    record was written keep the default's value; fields since removed are dropped)."""
    flat: dict[str, Any] = {"seed": record.get("seed", config_type_default.seed)}
    for section in ("scene", "residual", "run", "algo"):
        flat.update(record.get(section, {}))
    flat.update({GROOT_PREFIX + k: v for k, v in record.get("groot", {}).items()})
    return with_flat(config_type_default, flat, strict=False)
