"""benchmarks.peers, part `sb3`: Stable-Baselines3 PPO on our Gymnasium adapter against our PPO.

The task is the same for both: the residual task of `train.residual_ppo` (scene, base, DR, alpha,
residual penalty, hence the same reward), taken from the run's run.json with `--ours RUN_DIR`.
- SB3: `PPO("MlpPolicy")` with SB3's defaults except the flags below, on `make_vec_env` with
  `SubprocVecEnv` over `mjx_gr00t.gym.make_env` (one env per subprocess, C engine), trained for a
  wall-time budget. Its clock starts just before `learn()` (the first reset and the envs' compile
  in the subprocesses count; starting the subprocesses does not).
- Ours: `train.residual_ppo` run here (or read from `--ours RUN_DIR`); its clock is the run's
  `time/wall_s` (from the start of the training loop, so the train step's compile counts).

Success measure, the same for both: the training-rollout success rate (episodes that ended during
training, stochastic policy) over the last `window` completed episodes; for ours whole
iterations are added until they hold at least `window` episodes. Held-out evaluation is not used.
SB3's target is its final rate; its time is when its curve first reached it; ours is when our
curve first reached the same rate. ratio = SB3's time / ours.
"""

import collections
import os
import time
from collections.abc import Sequence
from typing import Any

Event = tuple[float, int, int]
"""(wall_s, episodes ended, successes among them)."""
CURVE_POINTS: int = 200


def windowed_success(events: Sequence[Event], window: int) -> list[tuple[float, float]]:
    """(wall_s, success rate over the trailing events holding >= `window` episodes) at every event
    with episodes, once `window` episodes have ended; [] before."""
    recent: collections.deque[tuple[int, int]] = collections.deque()
    episodes = successes = 0
    curve = []
    for t, n, s in events:
        if n <= 0:
            continue
        recent.append((n, s))
        episodes, successes = episodes + n, successes + s
        while episodes - recent[0][0] >= window:
            n0, s0 = recent.popleft()
            episodes, successes = episodes - n0, successes - s0
        if episodes >= window:
            curve.append((t, successes / episodes))
    return curve


def first_reach(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """The first wall_s where the curve is at or above `target`; None if it never is."""
    for t, rate in curve:
        if rate >= target - 1e-12:
            return t
    return None


def ours_events(metrics: Sequence[dict[str, Any]]) -> list[Event]:
    """Events from a train.residual_ppo metrics.jsonl (one record per iteration)."""
    events, last_t = [], -1.0
    for r in metrics:
        t = float(r["time/wall_s"])
        if t < last_t:
            raise ValueError("the run's time/wall_s goes backwards: a resumed run has no single clock; "
                             "pass a run trained in one go")
        last_t = t
        n = int(round(float(r.get("rollout/episodes", 0.0))))
        events.append((t, n, int(round(float(r.get("rollout/success_rate") or 0.0) * n))))
    return events


def thin(curve: Sequence[tuple[float, float]], points: int = CURVE_POINTS) -> list[list[float]]:
    """At most `points` evenly spaced points of a curve (its last point kept), for the JSON."""
    if len(curve) <= points:
        return [list(p) for p in curve]
    step = len(curve) / points
    picked = [curve[int(i * step)] for i in range(points - 1)] + [curve[-1]]
    return [list(p) for p in picked]


def sb3_env(scene: str, base: str, dr: bool, alpha: float, residual_penalty: float) -> Any:
    """One `mjx_gr00t.gym.JaxEnv` on the C engine, for an SB3 subprocess (JAX kept on the CPU there)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from mjx_gr00t.gym import make_env

    return make_env(scene, base=base, engine="c", dr=dr, alpha=alpha, residual_penalty=residual_penalty)


def train_sb3(task: dict[str, Any], num_envs: int, budget_s: float, max_steps: int | None,
              hyper: dict[str, Any], seed: int) -> tuple[list[Event], dict[str, Any]]:
    """Trains SB3 PPO on `task` ({scene, base, dr, alpha, residual_penalty}) until `budget_s` or
    `max_steps`; returns its episode events and a record."""
    import functools

    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    class SuccessClock(BaseCallback):
        """Records (wall_s, 1, success) at every episode end; stops at the time budget."""

        def __init__(self, start: float) -> None:
            super().__init__()
            self.start, self.events = start, []

        def _on_step(self) -> bool:
            now = time.perf_counter() - self.start
            for done, info in zip(self.locals["dones"], self.locals["infos"]):
                if done:
                    self.events.append((now, 1, int(info.get("success", 0.0) > 0.5)))
            return now < budget_s

    # make_vec_env wraps each env in Monitor and seeds it (seed + rank) on the first reset.
    factory = functools.partial(sb3_env, task["scene"], task["base"], task["dr"], task["alpha"],
                                task["residual_penalty"])
    vec = make_vec_env(factory, n_envs=num_envs, seed=seed, vec_env_cls=SubprocVecEnv,
                       vec_env_kwargs={"start_method": "forkserver"})
    model = PPO("MlpPolicy", vec, seed=seed, device="cpu", verbose=0,
                n_steps=hyper["n_steps"], batch_size=hyper["batch_size"],
                policy_kwargs={"log_std_init": hyper["log_std_init"]})
    start = time.perf_counter()
    clock = SuccessClock(start)
    model.learn(total_timesteps=max_steps or 10**12, callback=clock)
    wall = time.perf_counter() - start
    vec.close()
    record = {"env_steps": int(model.num_timesteps), "wall_s": wall,
              "env_steps_per_s": model.num_timesteps / wall, "episodes": len(clock.events),
              "num_envs": num_envs, "vec_env": "SubprocVecEnv", "engine": "c",
              "hyperparameters": {**_sb3_defaults(model), **hyper}}
    return clock.events, record


def _sb3_defaults(model: Any) -> dict[str, Any]:
    """The PPO settings the flags leave at SB3's defaults, read back from the model."""
    return {"learning_rate": model.learning_rate, "n_epochs": model.n_epochs, "gamma": model.gamma,
            "gae_lambda": model.gae_lambda, "clip_range": model.clip_range(1.0), "ent_coef": model.ent_coef,
            "net_arch": model.policy.net_arch, "normalize_observations": False}


def compare(sb3_events: Sequence[Event], sb3_record: dict[str, Any], ours_metrics: Sequence[dict[str, Any]],
            ours_record: dict[str, Any], window: int) -> dict[str, Any]:
    """The `sb3` part's record: both curves, SB3's final rate and times to it, and the ratios."""
    sb3_curve = windowed_success(sb3_events, window)
    ours_curve = windowed_success(ours_events(ours_metrics), window)
    last = ours_metrics[-1] if ours_metrics else {}
    ours = {**ours_record, "env_steps": int(last.get("env_steps", 0)), "wall_s": float(last.get("time/wall_s", 0.0))}
    ours["env_steps_per_s"] = ours["env_steps"] / ours["wall_s"] if ours["wall_s"] > 0 else None
    ours["final_success"] = ours_curve[-1][1] if ours_curve else None
    sb3 = {**sb3_record, "final_success": sb3_curve[-1][1] if sb3_curve else None}
    out: dict[str, Any] = {
        "success_measure": f"training-rollout success rate over the last {window} completed episodes "
                           "(stochastic policy), the same for both; no held-out evaluation",
        "window_episodes": window,
        "env_steps_per_s_ratio": (ours["env_steps_per_s"] / sb3["env_steps_per_s"]
                                  if ours["env_steps_per_s"] and sb3["env_steps_per_s"] else None),
        "target_success": sb3["final_success"], "sb3_time_to_target_s": None,
        "ours_time_to_target_s": None, "time_to_success_ratio": None, "note": "",
    }
    if sb3["final_success"] is None:
        out["note"] = f"SB3 ended fewer than {window} episodes: no final success rate"
    else:
        out["sb3_time_to_target_s"] = first_reach(sb3_curve, sb3["final_success"])
        out["ours_time_to_target_s"] = first_reach(ours_curve, sb3["final_success"])
        if out["ours_time_to_target_s"] is None:
            out["note"] = f"ours never reached SB3's final success {sb3['final_success']:.3f} in its run"
        else:
            out["time_to_success_ratio"] = out["sb3_time_to_target_s"] / out["ours_time_to_target_s"]
    sb3["curve"], ours["curve"] = thin(sb3_curve), thin(ours_curve)
    return {**out, "sb3": sb3, "ours": ours}
