"""How fast the seed-style setup runs: the env's overhead over raw MuJoCo, and SB3 PPO's env steps/s.

    python -m benchmarks.seed_overhead                      # about 50 s: overhead 8 s, SB3 PPO 40 s
    python -m benchmarks.seed_overhead --sb3-seconds 0      # the overhead only

- overhead (`benchmarks.seed_env.overhead`): one process, `SeedPaperEnv` with the IK base and random
  residual actions against bare `mujoco.mj_step` on the same MjModel/MjData, in physics steps/s;
- SB3 PPO (`sb3_ppo_rate`): `PPO("MlpPolicy")` on `make_seed_vec` (DummyVecEnv by default) with SB3's
  defaults except n_steps, batch_size and learning_rate, timed over whole iterations (rollout and
  update) from the first iteration's start; env steps/s = env steps / that time.
Prints one JSON object with both and the machine. Rates depend on the load of the machine: run it
with the CPU to itself, or say that it was shared.
"""

import dataclasses
import json
import sys
import time
from typing import Any, Literal

from mjx_gr00t import cli_args

from benchmarks.seed_env import make_seed_vec, overhead


def sb3_ppo_rate(seconds: float = 40.0, num_envs: int = 4, seed: int = 0, n_steps: int = 256,
                 batch_size: int = 64, learning_rate: float = 3e-4, vec_env: str = "dummy",
                 torch_threads: int | None = None) -> dict[str, Any]:
    """SB3 PPO env steps/s on `make_seed_vec(num_envs, seed, vec_env)`, updates included: whole
    iterations of n_steps x num_envs env steps, timed until `seconds` have passed (at least one).
    torch_threads: torch's intra-op threads during the run (None: torch's default, one per core)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")

    class IterationClock(BaseCallback):
        """Marks (time, env steps) at each rollout's start, and each rollout's end time; stops at
        the first rollout that starts after the budget."""

        def __init__(self) -> None:
            super().__init__()
            self.marks: list[tuple[float, int]] = []
            self.ends: list[float] = []

        def _on_rollout_start(self) -> None:
            self.marks.append((time.perf_counter(), self.model.num_timesteps))

        def _on_rollout_end(self) -> None:
            self.ends.append(time.perf_counter())

        def _on_step(self) -> bool:
            return len(self.marks) < 2 or self.marks[-1][0] - self.marks[0][0] < seconds

    threads = torch.get_num_threads()
    if torch_threads is not None:
        if torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1, got {torch_threads}")
        torch.set_num_threads(torch_threads)
    vec = make_seed_vec(num_envs, seed, vec_env)
    try:
        model = PPO("MlpPolicy", vec, n_steps=n_steps, batch_size=batch_size, learning_rate=learning_rate,
                    seed=seed, device="cpu", verbose=0)
        clock = IterationClock()
        model.learn(total_timesteps=10**12, callback=clock)
        used = torch.get_num_threads()
    finally:
        vec.close()
        torch.set_num_threads(threads)
    (t0, s0), (t1, s1) = clock.marks[0], clock.marks[-1]
    rollout_s = sum(end - start for (start, _), end in zip(clock.marks[:-1], clock.ends))
    return {
        "env_steps_per_s": (s1 - s0) / (t1 - t0), "env_steps": s1 - s0, "wall_s": t1 - t0,
        "rollout_fraction": rollout_s / (t1 - t0),
        "iterations": len(clock.marks) - 1, "num_envs": num_envs, "vec_env": vec_env, "n_steps": n_steps,
        "batch_size": batch_size, "learning_rate": learning_rate, "n_epochs": model.n_epochs,
        "net_arch": str(model.policy.net_arch), "torch_threads": used,
    }


@dataclasses.dataclass(frozen=True)
class Args:
    """Measure the seed-style env's overhead over raw MuJoCo and SB3 PPO's env steps/s on it."""

    seconds: float = 8.0
    """Seconds of the overhead measurement (raw and env alternate within it)."""
    sb3_seconds: float = 40.0
    """Seconds of SB3 PPO training to time (0: skip)."""
    num_envs: int = 4
    """SB3: envs in the VecEnv."""
    vec_env: Literal["dummy", "subproc"] = "dummy"
    """SB3: 'dummy' (one process) or 'subproc' (one subprocess per env)."""
    seed: int = 0
    """Seed of envs, actions and PPO."""
    torch_threads: int | None = None
    """SB3: torch's intra-op threads (default: torch's own, one per core)."""
    json_out: str | None = None
    """Also write the record to this JSON file (e.g. benchmarks/results/seed_env_overhead_cpu2.json)."""


def main(args: Args) -> dict[str, Any]:
    """Runs the measurements of `args`; returns (and prints) the record."""
    if args.sb3_seconds < 0:
        raise ValueError(f"--sb3-seconds must be >= 0 (0 skips SB3), got {args.sb3_seconds}")
    record: dict[str, Any] = {"overhead": overhead(args.seconds, args.seed)}
    if args.sb3_seconds > 0:
        record["sb3_ppo"] = sb3_ppo_rate(args.sb3_seconds, args.num_envs, args.seed, vec_env=args.vec_env,
                                         torch_threads=args.torch_threads)
    from mjx_gr00t.machine import machine  # after the timing: it loads JAX, which the seed setup never does

    record["machine"] = machine()
    record["command"] = "python -m benchmarks.seed_overhead " + " ".join(sys.argv[1:])
    record["date"] = time.strftime("%Y-%m-%d %H:%M")
    text = json.dumps(record, indent=1, default=str)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text + "\n")
    return record


if __name__ == "__main__":
    try:
        main(cli_args.cli(Args))
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
