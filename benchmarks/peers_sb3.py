"""benchmarks.peers, part `sb3`: seed-style Stable-Baselines3 PPO against our PPO, to a held target.

The peer runs as a user of the seed project runs it: SB3 `PPO("MlpPolicy")` on `num_envs` plain
single-process Gymnasium envs that step MuJoCo directly (`benchmarks.seed_env` on paper_card,
`benchmarks.seed_twin_env` on paper_square: same MJCF, reward, IK base and DR as our residual task,
no JAX in its step; on the twin SB3 reads the actor's observation), with the seed's hyperparameters
(n_steps 256, batch 64, lr 3e-4, 4 envs) and SB3's defaults where the seed is silent; once plain and
once inside `VecNormalize`. Its clock starts just before `learn()`.
Ours is `train.residual_ppo` with `--eval-every` (run here, or read from `--ours RUN_DIR`); its
clock is the run's `time/wall_s` (the training loop, compile included, evaluation excluded).

Success is measured the same way for both: periodic held-out evaluation (`benchmarks.heldout`, the
same episodes from the same seed, deterministic policy), off each side's training clock. Time to
target is `mjx_gr00t.time_to_target`: the headline is the first evaluation from which success stays
at or above the target for 3 evaluations; "held to the end of the run" is recorded beside it. The
target is SB3's final held-out success after its budget (its last 3 evaluations pooled) less the
evaluation noise (the low end of its 95 % interval; see `final_target`), the same for both sides.
The first crossing and a training-rollout window are recorded too, labelled, for reference.
"""

import collections
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mjx_gr00t.evaluation import wilson
from mjx_gr00t.time_to_target import held_time, ratio, time_to_target

Event = tuple[float, int, int]
"""(wall_s, episodes ended, successes among them)."""
EvalPoint = tuple[float, float, int]
"""(training wall_s, held-out success rate, env steps)."""
CURVE_POINTS: int = 200
HOLD_EVALS: int = 3
FIXED_TARGETS: tuple[float, ...] = (0.85, 0.95)
"""Our own times to these held-out successes are recorded beside the comparison with SB3's."""
"""The 'held for the next k evaluations' variant reported beside 'held to the end'."""


@dataclasses.dataclass(frozen=True)
class SB3Settings:
    """One SB3 PPO run: the seed's hyperparameters, SB3's defaults otherwise, and its budget."""

    num_envs: int = 4
    n_steps: int = 256
    batch_size: int = 64
    learning_rate: float = 3e-4
    vec_env: str = "dummy"
    normalize: bool = False
    budget_s: float = 600.0
    max_steps: int | None = None
    eval_every_s: float = 30.0
    seed: int = 0

    @property
    def name(self) -> str:
        return "seed-style SB3 PPO" + (" + VecNormalize" if self.normalize else "")


def windowed_success(events: Sequence[Event], window: int) -> list[tuple[float, float]]:
    """(wall_s, training success over the trailing events holding >= `window` episodes) at every
    event with episodes, once `window` episodes have ended. For reference only: on the paper task
    early finishers are mostly successes, so this curve starts high (see time_to_target)."""
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


def ours_curves(metrics: Sequence[dict[str, Any]]) -> tuple[list[EvalPoint], list[Event]]:
    """The held-out curve (eval/success_rate records) and training events of a train.residual_ppo
    metrics.jsonl; ValueError when the run has no held-out evaluations or its clock restarts."""
    evals, events, last_t = [], [], -1.0
    for r in metrics:
        t = float(r["time/wall_s"])
        if t < last_t:
            raise ValueError("its time/wall_s goes backwards; pass a run trained in one go")
        last_t = t
        n = int(round(float(r.get("rollout/episodes") or 0.0)))
        events.append((t, n, int(round(float(r.get("rollout/success_rate") or 0.0) * n))))
        if r.get("eval/success_rate") is not None:
            evals.append((t, float(r["eval/success_rate"]), int(r["env_steps"])))
    if not evals:
        raise ValueError("it has no held-out evaluations during training (eval/success_rate); train it "
                         "with --eval-every N, e.g. --eval-every 20")
    return evals, events


def thin(curve: Sequence[Sequence[float]], points: int = CURVE_POINTS) -> list[list[float]]:
    """At most `points` evenly spaced points of a curve (its last point kept), for the JSON."""
    if len(curve) <= points:
        return [list(p) for p in curve]
    step = len(curve) / points
    return [list(curve[int(i * step)]) for i in range(points - 1)] + [list(curve[-1])]


def train_sb3(settings: SB3Settings, evaluate: Callable[[Callable[[np.ndarray], np.ndarray]], dict[str, Any]],
              seed_config: Any = None, obs_index: Sequence[int] | None = None) -> dict[str, Any]:
    """Trains SB3 PPO on the seed-style env until its budget; `evaluate(policy)` (a HeldOutEvaluator)
    scores it every `eval_every_s` of training and at the end, off the clock. Returns its record.

    seed_config: a `seed_env.SeedConfig` (paper_card; its defaults when None) or a
    `seed_twin_base.TwinConfig` (paper_square). obs_index: the entries of the evaluator's observations
    [N, D] that the SB3 policy reads (the twin: the actor's, `spec.actor_indices`); None: all.
    ValueError when they are not as many as the seed-style env's observation has."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from benchmarks.seed_env import SeedConfig, make_seed_vec
    from benchmarks.seed_twin_base import TwinConfig
    from benchmarks.seed_twin_env import make_seed_twin_vec

    config = seed_config or SeedConfig()
    make_vec = make_seed_twin_vec if isinstance(config, TwinConfig) else make_seed_vec
    vec = make_vec(settings.num_envs, settings.seed, settings.vec_env, settings.normalize, config=config)
    size = vec.observation_space.shape[0]
    index = None if obs_index is None else np.asarray(obs_index, np.int64)
    if index is not None and len(index) != size:
        vec.close()
        raise ValueError(f"obs_index picks {len(index)} entries of the evaluator's observation, but the seed-style "
                         f"env's observation has {size}")
    model = PPO("MlpPolicy", vec, seed=settings.seed, device="cpu", verbose=0, n_steps=settings.n_steps,
                batch_size=settings.batch_size, learning_rate=settings.learning_rate)
    log_std_init = float(model.policy.log_std.detach().mean())   # SB3's default: the seed sets none

    class HeldOutClock(BaseCallback):
        """Training-episode events, held-out evaluations off the clock, and the budget."""

        def __init__(self) -> None:
            super().__init__()
            self.start = self.paused = 0.0
            self.events: list[Event] = []
            self.curve: list[EvalPoint] = []
            self.next_eval = settings.eval_every_s

        def train_s(self) -> float:
            return time.perf_counter() - self.start - self.paused

        def evaluate_now(self, at: float | None = None) -> None:
            t, t0 = self.train_s() if at is None else at, time.perf_counter()
            norm = vec.normalize_obs if settings.normalize else (lambda o: o)
            take = (lambda o: o) if index is None else (lambda o: o[:, index])
            summary = evaluate(lambda obs: model.predict(norm(take(obs)), deterministic=True)[0])
            self.curve.append((t, summary["success_rate"], int(model.num_timesteps)))
            self.paused += time.perf_counter() - t0

        def _on_step(self) -> bool:
            now = self.train_s()
            for done, info in zip(self.locals["dones"], self.locals["infos"]):
                if done:
                    self.events.append((now, 1, int(info.get("success", 0.0) > 0.5)))
            if now >= self.next_eval:
                self.evaluate_now()
                while self.next_eval <= now:
                    self.next_eval += settings.eval_every_s
            return now < settings.budget_s

    clock = HeldOutClock()
    clock.start = time.perf_counter()
    model.learn(total_timesteps=settings.max_steps or 10**12, callback=clock)
    wall = clock.train_s()
    if not clock.curve or clock.curve[-1][2] != model.num_timesteps:   # unless the budget's own just ran
        clock.evaluate_now(at=wall)
    vec.close()
    return {
        "name": settings.name, "settings": dataclasses.asdict(settings), "env_steps": int(model.num_timesteps),
        "wall_s": wall, "env_steps_per_s": model.num_timesteps / wall, "episodes": len(clock.events),
        "hyperparameters": {
            "learning_rate": model.learning_rate, "n_steps": model.n_steps, "batch_size": model.batch_size,
            "n_epochs": model.n_epochs, "gamma": model.gamma, "gae_lambda": model.gae_lambda,
            "clip_range": model.clip_range(1.0), "ent_coef": model.ent_coef, "net_arch": model.policy.net_arch,
            "log_std_init": log_std_init,
            "normalize": settings.normalize, "vec_env": settings.vec_env,
            "torch_threads": torch.get_num_threads(),
        },
        "final_success": clock.curve[-1][1], "heldout_curve": clock.curve, "events": clock.events,
    }


FINAL_EVALS: int = 3
"""SB3's final success is pooled over its last this many held-out evaluations."""


def final_target(curve: Sequence[Sequence[float]], episodes: int) -> dict[str, Any]:
    """SB3's final held-out success, pooled over its last FINAL_EVALS evaluations, and the target:
    the low end of its 95 % Wilson interval. A target at the plateau's own mean would be met, by
    evaluation noise alone, only near the end of the run; this one is met once the plateau is."""
    last = [p[1] for p in curve[-FINAL_EVALS:]]
    n = len(last) * episodes
    k = int(round(sum(last) * episodes))
    low, high = wilson(k, n)
    return {"final_success": k / n, "final_success_ci95": [low, high], "target": low,
            "pooled_evals": len(last), "pooled_episodes": n}


def _interval(curve: Sequence[Sequence[float]]) -> float | None:
    """The median time between evaluations."""
    gaps = sorted(b[0] - a[0] for a, b in zip(curve, curve[1:]))
    return gaps[len(gaps) // 2] if gaps else None


def compare(sb3_runs: Sequence[dict[str, Any]], ours_metrics: Sequence[dict[str, Any]],
            ours_record: dict[str, Any], window: int, episodes: int,
            start_success: float | None = None) -> dict[str, Any]:
    """The `sb3` part's record: every curve; per SB3 run its final held-out success (`final_target`)
    and the target; both sides' held times to that target (headline: held for HOLD_EVALS
    evaluations; also held to the end, and the first crossing for reference) and the ratios SB3 /
    ours. start_success: the base alone on the same episodes (where both start); a target at or
    below it makes the ratio a comparison of evaluation schedules, and is flagged.
    SB3 runs carry "events" (raw) or, read back from a JSON, "training_window_curve"."""
    ours_evals, ours_events = ours_curves(ours_metrics)
    ours_curve = [(t, s) for t, s, _ in ours_evals]
    last = ours_metrics[-1]
    ours = {**ours_record, "env_steps": int(last["env_steps"]), "wall_s": float(last["time/wall_s"]),
            "final_success": ours_evals[-1][1], "heldout_curve": [list(p) for p in ours_evals],
            "training_window_curve": thin(windowed_success(ours_events, window)),
            "eval_interval_s": _interval(ours_curve)}
    ours["env_steps_per_s"] = ours["env_steps"] / ours["wall_s"]
    ours["time_to_fixed_targets"] = {f"{t:.2f}": time_to_target(ours_curve, t, HOLD_EVALS) for t in FIXED_TARGETS}
    window_ours = windowed_success(ours_events, window)
    comparisons, sb3_out = [], []
    for run in sb3_runs:
        # One evaluation per policy: a JSON written before the end-of-budget evaluation was
        # skipped when the last periodic one had just scored the same weights holds it twice.
        curve = [p for i, p in enumerate(run["heldout_curve"]) if i == 0 or p[2] != run["heldout_curve"][i - 1][2]]
        run = {**run, "heldout_curve": [list(p) for p in curve]}
        sb3_curve = [(p[0], p[1]) for p in curve]
        final = final_target(curve, episodes)
        target = final["target"]
        peer, mine = time_to_target(sb3_curve, target, HOLD_EVALS), time_to_target(ours_curve, target, HOLD_EVALS)
        held_k = f"held_{HOLD_EVALS}_evals_s"
        window_sb3 = (windowed_success(run["events"], window) if "events" in run
                      else [tuple(p) for p in run["training_window_curve"]])
        comparisons.append({
            "peer": run["name"], **final, "target_success": target,
            "target_rule": f"low end of the 95 % Wilson interval of SB3's last {FINAL_EVALS} held-out evaluations pooled",
            "start_success (base alone, same episodes)": start_success,
            "target_at_or_below_start": None if start_success is None else target <= start_success,
            "peer_time_to_target": peer, "ours_time_to_target": mine,
            f"ratio_held_{HOLD_EVALS}_evals (headline)": ratio(peer[held_k], mine[held_k]),
            "ratio_held": ratio(peer["held_s"], mine["held_s"]),
            "ratio_first_crossing (not held; for reference only)": ratio(
                peer["first_crossing_s (not held; for reference only)"],
                mine["first_crossing_s (not held; for reference only)"]),
            "eval_interval_s": {"peer": _interval(sb3_curve), "ours": ours["eval_interval_s"]},
            f"training_window_{window}_held_s (for reference)": {
                "peer": held_time(window_sb3, target), "ours": held_time(window_ours, target)},
            "env_steps_per_s_ratio": ours["env_steps_per_s"] / run["env_steps_per_s"],
        })
        out = {k: v for k, v in run.items() if k != "events"}
        out["training_window_curve"] = thin(window_sb3)
        sb3_out.append(out)
    return {
        "success_measure": "held-out success (benchmarks.heldout: the same episodes and seed for both sides, "
                           "deterministic policy), evaluated periodically off each side's training clock",
        "comparisons": comparisons, "sb3": sb3_out, "ours": ours,
    }
