"""Residual PPO: learn a correction on top of a base policy.

    python -m train.residual_ppo                         # paper task, IK base, DR on; < 15 min on 2 cores
    python -m train.residual_ppo --base zero --out runs/plain_rl
    python -m train.residual_ppo --resume runs/plain_rl   # continue exactly where it stopped

Measured with the defaults (2-core AMD EPYC, no GPU, 256 held-out episodes): the IK base alone
succeeds in 40.6 %, IK base + residual in 85.5 % (95 % CI 80.7..89.3), after 3M env steps in 11.2
min end to end (benchmarks/results/residual_ppo_paper_square_cpu2.json).

Each iteration (rollout of `--unroll-length` steps on `--num-envs` envs + PPO update) is one jitted
call. Progress goes to a bar, DIR/metrics.jsonl and wandb (offline by default); checkpoints to
DIR/checkpoints every `--checkpoint-every` iterations, at the end, and on Ctrl-C. At the end the
base alone and base + residual are evaluated on held-out seeds (DIR/summary.json), the residual
is exported (DIR/export/) and the learning curve is drawn (DIR/learning_curve.png).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import functools
import math
from typing import Any, Literal

import jax

from mjx_gr00t import distributed
from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.export import write_export
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import ppo
from train import run_dir
from train.finish import finish_run, periodic_evaluator
from train.groot_base import groot_spec, with_groot_metrics
from train.loop import open_checkpoints, run_loop
from train.residual_env import build_residual_env, export_spec
from train.run_dir import RunFlags, args_from_record
from train.trained import PolicyFn, Trained

ALGO: str = "ppo"


@dataclasses.dataclass(frozen=True)
class Args(RunFlags):
    """Train a residual policy with PPO on top of a base policy."""

    scene: str = "paper_square"
    """Registered scene (mjx_gr00t.envs.registry.scenes())."""
    base: Literal["ik", "script", "zero", "groot"] = "ik"
    """Base policy: 'ik' scripted Jacobian-IK push (paper_square), 'script' scripted Cartesian
    controller (fetch_*), 'zero' (plain RL), 'groot' GR00T N1.5 action chunks (paper_square; needs
    --groot-model)."""
    engine: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Physics engine; 'auto' is 'c' on a CPU-only machine and 'mjx' on an accelerator."""
    num_envs: int = 256
    """Parallel envs."""
    total_steps: int = 3_000_000
    """Env steps to train for (rounded up to whole iterations of num_envs * unroll_length). Fixed for a
    run: the learning rate decays to it, so --resume cannot change it."""
    alpha: float = 1.0
    """Residual scale: total = clip(base + alpha * residual), in units of the action limit (1: the
    residual can cancel the base's largest step)."""
    alpha_schedule: Literal["constant", "linear"] = "constant"
    """'constant' alpha, or a 'linear' warm-up from 0 over --alpha-warmup-steps."""
    alpha_warmup_steps: int = 500_000
    """Env steps of the linear alpha warm-up."""
    residual_penalty: float = 0.001
    """Weight of the L2 penalty on the applied residual, subtracted from the reward."""
    dr: bool = True
    """Domain randomisation (--no-dr switches every factor off)."""
    checkpoint_every: int = 20
    """Iterations between checkpoints."""
    unroll_length: int = 16
    """Env steps per env per iteration."""
    num_minibatches: int = 8
    """Minibatches per epoch."""
    update_epochs: int = 2
    """Epochs over each rollout."""
    learning_rate: float = 6e-4
    """Adam learning rate."""
    lr_schedule: Literal["constant", "linear"] = "linear"
    """Learning-rate schedule: 'linear' decays to 0 at --total-steps."""
    entropy_coef: float = 0.0
    """Entropy bonus weight."""
    init_log_std: float = -1.6
    """Initial log std of the residual's exploration noise (e^-1.6 = 0.2 of the residual range)."""
    gamma: float = 0.98
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_eps: float = 0.2
    """PPO ratio clip."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the policy and critic MLPs."""

    def ppo_config(self) -> ppo.PPOConfig:
        """The PPOConfig these flags describe."""
        return ppo.PPOConfig(
            num_envs=self.num_envs, unroll_length=self.unroll_length,
            num_minibatches=self.num_minibatches, update_epochs=self.update_epochs,
            learning_rate=self.learning_rate, lr_schedule=self.lr_schedule,
            total_iterations=self.total_iterations, gamma=self.gamma, gae_lambda=self.gae_lambda,
            clip_eps=self.clip_eps, entropy_coef=self.entropy_coef, policy_hidden=self.hidden,
            value_hidden=self.hidden, init_log_std=self.init_log_std,
        )

    @property
    def total_iterations(self) -> int:
        """Iterations needed for --total-steps."""
        return math.ceil(self.total_steps / (self.num_envs * self.unroll_length))

    def alpha_fn(self) -> AlphaSchedule:
        """The alpha schedule these flags describe."""
        return AlphaSchedule(alpha=self.alpha, schedule=self.alpha_schedule,
                             warmup_steps=self.alpha_warmup_steps)


def validate(args: Args) -> None:
    """Raises run_dir.UsageError for flags that cannot work, saying what to change."""
    fail = run_dir.UsageError
    if args.alpha < 0:
        raise fail(f"--alpha must be >= 0, got {args.alpha}")
    if args.num_envs < 1:
        raise fail(f"--num-envs must be >= 1, got {args.num_envs}")
    one = args.num_envs * args.unroll_length
    if args.total_steps < one:
        raise fail(f"--total-steps {args.total_steps} is smaller than one iteration "
                   f"(--num-envs {args.num_envs} x --unroll-length {args.unroll_length} = {one})")
    if args.residual_penalty < 0:
        raise fail(f"--residual-penalty must be >= 0, got {args.residual_penalty}")
    run_dir.validate_run_flags(args)
    groot_spec(args)
    try:
        args.ppo_config()
        args.alpha_fn()
    except ValueError as e:
        raise fail(str(e)) from e


def build(args: Args) -> tuple[EpisodeEnv, ppo.PPOConfig]:
    """The residual env and PPO config of `args`."""
    env = build_residual_env(args.scene, args.base, args.engine, args.num_envs, args.dr, args.residual_penalty,
                             groot=groot_spec(args))
    return env, args.ppo_config()


def train(args: Args) -> dict[str, Any]:
    """Runs (or resumes) training, then evaluates and exports. Returns the summary record."""
    validate(args)
    out = args.resume or args.out or run_dir.default_out(ALGO, args.scene, args.base)
    args = dataclasses.replace(args, out=out)
    saved_args = run_dir.args_dict(args)
    env, config = build(args)  # before the run dir is written: a bad --groot-model writes nothing
    run_dir.prepare_out(out, ALGO, saved_args, resume=bool(args.resume), overwrite=args.overwrite)
    train_step = with_groot_metrics(ppo.make_train_step(config, env, alpha_fn=args.alpha_fn()), env,
                                    config.batch_size)

    state = ppo.init(config, env, jax.random.PRNGKey(args.seed))
    ckpt, state = open_checkpoints(out, ALGO, args, saved_args, state, args.total_iterations)
    print(f"{args.scene}: base {args.base}, engine {env.task.task.engine_name}, {args.num_envs} envs, "
          f"{config.batch_size:,} steps/iteration, {args.total_iterations} iterations; run dir {out}")
    alpha_fn = args.alpha_fn()
    evaluate = periodic_evaluator(env, residual_policy(config), lambda s: (s.policy_params, s.normalizer),
                                  lambda s: float(alpha_fn(s.env_steps)), args.eval_every_episodes, args.eval_seed)
    result = run_loop(ALGO, args, ckpt, state, train_step, config.batch_size,
                      args.total_iterations, evaluate=evaluate)
    if not result.finished:
        return {}
    state = result.state
    params, normalizer = state.policy_params, state.normalizer
    return finish_run(
        out, env, args, policy_fn=residual_policy(config), params=(params, normalizer),
        export=lambda d: export_ppo(d, args, env, params, normalizer), result=result,
    )


@functools.lru_cache(maxsize=16)
def residual_policy(config: ppo.PPOConfig) -> PolicyFn:
    """Deterministic residual `((policy_params, normalizer), obs [N, D]) -> r [N, A]` in [-1, 1]."""
    act = ppo.make_policy(config, deterministic=True)
    return lambda params, obs: act(params[0], params[1], obs, None)


def export_ppo(out_dir: str, args: Args, env: EpisodeEnv, params: Any, normalizer: Any) -> None:
    """Writes the residual policy of a PPO run to `out_dir` (see mjx_gr00t.export)."""
    config = args.ppo_config()
    spec = export_spec(args, env, ALGO, config.policy_hidden, config.activation, config.normalize_obs,
                       config.obs_clip)
    write_export(out_dir, params, normalizer, spec)


def restore_trained(run: str, record: dict[str, Any]) -> Trained:
    """The latest checkpoint of PPO run `run` (its run.json `record`) as a `Trained` policy."""
    args = args_from_record(Args, record)
    env, config = build(args)
    target = ppo.init(config, env, jax.random.PRNGKey(args.seed))
    with Checkpointer(f"{run}/checkpoints", config=None, read_only=True) as ckpt:
        if ckpt.latest_step() is None:
            raise run_dir.UsageError(f"run {run!r} has no complete checkpoint yet")
        state = ckpt.restore(target)
    params, normalizer = state.policy_params, state.normalizer
    return Trained(
        args=args, env=env, policy_fn=residual_policy(config), params=(params, normalizer),
        export=lambda d: export_ppo(d, args, env, params, normalizer), env_steps=int(state.env_steps),
    )


def parse(argv: list[str] | None = None) -> Args:
    """Typed CLI; with --resume DIR the saved run's flags are the defaults."""
    return run_dir.parse_args(Args, argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m train.residual_ppo`. Joins a several-host run first when
    JAX_COORDINATOR_ADDRESS is set (see mjx_gr00t.distributed)."""
    distributed.initialize()
    return train(parse(argv))


if __name__ == "__main__":
    main()
