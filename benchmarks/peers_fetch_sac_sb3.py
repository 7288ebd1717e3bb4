"""The SB3 side of `benchmarks.peers_fetch_sac` (see its docstring), run in a child `python -O` process
(gymnasium-robotics 1.4.2 needs -O under mujoco 3.17; see `benchmarks.peers_fetch`):

    python -O -m benchmarks.peers_fetch_sac_sb3 SETTINGS_JSON    # prints the record as one JSON line

SETTINGS_JSON: `dataclasses.asdict` of a `FetchSacSettings`. Loads none of our JAX stack.
"""

import importlib.metadata
import json
import sys
import time
from typing import Any

from benchmarks.peers_fetch import PEER_ID, make_peer_env
from benchmarks.peers_fetch_sac import FetchSacSettings
from mjx_gr00t.time_to_target import held_time

# Hyperparameters: rl-baselines3-zoo hyperparams/tqc.yml (commit 22e3ff24, 2026-04-23), where
# FetchPickAndPlace-v1 takes the `her-defaults` of FetchPush-v1: MultiInputPolicy, HerReplayBuffer
# (goal_selection_strategy 'future', n_sampled_goal 4), buffer_size 1e6, batch_size 2048, gamma 0.95,
# learning_rate 1e-3, tau 0.05, net_arch [512, 512, 512], n_critics 2, n_timesteps 1e6. That is the
# zoo's only FetchPickAndPlace entry; it is for TQC (sb3-contrib), and every one of its keys is also
# a SAC argument. hyperparams/sac.yml has HER settings for FetchReach only; SB3's
# docs/modules/her.md points to the zoo and gives no Fetch values. Everything not listed keeps SB3
# SAC's defaults (learning_starts 100, train_freq 1, gradient_steps 1, ent_coef 'auto').
SB3_HYPERPARAMETERS_SOURCE: str = (
    "rl-baselines3-zoo hyperparams/tqc.yml, FetchPickAndPlace-v1: <<: *her-defaults (commit 22e3ff24, "
    "2026-04-23); the zoo's only FetchPickAndPlace entry is for TQC (sb3-contrib), whose entries are "
    "SAC's own hyperparameters; everything else SB3 SAC's defaults")


def sb3_hyperparameters(s: FetchSacSettings) -> dict[str, Any]:
    """The SAC(...) keyword arguments besides policy, env and replay_buffer_class (see the source above)."""
    return {
        "buffer_size": s.sb3_buffer_size, "batch_size": s.sb3_batch_size, "gamma": s.sb3_gamma,
        "learning_rate": s.sb3_learning_rate, "tau": s.sb3_tau, "learning_starts": s.sb3_learning_starts,
        "policy_kwargs": {"net_arch": list(s.sb3_net_arch), "n_critics": 2},
        "replay_buffer_kwargs": {"n_sampled_goal": s.sb3_n_sampled_goal, "goal_selection_strategy": "future"},
    }


def evaluate_sb3(model: Any, env: Any, episodes: int, seed: int) -> float:
    """Success rate of `model`'s deterministic policy over `episodes` episodes of `env`, reset with
    seeds seed + i; success is info['is_success'] at the episode's last step."""
    successes = 0
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, info = False, {}
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        successes += int(float(info["is_success"]) > 0.5)
    return successes / episodes


def sb3_side(s: FetchSacSettings) -> dict[str, Any]:
    """Trains SB3 SAC + HER on PEER_ID within the budgets; its record, with the held-out curve."""
    import torch
    from stable_baselines3 import SAC, HerReplayBuffer
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if s.sb3_torch_threads:
        torch.set_num_threads(s.sb3_torch_threads)
    budget_s = s.minutes * 60
    eval_env = make_peer_env()
    many = s.sb3_num_envs > 1
    env = make_vec_env(make_peer_env, n_envs=s.sb3_num_envs, seed=s.seed,
                       vec_env_cls=SubprocVecEnv if many else DummyVecEnv,
                       vec_env_kwargs={"start_method": "spawn"} if many else None)
    hyper = sb3_hyperparameters(s)
    model = SAC("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer, seed=s.seed, device="cpu",
                verbose=0, **hyper)

    class HeldOutClock(BaseCallback):
        """Evaluates every sb3_eval_every_s seconds of training, off the clock; stops at the budgets."""

        def __init__(self) -> None:
            super().__init__()
            self.start, self.eval_s, self.next_eval = time.perf_counter(), 0.0, s.sb3_eval_every_s
            self.curve: list[tuple[float, float]] = []
            self.stopped_by = "steps"

        def training_s(self) -> float:
            return time.perf_counter() - self.start - self.eval_s

        def evaluate(self, t: float) -> None:
            t0 = time.perf_counter()
            rate = evaluate_sb3(self.model, eval_env, s.eval_episodes, s.eval_seed)
            self.eval_s += time.perf_counter() - t0
            self.curve.append((t, rate))
            print(f"sb3: {t:.0f} s, {self.num_timesteps:,} steps: held-out success {rate:.1%}", file=sys.stderr,
                  flush=True)

        def _on_step(self) -> bool:
            t = self.training_s()
            if t >= self.next_eval or t >= budget_s:
                self.evaluate(t)
                self.next_eval = t + s.sb3_eval_every_s
                if s.stop_when_held and held_time(self.curve, s.target, s.hold) is not None:
                    self.stopped_by = "held"
                    return False
            if t >= budget_s:
                self.stopped_by = "time"
                return False
            return True

    clock = HeldOutClock()
    clock.start = time.perf_counter()
    model.learn(total_timesteps=s.sb3_max_steps, callback=clock)
    wall = clock.training_s()
    if clock.stopped_by == "steps":
        clock.evaluate(wall)  # the final policy
    env.close()
    eval_env.close()
    steps = int(model.num_timesteps)
    return {
        "env": PEER_ID, "algo": "SB3 SAC + HerReplayBuffer, MultiInputPolicy", "num_envs": s.sb3_num_envs,
        "hyperparameters": hyper, "hyperparameters_source": SB3_HYPERPARAMETERS_SOURCE,
        "stable_baselines3": importlib.metadata.version("stable-baselines3"),
        "gymnasium_robotics": importlib.metadata.version("gymnasium-robotics"),
        "torch_threads": torch.get_num_threads(), "python_flags": "-O",
        "curve": [list(p) for p in clock.curve], "env_steps": steps, "wall_s": wall,
        "eval_wall_s": clock.eval_s, "stopped_by": clock.stopped_by, "env_steps_per_s": steps / max(wall, 1e-9),
    }


if __name__ == "__main__":
    saved = json.loads(sys.argv[1])
    settings = FetchSacSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    print(json.dumps(sb3_side(settings)))
