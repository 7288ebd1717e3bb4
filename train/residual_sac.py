"""Residual SAC (with hindsight relabelling on goal-conditioned scenes) on top of a base policy.

    python -m train.residual_sac                                  # fetch_push, zero base, SAC + HER
    python -m train.residual_sac --scene fetch_pick_place --base script
    python -m train.residual_sac --scene paper_square --base ik --no-her
    python -m train.residual_sac --resume runs/<dir>                # continue exactly
    python -m train.residual_sac --resume runs/<dir> --total-steps 2000000   # train a run further

Measured (2-core AMD EPYC, no GPU, DR on, 256 held-out episodes; where other jobs shared the CPU
the times are upper bounds): the defaults (fetch_push, zero base, SAC + HER, 640k env steps) reach
98.0 % success in 33.4 min (shared); fetch_pick_place with the scripted base (98.0 % alone) and a
residual (`--alpha 0.5 --residual-apply-start 0.5 --warmup-steps 5000 --total-steps 150000`)
99.2 % in 6.4 min (alone); fetch_pick_place from scratch (`--base zero --total-steps 2000000
--buffer-capacity 1000000`) 100.0 % (98.5..100) in 132 min, 75.8 % at 1.5M steps
(benchmarks/results/residual_sac_fetch_cpu2.json).

The same CLI shape and outputs as `train.residual_ppo`: progress bar, DIR/metrics.jsonl, wandb
(offline by default), orbax checkpoints (the replay buffer included, so resume is exact), and at
the end the held-out evaluation (DIR/summary.json), the export and the learning curve. Each
iteration (`--steps-per-iteration` steps on every env + `--utd-ratio` updates per env step) is one
jitted call. The replay buffer has an explicit `--buffer-capacity`; its memory is printed at
start-up and refused if the machine does not have it. With HER and the scripted base, which reads
the goal, relabelled transitions get the base action recomputed for their hindsight goal (the
buffer then also stores what the script reads of each state: 2 x 16 floats per transition).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import functools
import math
from typing import Any, Literal

import jax

from mjx_gr00t import distributed, export
from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import her, sac
from train import run_dir
from train.finish import finish_run, periodic_evaluator
from train.groot_base import groot_spec, with_groot_metrics
from train.loop import open_checkpoints, run_loop
from train.residual_env import build_residual_env, export_spec
from train.run_dir import RunFlags, args_from_record
from train.trained import PolicyFn, Trained

ALGO: str = "sac"


@dataclasses.dataclass(frozen=True)
class Args(RunFlags):
    """Train a residual policy with SAC (+ HER) on top of a base policy."""

    scene: str = "fetch_push"
    """Registered scene (mjx_gr00t.envs.registry.scenes())."""
    base: Literal["ik", "script", "zero", "groot"] = "zero"
    """Base policy: 'zero' (plain RL), 'script' (Fetch-like scripted controller), 'ik' (paper task),
    'groot' GR00T N1.5 action chunks (paper task; needs --groot-model)."""
    her: bool = True
    """Hindsight relabelling with the 'future' strategy (--no-her to switch off); needs goals."""
    her_k: int = 4
    """Relabelled goals per real one: a fraction k/(k+1) of sampled transitions is relabelled."""
    engine: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Physics engine; 'auto' is 'c' on a CPU-only machine and 'mjx' on an accelerator."""
    num_envs: int = 32
    """Parallel envs."""
    total_steps: int = 640_000
    """Env steps to train for (rounded up to whole iterations). May be raised on --resume to train a
    run further: it sets nothing but the iteration count, so the result is the longer run's."""
    alpha: float = 1.0
    """Residual scale: total = clip(base + alpha * residual), in units of the action limit."""
    residual_apply_start: float = 1.0
    """Probability of applying the residual at an exploration step at the start (1: always)."""
    residual_apply_warmup_steps: int = 100_000
    """Env steps over which that probability rises linearly to 1 (evaluation always applies it)."""
    residual_penalty: float = 0.001
    """Weight of the L2 penalty on the applied residual, subtracted from the reward."""
    dr: bool = True
    """Domain randomisation (--no-dr switches every factor off)."""
    obj_range: float | None = None
    """Fetch-like scenes: half-width of the object's start square around the gripper, m (scene default)."""
    target_range: float | None = None
    """Fetch-like scenes: half-width of the goal's square around the gripper, m (scene default)."""
    checkpoint_every: int = 100
    """Iterations between checkpoints (each holds the replay buffer)."""
    keep_checkpoints: int = 2
    """Newest checkpoints kept."""
    steps_per_iteration: int = 8
    """Env steps per env per iteration."""
    utd_ratio: float = 0.25
    """Gradient updates per env step collected (over all envs)."""
    batch_size: int = 256
    """Minibatch size of each update."""
    buffer_capacity: int = 400_000
    """Replay buffer size in transitions (never sized from --total-steps)."""
    learning_rate: float = 3e-4
    """Adam learning rate of actor, critics and temperature."""
    gamma: float = 0.98
    """Discount."""
    tau: float = 0.005
    """Polyak averaging rate of the target critics."""
    warmup_steps: int = 10_000
    """Env steps of uniform-random actions before learning starts."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the actor and critic MLPs."""

    @property
    def steps_per_call(self) -> int:
        """Env steps per iteration."""
        return self.num_envs * self.steps_per_iteration

    @property
    def total_iterations(self) -> int:
        """Iterations needed for --total-steps."""
        return math.ceil(self.total_steps / self.steps_per_call)

    def sac_config(self) -> sac.SACConfig:
        """The SACConfig these flags describe."""
        return sac.SACConfig(
            num_envs=self.num_envs, steps_per_iteration=self.steps_per_iteration, utd_ratio=self.utd_ratio,
            batch_size=self.batch_size, buffer_capacity=self.buffer_capacity,
            actor_learning_rate=self.learning_rate, critic_learning_rate=self.learning_rate,
            alpha_learning_rate=self.learning_rate, gamma=self.gamma, tau=self.tau,
            actor_hidden=self.hidden, critic_hidden=self.hidden, warmup_steps=self.warmup_steps,
            her=self.her, her_k=self.her_k,
        )

    def alpha_fn(self) -> AlphaSchedule:
        """The (constant) residual scale."""
        return AlphaSchedule(alpha=self.alpha)

    def apply_prob_fn(self) -> AlphaSchedule:
        """How often exploration applies the residual: a linear ramp to 1."""
        return AlphaSchedule(alpha=1.0, schedule="linear", alpha_start=self.residual_apply_start,
                             warmup_steps=self.residual_apply_warmup_steps)


def validate(args: Args) -> None:
    """Raises run_dir.UsageError for flags that cannot work, saying what to change."""
    fail = run_dir.UsageError
    if args.alpha < 0:
        raise fail(f"--alpha must be >= 0, got {args.alpha}")
    if not 0.0 <= args.residual_apply_start <= 1.0:
        raise fail(f"--residual-apply-start must be in [0, 1], got {args.residual_apply_start}")
    if args.num_envs < 1 or args.steps_per_iteration < 1:
        raise fail(f"--num-envs and --steps-per-iteration must be >= 1, got {args.num_envs}, {args.steps_per_iteration}")
    if args.total_steps < args.steps_per_call:
        raise fail(f"--total-steps {args.total_steps} is smaller than one iteration "
                   f"(--num-envs {args.num_envs} x --steps-per-iteration {args.steps_per_iteration} = {args.steps_per_call})")
    if args.residual_penalty < 0:
        raise fail(f"--residual-penalty must be >= 0, got {args.residual_penalty}")
    run_dir.validate_run_flags(args)
    groot_spec(args)
    try:
        args.sac_config()
        args.alpha_fn()
        args.apply_prob_fn()
    except ValueError as e:
        raise fail(str(e)) from e


def build(args: Args) -> tuple[EpisodeEnv, sac.SACConfig]:
    """The residual env and SAC config of `args`; clear errors for HER without goals."""
    extra = (("obj_range", args.obj_range), ("target_range", args.target_range))
    env = build_residual_env(args.scene, args.base, args.engine, args.num_envs, args.dr, args.residual_penalty,
                             extra, groot=groot_spec(args))
    if args.her:
        try:
            her.goal_spec(env)
        except ValueError as e:
            raise run_dir.UsageError(f"--her on scene {args.scene!r}: {e}") from e
    return env, args.sac_config()


def init_state(args: Args, env: EpisodeEnv, config: sac.SACConfig) -> Any:
    """A fresh TrainState; the buffer's memory is checked first (UsageError if it does not fit)."""
    try:
        return sac.init(config, env, jax.random.PRNGKey(args.seed))
    except ValueError as e:
        raise run_dir.UsageError(f"{e} (--buffer-capacity)") from e


def train(args: Args) -> dict[str, Any]:
    """Runs (or resumes) training, then evaluates and exports. Returns the summary record."""
    validate(args)
    out = args.resume or args.out or run_dir.default_out(ALGO, args.scene, args.base)
    args = dataclasses.replace(args, out=out)
    saved_args = run_dir.args_dict(args)
    env, config = build(args)
    need = sac.buffer_memory_bytes(config, env)
    state = init_state(args, env, config)
    run_dir.prepare_out(out, ALGO, saved_args, resume=bool(args.resume), overwrite=args.overwrite)
    train_step = sac.make_train_step(config, env, alpha_fn=args.alpha_fn(), apply_prob_fn=args.apply_prob_fn(),
                                     donate=False)
    train_step = with_groot_metrics(train_step, env, args.steps_per_call)
    ckpt, state = open_checkpoints(out, ALGO, args, saved_args, state, args.total_iterations,
                                   may_extend=("total_steps",))
    her_text = "off"
    if args.her:
        her_text = "on" if sac.goal_rebase(config, env) is None else "on (base recomputed for hindsight goals)"
    print(f"{args.scene}: base {args.base}, HER {her_text}, engine "
          f"{env.task.task.engine_name}, {args.num_envs} envs, {args.steps_per_call:,} steps and "
          f"{config.updates_per_iteration} updates per iteration, {args.total_iterations} iterations; "
          f"replay buffer {args.buffer_capacity:,} transitions = {need / 2**20:,.1f} MiB; run dir {out}")
    evaluate = periodic_evaluator(env, residual_policy(config),
                                  lambda s: (s.learner.actor_params, s.normalizer), lambda s: args.alpha,
                                  args.eval_every_episodes, args.eval_seed)
    result = run_loop(ALGO, args, ckpt, state, train_step, args.steps_per_call,
                      args.total_iterations, evaluate=evaluate)
    if not result.finished:
        return {}
    state = result.state
    params = (state.learner.actor_params, state.normalizer)
    return finish_run(
        out, env, args, policy_fn=residual_policy(config), params=params,
        export=lambda d: export_sac(d, args, env, config, *params), result=result,
    )


@functools.lru_cache(maxsize=16)
def residual_policy(config: sac.SACConfig) -> PolicyFn:
    """Deterministic residual `((actor_params, normalizer), obs [N, D]) -> tanh(mean) [N, A]`."""
    act = sac.make_policy(config, deterministic=True)
    return lambda params, obs: act(params[0], params[1], obs)


def export_sac(out_dir: str, args: Args, env: EpisodeEnv, config: sac.SACConfig, actor_params: Any,
               normalizer: Any) -> None:
    """Writes the residual actor of a SAC run to `out_dir` (tanh-squashed mean; see mjx_gr00t.export)."""
    spec = export_spec(args, env, ALGO, config.actor_hidden, config.activation, config.normalize_obs,
                       config.obs_clip, squash="tanh")
    export.write_export(out_dir, export.sac_actor_as_mean_params(actor_params, env.action_size), normalizer, spec)


def restore_trained(run: str, record: dict[str, Any]) -> Trained:
    """The latest checkpoint of SAC run `run` (its run.json `record`) as a `Trained` policy."""
    args = args_from_record(Args, record)
    env, config = build(args)
    target = init_state(args, env, config)
    with Checkpointer(f"{run}/checkpoints", config=None, read_only=True) as ckpt:
        if ckpt.latest_step() is None:
            raise run_dir.UsageError(f"run {run!r} has no complete checkpoint yet")
        state = ckpt.restore(target)
    params = (state.learner.actor_params, state.normalizer)
    return Trained(
        args=args, env=env, policy_fn=residual_policy(config), params=params,
        export=lambda d: export_sac(d, args, env, config, *params), env_steps=int(state.env_steps),
    )


def parse(argv: list[str] | None = None) -> Args:
    """Typed CLI; with --resume DIR the saved run's flags are the defaults."""
    return run_dir.parse_args(Args, argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m train.residual_sac`. Joins a several-host run first when
    JAX_COORDINATOR_ADDRESS is set (see mjx_gr00t.distributed)."""
    distributed.initialize()
    return train(parse(argv))


if __name__ == "__main__":
    main()
